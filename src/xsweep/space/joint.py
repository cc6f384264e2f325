"""Joint draws: correlated blocks of fields, and quasi-random designs over all fields.

A correlated block ``("Sat.X", ..., "Sat.VZ"): ("mvnormal", mean, cov)`` is
drawn as ``mean + L z``: ``z`` holds one standard normal per member, each from
that member's own stream (see ``_draws``), and ``L`` factors ``cov``. So
adding samples keeps the first ones bit-equal (every stream is
prefix-stable), and a field added elsewhere never changes the block.

A quasi-random design (:func:`xsweep.qmc`) draws one low-discrepancy point
set over all its fields with ``scipy.stats.qmc`` (Sobol and Halton are
prefix-stable: ``n + m`` points begin with the ``n``; Latin hypercube is
drawn one block per extension, as ``latin_hypercube``), and maps each
field's column through its distribution, or a block's columns through the
standard normal and then ``L``.

Each field's recipe (``xsweep_draw``) carries its block (``joint``) and its
design (``qmc``), so every field redraws on its own, bit for bit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xsweep.core.errors import SpaceError
from xsweep.space.draws import open_unit, recipe_distribution, uniforms
from xsweep.space.gmat_sweep import METHOD, gmat_sweep_draws

QMC_ENGINES = ("sobol", "halton", "lhs")
FRAME_ATTR = "xsweep_frame"  # a block's provenance (xsweep.state_block), kept in its recipe
STANDARD_NORMAL = {"name": "normal", "params": [0.0, 1.0]}
# An eigenvalue below -_PSD_TOL * the largest is negative, not rounding.
_PSD_TOL = 1e-10


def check_block(fields: tuple[str, ...], spec: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``("mvnormal", mean, cov)`` for ``fields``; return mean and cov as arrays.

    ``cov`` may be an :class:`xarray.DataArray` whose two dims are labelled
    with the fields (in any order); it is reordered to ``fields``.
    """
    name = "(" + ", ".join(fields) + ")"
    if len(set(fields)) != len(fields) or len(fields) < 2:
        raise SpaceError(f"{name}: a correlated block needs two or more distinct fields")
    if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) != 3:
        raise SpaceError(f"{name}: expected ('mvnormal', mean, cov), got {spec!r}")
    kind, mean, cov = spec
    if kind != "mvnormal":
        raise SpaceError(f"{name}: a block of fields takes 'mvnormal', got {kind!r}")
    cov = _labelled(name, fields, cov)
    try:
        mean = np.asarray(mean, dtype=np.float64)
        cov = np.asarray(cov, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpaceError(f"{name}: mean and cov must be numbers ({exc})") from None
    k = len(fields)
    if mean.shape != (k,):
        raise SpaceError(f"{name}: mean has shape {mean.shape}, expected ({k},)")
    if cov.shape != (k, k):
        raise SpaceError(f"{name}: cov has shape {cov.shape}, expected ({k}, {k})")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise SpaceError(f"{name}: mean and cov must be finite")
    scale = float(np.max(np.abs(cov))) or 1.0
    asym = float(np.max(np.abs(cov - cov.T)))
    if asym > 1e-12 * scale:
        i, j = np.unravel_index(int(np.argmax(np.abs(cov - cov.T))), cov.shape)
        raise SpaceError(
            f"{name}: cov is not symmetric: cov[{i}, {j}] = {float(cov[i, j])!r} but "
            f"cov[{j}, {i}] = {float(cov[j, i])!r}"
        )
    eig = np.linalg.eigvalsh(cov)
    if eig[0] < -_PSD_TOL * max(float(eig[-1]), scale):
        raise SpaceError(
            f"{name}: cov is not positive semi-definite: eigenvalue {float(eig[0])!r} (the largest "
            f"is {float(eig[-1])!r})"
        )
    return mean, cov


def _labelled(name: str, fields: tuple[str, ...], cov: Any) -> Any:
    """Reorder a DataArray ``cov`` labelled by field names to ``fields``; check its labels."""
    dims = getattr(cov, "dims", None)
    if dims is None:
        return cov
    if len(dims) != 2:
        raise SpaceError(f"{name}: a labelled cov needs two dims, got {dims}")
    labels = [list(map(str, cov[d].values)) if d in cov.coords else None for d in dims]
    for dim, got in zip(dims, labels, strict=True):
        if got is None or sorted(got) != sorted(fields):
            raise SpaceError(
                f"{name}: cov's dim {dim!r} is labelled {got}; it must name the block's "
                f"fields {list(fields)}"
            )
    return cov.sel({dims[0]: list(fields), dims[1]: list(fields)}).values


def factor(cov: np.ndarray) -> np.ndarray:
    """Return ``L`` with ``L @ L.T == cov``: Cholesky, or from ``eigh`` if ``cov`` is singular."""
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:  # positive semi-definite but singular
        w, v = np.linalg.eigh(cov)
        return np.asarray(v * np.sqrt(np.clip(w, 0.0, None)), dtype=np.float64)


def qmc_uniforms(
    engine: str, entropy: int, fields: Sequence[str], blocks: Sequence[int], scramble: bool
) -> np.ndarray:
    """Return a design's ``(sum(blocks), len(fields))`` uniforms (open interval)."""
    from scipy.stats import qmc

    d = len(fields)
    key = hashlib.sha256(("qmc:" + "\x1f".join(fields)).encode()).digest()
    words = tuple(int.from_bytes(key[i : i + 4], "little") for i in range(0, 16, 4))

    def rng(block: int = 0) -> np.random.Generator:
        seq = np.random.SeedSequence(entropy, spawn_key=(*words, block))
        return np.random.Generator(np.random.PCG64(seq))

    total = int(sum(blocks))
    if engine == "sobol":
        points = qmc.Sobol(d, scramble=scramble, rng=rng()).random(total)
    elif engine == "halton":
        points = qmc.Halton(d, scramble=scramble, rng=rng()).random(total)
    elif engine == "lhs":
        parts = [
            qmc.LatinHypercube(d, scramble=scramble, rng=rng(i)).random(int(size))
            for i, size in enumerate(blocks)
        ]
        points = np.concatenate(parts)
    else:
        raise SpaceError(f"unknown quasi-random method {engine!r}; expected one of {QMC_ENGINES}")
    return open_unit(points)


def unit_values(name: str, recipe: Mapping[str, Any], cache: dict[Any, np.ndarray]) -> np.ndarray:
    """Return one field's uniforms: its own stream, or its column of the design."""
    blocks = [int(b) for b in recipe["blocks"]]
    entropy = int(recipe["entropy"])
    design = recipe.get("qmc")
    if design is None:
        return uniforms(recipe["method"], entropy, name, blocks)
    fields = list(design["fields"])
    key = ("qmc", design["engine"], entropy, tuple(fields), tuple(blocks), design["scramble"])
    if key not in cache:
        cache[key] = qmc_uniforms(design["engine"], entropy, fields, blocks, design["scramble"])
    return cache[key][:, fields.index(name)]


def draw_field(
    name: str, recipe: Mapping[str, Any], cache: dict[Any, np.ndarray] | None = None
) -> np.ndarray:
    """Draw a random field's values from its recipe (its block's, if it is in one)."""
    from scipy.stats import norm

    cache = {} if cache is None else cache
    joint = recipe.get("joint")
    if recipe["method"] == METHOD:  # imported from gmat-sweep: its own per-run draws
        dist = recipe_distribution(name, recipe["dist"])
        total = int(sum(int(b) for b in recipe["blocks"]))
        values = gmat_sweep_draws(int(recipe["entropy"]), name, dist, total)
    elif joint is None:
        dist = recipe_distribution(name, recipe["dist"])
        values = dist.ppf(unit_values(name, recipe, cache))
    else:
        members = [str(f) for f in joint["fields"]]
        key = ("joint", tuple(members), recipe.get("entropy"), tuple(recipe["blocks"]),
               str(recipe.get("qmc")))  # fmt: skip
        if key not in cache:
            z = np.stack([norm.ppf(unit_values(m, recipe, cache)) for m in members], axis=1)
            mean = np.asarray(joint["mean"], dtype=np.float64)
            cov = np.asarray(joint["cov"], dtype=np.float64)
            cache[key] = mean + z @ factor(cov).T
        values = cache[key][:, members.index(name)]
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise SpaceError(f"{name}: the distribution produced non-finite values")
    return values


def recipe_text(recipe: Mapping[str, Any]) -> str:
    """Serialise a random field's recipe as ``xsweep_draw`` holds it (entropy as a string)."""
    import json

    return json.dumps({**recipe, "entropy": str(recipe["entropy"])}, sort_keys=True)
