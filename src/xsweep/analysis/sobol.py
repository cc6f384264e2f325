"""Sobol indices from an opened sweep of a Saltelli design (``SALib.analyze.sobol``).

The design itself is a space (:mod:`xsweep.space.saltelli`); the indices come
back over the output's remaining dims, and failed runs refuse or drop their blocks.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import xarray as xr

from xsweep.analysis.runs import refuse_summary_only
from xsweep.core.errors import ConfigError
from xsweep.space.saltelli import BLOCK_DIM, ROLE_DIM, salib


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
        An opened sweep of a :func:`saltelli` design (or ``ds.xsweep.final()`` of
        one, or its summaries: ``open_sweep(path, summary=True)`` gives indices
        over ``stat``, of each run's final value, minimum and maximum).
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
    _, analyze = salib()
    if BLOCK_DIM not in ds.dims or ROLE_DIM not in ds.dims:
        raise ConfigError(f"not a Saltelli design: no {BLOCK_DIM}/{ROLE_DIM} dims (xs.saltelli)")
    if failed not in ("refuse", "drop-blocks"):
        raise ConfigError(f"failed must be 'refuse' or 'drop-blocks', got {failed!r}")
    refuse_summary_only(ds, var, "the indices")
    roles = [str(r) for r in ds[ROLE_DIM].values]
    fields = [r[3:] for r in roles if r.startswith("AB:")]
    second = any(r.startswith("BA:") for r in roles)
    y = ds[var]
    rest = [str(d) for d in y.dims if d not in (BLOCK_DIM, ROLE_DIM)]
    values = np.asarray(y.transpose(BLOCK_DIM, ROLE_DIM, *rest).values, dtype=np.float64)
    keep = _usable_blocks(ds, values.shape[0], failed)
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


def _usable_blocks(ds: xr.Dataset, n_blocks: int, failed: str) -> np.ndarray:
    """Return which blocks hold only ok runs: refuse the others, or drop them with a warning."""
    keep = np.ones(n_blocks, dtype=bool)
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
                stacklevel=4,
            )
    return keep
