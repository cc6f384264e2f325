"""A sweep's runs read from its store: the run table, status counts, each output's state.

The accessor's ``runs()``, ``status``, ``failed()``, ``output_status()`` and ``derived()``
are these functions on the Dataset (:mod:`xsweep.analysis.accessor` only
delegates).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xsweep.core.errors import ConfigError
from xsweep.core.vocabulary import STATUS_FLAGS, SUMMARY_AXIS
from xsweep.store.open import classic
from xsweep.store.summaries import KEPT_VAR

_FLAGS = tuple(STATUS_FLAGS)  # names by flag value


def is_sweep(ds: xr.Dataset) -> bool:
    """Tell whether ``ds`` was opened from a sweep's store (it has ``run_id`` and ``status``)."""
    return "run_id" in ds and "status" in ds


def run_table(ds: xr.Dataset) -> pd.DataFrame:
    """List an opened sweep's runs, indexed by ``run_id``.

    Columns: ``status``, ``reason``, ``error``, ``duration_s`` and the
    parameter coordinates of every run (computes only those small variables).
    """
    ds = classic(ds)
    dims = list(ds["run_id"].dims)
    table = ds[["run_id", "status", "reason", "error", "duration_s"]].reset_coords()
    params = [c for c in ds.coords if set(ds[c].dims) <= set(dims)]
    frame = table.assign(
        {c: ds[c].broadcast_like(ds["run_id"]) for c in params if c not in dims}
    ).to_dataframe()
    frame = frame.reset_index().set_index("run_id").sort_index()
    frame["status"] = np.asarray(_FLAGS, dtype=object)[frame["status"].to_numpy()]
    return frame


def status_counts(ds: xr.Dataset) -> dict[str, int]:
    """Count an opened sweep's runs by status: ``ok``, ``failed``, ``pending``."""
    codes = np.asarray(ds["status"].values).ravel()
    counts = np.bincount(codes.astype(np.int64), minlength=len(_FLAGS))
    return {name: int(counts[i]) for i, name in enumerate(_FLAGS) if name != "pending"} | {
        "pending": int(counts[0])
    }


def output_status(ds: xr.Dataset) -> xr.DataArray:
    """Tell, for every run and output of an opened sweep, whether the output is in the store.

    Returns a DataArray over the parameter dims and ``output`` (the store's
    groups, ``reports/RF``..., and any output only ever unwritten), with
    ``"written"``, ``"unparsed"`` (gmat-run could not parse GMAT's file; see
    :meth:`xsweep.Sweep.output_problems`), ``"absent"`` (GMAT never wrote it)
    or ``""`` for a run that is not ok.
    """
    codes = ds["status"].values
    text = (
        ds["output_problems"].values.astype(object)
        if "output_problems" in ds
        else np.full(codes.shape, "", dtype=object)
    )
    parsed = [dict(e.split("=", 1) for e in str(t).split(";") if e) for t in text.ravel()]
    names = sorted(set(ds.attrs.get("xsweep_groups", ())) | {k for p in parsed for k in p})
    out = np.full((codes.size, len(names)), "", dtype=object)
    ok = codes.ravel() == STATUS_FLAGS["ok"]
    for i, problems in enumerate(parsed):
        if ok[i]:
            out[i] = [problems.get(n, "written") for n in names]
    dims = (*ds["status"].dims, "output")
    return xr.DataArray(
        out.reshape(*codes.shape, len(names)),
        dims=dims,
        coords={**{d: ds[d] for d in ds["status"].dims if d in ds.coords}, "output": names},
        name="output_status",
    )


def derived_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Flatten an opened sweep's derived quantities into one row per run."""
    from xsweep.core.hooks import DERIVE_FLAGS

    ds = classic(ds)
    names = [str(n) for n, v in ds.data_vars.items() if "xsweep_derive_fn" in v.attrs]
    if not names:
        raise ConfigError("this Dataset holds no derived quantities (see the derive= option)")
    dims = [str(d) for d in ds[names[0]].dims[: len(ds["run_id"].dims)]] if "run_id" in ds else []
    if not dims:
        dims = [str(d) for d in ds[names[0]].dims if d in ds.coords or d in ds.indexes]
    template = ds[names[0]].isel({d: 0 for d in ds[names[0]].dims if d not in dims})
    n = int(np.prod([ds.sizes[d] for d in dims]))
    cols: dict[str, Any] = {}
    for coord in ds.coords:
        if ds[coord].dims and set(ds[coord].dims) <= set(dims):
            cols[str(coord)] = ds[coord].broadcast_like(template).transpose(*dims).values.ravel()
    if "status" in ds:
        flags = np.asarray(list(STATUS_FLAGS), dtype=object)
        cols["status"] = flags[ds["status"].transpose(*dims).values.ravel()]
    for name in names:
        values = ds[name].transpose(*dims, ...).values
        own = values.shape[len(dims) :]
        cols[name] = values.ravel() if not own else list(values.reshape(n, *own))
    if "derive_status" in ds:
        flags = np.asarray(list(DERIVE_FLAGS), dtype=object)
        cols["derive_status"] = flags[ds["derive_status"].transpose(*dims).values.ravel()]
        cols["derive_error"] = ds["derive_error"].transpose(*dims).values.ravel()
    frame = pd.DataFrame(cols)
    if "run_id" in ds:
        frame.index = pd.Index(ds["run_id"].transpose(*dims).values.ravel(), name="run_id")
        return frame.sort_index()
    return frame


def summary_only(ds: xr.Dataset) -> xr.DataArray | None:
    """Return which ok runs a tiered sweep kept only as summaries (None: it kept them all)."""
    ds = classic(ds)
    if KEPT_VAR not in ds or "status" not in ds:
        return None
    status = ds["status"]
    ok = status == (STATUS_FLAGS["ok"] if status.dtype.kind in "iu" else "ok")
    unkept = ok & (ds[KEPT_VAR] == 0)
    return unkept if bool(unkept.any()) else None


def refuse_summary_only(ds: xr.Dataset, var: str, what: str) -> None:
    """Refuse ``var`` when it is missing at every ok run a tiered sweep kept only as a summary.

    Such a variable is an output read from full histories (a derived value
    is stored for every run): its NaN there would be read as data.
    """
    unkept = summary_only(ds)
    if unkept is None or var not in ds.variables:
        return
    y = classic(ds)[var]
    empty = y.isnull().all([d for d in y.dims if d not in unkept.dims])
    if bool((empty | ~unkept).all()):
        raise ConfigError(
            f"{var!r} is missing for the {int(unkept.sum())} ok runs kept only as summaries "
            f"(keep=): take {what} from xs.open_sweep(path, summary=True) (stat='final' is "
            "each run's final row), or fly those runs again in full with xs.refly"
        )


def summary_final(ds: xr.Dataset) -> xr.Dataset:
    """Return a summary Dataset's final rows (``<column>_time`` is the final epoch: dropped)."""
    timed = [f"{n}_time" for n in ds.data_vars if f"{n}_time" in ds.data_vars]
    return ds.drop_vars(timed).sel({SUMMARY_AXIS: "final"}, drop=True)


def warn_summary_only(ds: xr.Dataset) -> None:
    """Warn that the ok runs kept only as summaries have no histories to take rows of."""
    unkept = summary_only(ds)
    if unkept is not None:
        warnings.warn(
            f"{int(unkept.sum())} ok runs were kept only as summaries (keep=): their rows "
            "here are NaN; xs.final(xs.open_sweep(path, summary=True)) has every run's",
            UserWarning,
            stacklevel=3,
        )


def summary_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Flatten an output's summaries (``open_sweep(..., summary=True)``) into a DataFrame.

    One row per run and statistic, indexed by ``(run_id, stat)``: the output's
    columns under their GMAT names (and ``<column>_time``), the parameter
    values, then ``__status`` as :func:`to_dataframe` gives them.
    """
    ds = classic(ds)
    names = [str(n) for n, v in ds.data_vars.items() if SUMMARY_AXIS in v.dims]
    dims = [str(d) for d in ds["run_id"].dims]
    frame = ds[[*names, "run_id", "status"]].to_dataframe().reset_index()
    frame = frame.rename(columns={n: str(ds[n].attrs.get("gmat_column", n)) for n in names})
    flags = pd.Series(list(_FLAGS)).array  # pandas' string dtype
    frame["__status"] = flags.take(frame.pop("status").to_numpy())
    params = [c for c in frame.columns if c in dims or (c in ds.coords and c != SUMMARY_AXIS)]
    order = [c for c in frame.columns if c not in (*params, "__status", "run_id")]
    frame = frame[["run_id", *order, *params, "__status"]]
    frame = frame.set_index(["run_id", SUMMARY_AXIS])
    return frame.sort_index(level="run_id", sort_remaining=False, kind="stable")
