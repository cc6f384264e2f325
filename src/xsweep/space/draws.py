"""Seeded random draws for Monte Carlo and Latin hypercube spaces.

Every field gets its own stream: a :class:`numpy.random.SeedSequence` built
from the sweep's entropy and a spawn key derived from the field *name*
(SHA-256), so adding a field never changes another field's draws. Values are
drawn by inverse-CDF sampling (``dist.ppf(u)``) from uniforms that are a pure
prefix of the stream, so drawing n + m values keeps the first n bit-equal.

Latin hypercube columns are drawn per field too (each column is an
independent 1-D Latin hypercube: ``scipy.stats.qmc.LatinHypercube(d=1)``),
one block per draw: an extension by m samples adds a new Latin hypercube of
size m with its own strata, leaving the first block untouched.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from xsweep.core.errors import SpaceError

Method = Literal["monte_carlo", "latin_hypercube"]
_NAMED = ("normal", "uniform", "lognormal")


class Nominal:
    """The value a field has in the script: ``("normal", xs.nominal, 5.0)``.

    A design given ``script=`` reads it there (in a GMAT child) before it
    draws; the space records the value itself, so it rebuilds without GMAT.
    """

    def __repr__(self) -> str:
        return "xs.nominal"

    def __reduce__(self) -> str:
        return "nominal"  # one instance, also after a pickle


nominal = Nominal()
RELATIVE = "scale"  # ("scale", lo, hi): the script's value times a uniform factor


def is_relative(spec: Any) -> bool:
    """Tell whether a ``perturb`` value is relative to the script's value."""
    if isinstance(spec, str) or not isinstance(spec, Sequence):
        return False
    return any(v is nominal for v in spec) or (len(spec) > 0 and spec[0] == RELATIVE)


@dataclass(frozen=True)
class Distribution:
    """A frozen scipy distribution and, when it has one, its JSON recipe."""

    frozen: Any
    recipe: dict[str, Any] | None

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Return the quantiles of ``u`` as float64."""
        return np.asarray(self.frozen.ppf(u), dtype=np.float64)


def _finite(field: str, value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SpaceError(f"{field}: {what} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise SpaceError(f"{field}: {what} must be finite, got {value!r}")
    return out


def parse_distribution(field: str, spec: Any) -> Distribution:
    """Turn a ``perturb`` value into a :class:`Distribution`.

    Accepts ``("normal", mu, sigma)``, ``("uniform", lo, hi)``,
    ``("lognormal", mu, sigma)`` (mu, sigma of the underlying normal, as in
    numpy), or any frozen ``scipy.stats`` distribution.
    """
    if callable(getattr(spec, "ppf", None)):
        return Distribution(spec, _scipy_recipe(spec))
    if is_relative(spec):
        raise SpaceError(
            f"{field}: {spec!r} is relative to the script's value; pass the script: "
            "xs.monte_carlo(n, perturb, script='mission.script') (or latin_hypercube, qmc)"
        )
    import scipy.stats  # imported on first use: GMAT children and Dask workers never draw

    if not isinstance(spec, Sequence) or isinstance(spec, str) or len(spec) != 3:
        raise SpaceError(
            f"{field}: expected ('normal', mu, sigma), ('uniform', lo, hi), "
            f"('lognormal', mu, sigma) or a frozen scipy.stats distribution, got {spec!r}"
        )
    name, a, b = spec
    if name not in _NAMED:
        raise SpaceError(f"{field}: unknown distribution {name!r}; expected one of {_NAMED}")
    if name == "uniform":
        lo, hi = _finite(field, a, "lo"), _finite(field, b, "hi")
        if not lo < hi:
            raise SpaceError(f"{field}: uniform needs lo < hi, got lo={lo!r}, hi={hi!r}")
        return Distribution(
            scipy.stats.uniform(loc=lo, scale=hi - lo), {"name": "uniform", "params": [lo, hi]}
        )
    mu, sigma = _finite(field, a, "mu"), _finite(field, b, "sigma")
    if not sigma > 0:
        raise SpaceError(f"{field}: {name} needs sigma > 0, got {sigma!r}")
    if name == "normal":
        return Distribution(
            scipy.stats.norm(loc=mu, scale=sigma), {"name": name, "params": [mu, sigma]}
        )
    try:
        scale = math.exp(mu)
    except OverflowError:
        raise SpaceError(f"{field}: lognormal mu={mu!r} is too large (exp(mu) overflows)") from None
    return Distribution(
        scipy.stats.lognorm(s=sigma, scale=scale), {"name": name, "params": [mu, sigma]}
    )


def _scipy_recipe(frozen: Any) -> dict[str, Any] | None:
    """Describe a frozen scipy distribution as JSON, or None if it cannot be."""
    import scipy.stats

    dist = getattr(frozen, "dist", frozen)  # a frozen distribution, or an unfrozen one
    name = getattr(dist, "name", None)
    public = getattr(scipy.stats, str(name), None)
    if public is None or type(dist) is not type(public):
        return None  # a customised or data-backed distribution: stored by value instead
    args, kwds = list(getattr(frozen, "args", ())), dict(getattr(frozen, "kwds", {}))
    try:
        text = json.dumps({"scipy": name, "args": args, "kwds": kwds}, allow_nan=False)
    except (TypeError, ValueError):
        return None
    recipe: dict[str, Any] = json.loads(text)
    return recipe


def recipe_distribution(field: str, recipe: Mapping[str, Any]) -> Distribution:
    """Rebuild the distribution a stored recipe describes."""
    if "name" in recipe:
        return parse_distribution(field, (recipe["name"], *recipe["params"]))
    import scipy.stats

    dist = getattr(scipy.stats, str(recipe["scipy"]), None)
    if dist is None:
        raise SpaceError(f"{field}: scipy.stats has no distribution {recipe['scipy']!r}")
    return Distribution(dist(*recipe["args"], **recipe["kwds"]), dict(recipe))


def field_seed(entropy: int, field: str, block: int | None = None) -> np.random.SeedSequence:
    """Return the SeedSequence of ``field`` (and LHS ``block``) under ``entropy``."""
    digest = hashlib.sha256(field.encode("utf-8")).digest()
    key = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    if block is not None:
        key = (*key, block)
    return np.random.SeedSequence(entropy, spawn_key=key)


def open_unit(u: np.ndarray) -> np.ndarray:
    """Map uniforms in [0, 1) into the open interval, so ppf stays finite."""
    return np.asarray(np.clip(u, 2.0**-54, 1.0 - 2.0**-53), dtype=np.float64)


def uniforms(method: Method, entropy: int, field: str, blocks: Sequence[int]) -> np.ndarray:
    """Return the uniforms of ``field``: prefix-stable for MC, one LHS per block for LHS.

    Monte Carlo blocks only record how the draw grew; the values are one
    prefix-stable stream of ``sum(blocks)`` uniforms.
    """
    if method == "monte_carlo":
        rng = np.random.Generator(np.random.PCG64(field_seed(entropy, field)))
        return open_unit(rng.random(int(sum(blocks))))
    from scipy.stats import qmc

    parts = []
    for index, size in enumerate(blocks):
        rng = np.random.Generator(np.random.PCG64(field_seed(entropy, field, index)))
        parts.append(qmc.LatinHypercube(d=1, rng=rng).random(int(size))[:, 0])
    return open_unit(np.concatenate(parts))


def draw(
    method: Method, entropy: int, field: str, dist: Distribution, blocks: Sequence[int]
) -> np.ndarray:
    """Draw ``sum(blocks)`` values of ``field``."""
    values = dist.ppf(uniforms(method, entropy, field, blocks))
    if not np.all(np.isfinite(values)):
        raise SpaceError(f"{field}: the distribution produced non-finite values")
    return values


def new_entropy(seed: Any) -> int:
    """Return the entropy a seed stands for; ``None`` draws fresh OS entropy (and returns it)."""
    if seed is None:
        entropy = np.random.SeedSequence().entropy
        assert isinstance(entropy, int)
        return entropy
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise SpaceError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


def recipe_json(
    method: Method, entropy: int, dim: str, dist: Distribution, blocks: list[int]
) -> str:
    """Serialise a random field's draw recipe (the ``xsweep_draw`` attribute)."""
    return json.dumps(
        {
            "method": method,
            "entropy": str(entropy),
            "dim": dim,
            "blocks": blocks,
            "dist": dist.recipe,
        },
        sort_keys=True,
    )
