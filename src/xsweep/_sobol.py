"""Sobol sensitivity: Saltelli designs as spaces, and their indices from an opened sweep.

SALib (the ``[sensitivity]`` extra) does both halves: ``SALib.sample.sobol``
draws the Saltelli design (scrambled Sobol points, the cross matrices built
from them) and ``SALib.analyze.sobol`` computes first-order and total
indices with bootstrap confidence intervals. It is the reference
implementation of Saltelli (2010) and Jansen's estimators; scipy's
``sobol_indices`` wants a callable, not runs already made. What xsweep adds is
the bookkeeping: the design is a space over ``saltelli_block`` x
``saltelli_role`` (``A``, ``AB:<field>``..., ``B``), so every run knows which
block and matrix it belongs to, and the indices come back over the output's
remaining dims (a time series gives indices over time). Failed runs are data:
by default they refuse, naming them; ``failed="drop-blocks"`` drops every
block that holds one and says how many remain.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import xarray as xr

from xsweep._draws import new_entropy, open_unit, parse_distribution
from xsweep._errors import ConfigError, SpaceError
from xsweep._fields import resolve_relative
from xsweep._space import check_n, check_path, validate

BLOCK_DIM = "saltelli_block"
ROLE_DIM = "saltelli_role"
HINT = "Sobol sensitivity needs SALib: pip install 'gmat-xsweep[sensitivity]'"


def _salib() -> tuple[Any, Any]:
    try:
        from SALib.analyze import sobol as analyze
        from SALib.sample import sobol as sample
    except ImportError:
        raise ConfigError(HINT) from None
    return sample, analyze


def saltelli(
    n: int,
    perturb: Mapping[str, Any],
    *,
    seed: int | None = None,
    second_order: bool = False,
    script: str | os.PathLike[str] | None = None,
) -> xr.Dataset:
    """Build a Saltelli design for Sobol indices: ``n`` blocks of ``D + 2`` runs.

    Each block holds the base rows ``A`` and ``B`` and one ``AB:<field>`` row
    per field (``A`` with that field from ``B``), and with ``second_order``
    also the ``BA:<field>`` rows: ``n * (2 D + 2)`` runs. The points are
    SALib's scrambled Sobol samples, each column mapped through its field's
    distribution. Analyse with ``ds.xsweep.sobol(var)``.

    Parameters
    ----------
    n : int
        Number of blocks (a power of two keeps Sobol's balance; SALib warns otherwise).
    perturb : mapping of str to distribution
        Field to distribution, as for :func:`xsweep.monte_carlo` (no blocks:
        Sobol indices assume independent inputs).
    seed : int, optional
        Seed of the scrambling (``None``: OS entropy).
    second_order : bool
        Also the rows second-order indices need.
    script : path-like, optional
        For specs relative to the script's values (``xs.nominal``,
        ``("scale", lo, hi)``), as in :func:`xsweep.monte_carlo`.

    Returns
    -------
    xarray.Dataset
        A space over ``saltelli_block`` and ``saltelli_role``.

    Examples
    --------
    >>> import xsweep as xs
    >>> design = xs.saltelli(8, {"x1": ("uniform", -3.14, 3.14), "x2": ("uniform", 0, 1)},
    ...                      seed=1)
    >>> dict(design.sizes), design["saltelli_role"].values.tolist()
    ({'saltelli_block': 8, 'saltelli_role': 4}, ['A', 'AB:x1', 'AB:x2', 'B'])
    """
    sample, _ = _salib()
    check_n(n)
    perturb = dict(perturb.items()) if hasattr(perturb, "items") else {}
    if not perturb:
        raise SpaceError("saltelli() needs a mapping of at least one field to its distribution")
    if any(isinstance(k, tuple) for k in perturb):
        raise SpaceError("saltelli(): Sobol indices assume independent inputs; no blocks")
    fields = [str(f) for f in perturb]
    for field in fields:
        check_path(field)
    perturb = resolve_relative(perturb, script)
    dists = [parse_distribution(f, perturb[f]) for f in fields]
    d = len(fields)
    problem = {"num_vars": d, "names": fields, "bounds": [[0.0, 1.0]] * d}
    entropy = new_entropy(seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        points = sample.sample(problem, int(n), calc_second_order=second_order,
                               seed=entropy % 2**32)  # fmt: skip
    roles = ["A", *(f"AB:{f}" for f in fields)]
    roles += [f"BA:{f}" for f in fields] if second_order else []
    roles.append("B")
    u = open_unit(points).reshape(int(n), len(roles), d)
    data = {f: ((BLOCK_DIM, ROLE_DIM), dist.ppf(u[..., i])) for i, (f, dist) in
            enumerate(zip(fields, dists, strict=True))}  # fmt: skip
    coords = {BLOCK_DIM: np.arange(int(n), dtype=np.int64), ROLE_DIM: np.asarray(roles)}
    space = xr.Dataset(data, coords=coords)
    validate(space)
    return space


def sobol(
    ds: xr.Dataset,
    var: str,
    *,
    failed: Literal["refuse", "drop-blocks"] = "refuse",
    num_resamples: int = 100,
    conf_level: float = 0.95,
    seed: int | None = 0,
) -> xr.Dataset:
    """Compute Sobol indices of ``var`` from a sweep of a :func:`saltelli` design.

    Returns ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` over ``field`` and the
    variable's other dims (``S2``, ``S2_conf`` over ``field`` x ``field_2``
    for a second-order design). A run that is not ok is refused, naming it;
    ``failed="drop-blocks"`` drops every block holding one (with a warning,
    and the counts in the attributes ``blocks_used`` and ``blocks_dropped``).

    Parameters
    ----------
    ds : xarray.Dataset
        An opened sweep of a :func:`saltelli` design (or ``ds.xsweep.final()`` of one).
    var : str
        The output variable; its dims other than the design's stay.
    failed : {"refuse", "drop-blocks"}
        What to do when a run is not ok.
    num_resamples, conf_level, seed
        SALib's bootstrap: resamples, confidence level of ``*_conf``, its seed.

    Returns
    -------
    xarray.Dataset
        ``S1``, ``S1_conf``, ``ST``, ``ST_conf`` (and ``S2``, ``S2_conf``).

    Raises
    ------
    ConfigError
        Not a Saltelli design, a run not ok (by default), too few blocks, or SALib missing.
    """
    _, analyze = _salib()
    if BLOCK_DIM not in ds.dims or ROLE_DIM not in ds.dims:
        raise ConfigError(f"not a Saltelli design: no {BLOCK_DIM}/{ROLE_DIM} dims (xs.saltelli)")
    if failed not in ("refuse", "drop-blocks"):
        raise ConfigError(f"failed must be 'refuse' or 'drop-blocks', got {failed!r}")
    roles = [str(r) for r in ds[ROLE_DIM].values]
    fields = [r[3:] for r in roles if r.startswith("AB:")]
    second = any(r.startswith("BA:") for r in roles)
    y = ds[var]
    rest = [str(d) for d in y.dims if d not in (BLOCK_DIM, ROLE_DIM)]
    values = np.asarray(y.transpose(BLOCK_DIM, ROLE_DIM, *rest).values, dtype=np.float64)
    keep = np.ones(values.shape[0], dtype=bool)
    if "status" in ds:
        status = np.asarray(ds["status"].transpose(BLOCK_DIM, ROLE_DIM).values)
        bad = status != 1
        if bad.any():
            ids = np.asarray(ds["run_id"].transpose(BLOCK_DIM, ROLE_DIM).values)[bad]
            blocks = bad.any(axis=1)
            if failed == "refuse":
                listed = ", ".join(map(str, sorted(ids.tolist())[:10]))
                raise ConfigError(
                    f"{int(bad.sum())} runs of the design are not ok (run ids {listed}"
                    f"{'...' if ids.size > 10 else ''}); Sobol indices need every run of a "
                    "block: finish them with xs.resume(path), or pass failed='drop-blocks' to "
                    f"drop the {int(blocks.sum())} blocks holding them"
                )
            keep = ~blocks
            warnings.warn(
                f"dropped {int(blocks.sum())} of {keep.size} Saltelli blocks holding "
                f"{int(bad.sum())} runs that are not ok; {int(keep.sum())} blocks remain",
                UserWarning,
                stacklevel=3,
            )
    kept = values[keep]
    if kept.shape[0] < 2:
        raise ConfigError(f"{kept.shape[0]} usable Saltelli blocks: too few for Sobol indices")
    problem = {"num_vars": len(fields), "names": fields, "bounds": [[0.0, 1.0]] * len(fields)}
    shape = kept.shape[2:]
    names = ["S1", "S1_conf", "ST", "ST_conf"] + (["S2", "S2_conf"] if second else [])
    out = {k: np.full((len(fields), *shape), np.nan) for k in names[:4]}
    out |= {k: np.full((len(fields), len(fields), *shape), np.nan) for k in names[4:]}
    for idx in np.ndindex(*shape):
        column = kept[(slice(None), slice(None), *idx)].reshape(-1)
        if not np.all(np.isfinite(column)):
            continue  # a time step some runs never reached
        got = analyze.analyze(
            problem,
            column,
            calc_second_order=second,
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=seed,
        )
        for k in names:
            out[k][(slice(None), *idx)] = got[k]
    coords: dict[str, Any] = {"field": fields}
    coords |= {d: y[d].values for d in rest if d in y.coords}
    result = xr.Dataset(
        {k: (("field", *rest) if k in names[:4] else ("field", "field_2", *rest), v)
         for k, v in out.items()},
        coords={**coords, **({"field_2": fields} if second else {})},
    )  # fmt: skip
    result.attrs = {"variable": var, "blocks_used": int(keep.sum()),
                    "blocks_dropped": int((~keep).sum()), "conf_level": conf_level}  # fmt: skip
    return result
