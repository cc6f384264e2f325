"""Analysis of an opened sweep: a gmat-sweep-shaped DataFrame, and a common time grid.

Both take the Dataset of one output that :func:`xsweep.open_sweep` returns
(the sole output, or ``group=``) and are also reachable through the
accessor: ``ds.xsweep.to_dataframe()``, ``ds.xsweep.on_time_grid(...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from xsweep.analysis.runs import derived_frame, summary_final, summary_frame, warn_summary_only
from xsweep.core.errors import ConfigError
from xsweep.core.vocabulary import OUTPUT_AXES, STATUS_FLAGS, SUMMARY_AXIS
from xsweep.store.open import arranged, classic, store_attr, tree_output

_FLAGS = np.asarray(list(STATUS_FLAGS), dtype=object)  # names by flag value
_AXES = tuple(dict.fromkeys(OUTPUT_AXES.values()))  # step, interval, iteration
# The second index level gmat-sweep uses, by output axis.
_READ_BATCH = 64  # inner chunks Zarr decodes per batch when a whole shard is read
_SECOND_LEVEL = {"interval": "interval_id", "iteration": "iteration"}


def one_output(ds: xr.Dataset | xr.DataTree) -> xr.Dataset:
    """Return ``ds`` (a DataTree's one report) with its coordinates as the store holds them.

    :func:`xsweep.open_sweep` shows the runs' bookkeeping and an output's
    ``time`` as coordinates; the tables here read them as variables.
    """
    return classic(tree_output(ds) if isinstance(ds, xr.DataTree) else ds)


def _parts(ds: xr.Dataset) -> tuple[list[str], str, list[str]]:
    """Return the sweep's parameter dims, the output's axis, and its output variables."""
    if not isinstance(ds, xr.Dataset) or "run_id" not in ds or "status" not in ds:  # type: ignore[redundant-expr]
        raise ConfigError(
            "expected the Dataset of one output of a sweep, as xs.open_sweep(path) or "
            "xs.open_sweep(path, group=...) returns it (with run_id and status)"
        )
    dims = [str(d) for d in ds["run_id"].dims]
    axes = [a for a in _AXES if a in ds.dims]
    if len(axes) != 1:
        raise ConfigError(
            "this Dataset holds no single GMAT output (no step/interval/iteration axis); "
            "open one with xs.open_sweep(path, group=...)"
        )
    (axis,) = axes
    names = [str(n) for n, v in ds.data_vars.items() if axis in v.dims]
    # GMAT's column order (the store lists arrays alphabetically)
    gmat_order = list(store_attr(ds, "names", {}).values())
    names.sort(key=lambda n: gmat_order.index(n) if n in gmat_order else len(gmat_order))
    return dims, axis, names


def _numbered(ds: xr.Dataset, names: list[str], axis: str) -> str | None:
    """Return the variable of a solver log's GMAT ``iteration`` column, if it has one."""
    if axis != "iteration":
        return None
    return next((n for n in names if ds[n].attrs.get("gmat_column", n) == "iteration"), None)


def _params(ds: xr.Dataset, dims: list[str], axis: str) -> list[str]:
    """Return the parameter dims in the space's order, then labels by name."""
    labels = (str(c) for c, v in ds.coords.items()
              if v.dims and set(v.dims) <= set(dims) and c != axis and c not in dims)  # fmt: skip
    return [d for d in dims if d in ds.coords] + sorted(labels)


def _flat(values: np.ndarray, n_runs: int) -> np.ndarray:
    return values.reshape(n_runs, -1)


def to_dataframe(ds: xr.Dataset | xr.DataTree) -> pd.DataFrame:
    """Flatten an opened sweep into gmat-sweep's long DataFrame.

    One row per row of every run's output, indexed by ``(run_id, time)``
    (``(run_id, interval_id)`` for contacts, ``(run_id, iteration)`` for
    solver logs), as ``gmat_sweep.lazy_multiindex`` and its siblings return
    it: GMAT's columns (the epoch column under its GMAT name too), then the
    parameter values of each run, then ``__status``. A run without rows (a
    failed run) is one row with a missing second index level and NaN data.
    ``elapsed_s`` is left out: it is derived from ``time``.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataTree
        One output of a sweep, from :func:`xsweep.open_sweep`; of a sweep
        opened as a DataTree, its one report (name another with ``group=``).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ConfigError
        ``ds`` is not one output of an opened sweep.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"Sat.SMA": [7000, 6200]})  # 6200 km is inside the Earth
    >>> _ = xs.run("examples/missions/leo_drag.script", space, out=out, workers=1,
    ...            progress=False)
    >>> df = xs.open_sweep(out).xsweep.to_dataframe()
    >>> df.index.names
    FrozenList(['run_id', 'time'])
    >>> df.groupby("run_id")["__status"].first().tolist()
    ['ok', 'failed']
    """
    import zarr
    from dask.base import compute
    from dask.local import get_sync

    ds = one_output(ds)
    dims, axis, names = _parts(ds)
    # A solver log's rows are indexed by GMAT's own iteration numbers, as gmat-sweep's
    # lazy_solver_runs does (a Yukon optimiser repeats them).
    numbered = _numbered(ds, names, axis)
    if "time" in names:  # elapsed_s is derived from it and not a column of the frame
        names = [n for n in names if n != "elapsed_s"]
    ds = ds.transpose(*dims, axis, ...)
    params = _params(ds, dims, axis)
    # Every chunk comes to this process anyway: read them here, in order (Zarr overlaps
    # the I/O itself), without a thread pool or a distributed client in between, and
    # decode a shard's inner chunks in batches rather than one at a time.
    with zarr.config.set({"codec_pipeline.batch_size": _READ_BATCH}):
        run_id, status, *columns = compute(
            ds["run_id"].data,
            ds["status"].data,
            *(ds[n].data for n in names),
            scheduler=get_sync,
        )
    n_runs = int(np.asarray(run_id).size)
    order = np.argsort(np.asarray(run_id).reshape(-1), kind="stable")
    values = {n: _flat(np.asarray(v), n_runs)[order] for n, v in zip(names, columns, strict=True)}
    if "time" in values:
        present = ~np.isnat(values["time"])
    else:  # a row is there if any of its columns is
        present = np.zeros(values[names[0]].shape, dtype=bool)
        for v in values.values():
            present |= ~pd.isna(v) & (v != "") if v.dtype == object else ~pd.isna(v)
    counts = present.sum(axis=1)
    empty = counts == 0
    take = present.copy()
    take[empty, 0] = True  # one marker row for a run without rows
    flat = np.flatnonzero(take.reshape(-1))
    rows = np.where(empty, 1, counts)

    ids = pd.Index(np.asarray(run_id).reshape(-1)[order], name="run_id")
    second = values.get("time") if numbered is None else values[numbered]
    index = _row_index(ids, second, axis, present, flat, rows)

    data: dict[str, Any] = {}
    for name in names:
        if name in ("elapsed_s", numbered):
            continue
        column = str(ds[name].attrs.get("gmat_column", name))
        data[column] = values[name].reshape(-1)[flat]
    for name in params:
        per_run = ds[name].broadcast_like(ds["run_id"]).transpose(*dims).values.reshape(-1)
        data[name] = np.repeat(per_run[order], rows)
    # A take from the few flag names, in pandas' string dtype, not 10^5 Python strings.
    flags = pd.Series(list(_FLAGS)).array  # pandas' default dtype for strings
    data["__status"] = flags.take(np.repeat(np.asarray(status).reshape(-1)[order], rows))
    # The columns are fresh arrays of this function's: the frame keeps them, uncopied.
    return pd.DataFrame(data, index=index, copy=False)


def sweep_frame(ds: xr.Dataset | xr.DataTree) -> pd.DataFrame:
    """Flatten ``ds``: :func:`to_dataframe`, or :func:`derived_frame` for derived values only."""
    ds = one_output(ds)
    if SUMMARY_AXIS in ds.dims:
        return summary_frame(ds)
    if not any(a in ds.dims for a in ("step", "interval", "iteration")) and any(
        "xsweep_derive_fn" in v.attrs for v in ds.data_vars.values()
    ):
        return derived_frame(ds)
    return to_dataframe(ds)


def _row_index(
    ids: pd.Index,
    second: np.ndarray | None,
    axis: str,
    present: np.ndarray,
    flat: np.ndarray,
    rows: np.ndarray,
) -> pd.MultiIndex:
    """Return the frame's ``(run_id, time)`` index (or ``(run_id, step)``), from its codes.

    The run ids are sorted and unique already, so only the second level is
    factorised (``from_arrays`` factorises both).
    """
    n_runs = len(ids)
    empty = present.sum(axis=1) == 0
    run_codes = np.repeat(np.arange(n_runs), rows)
    second_codes: Any
    second_level: Any
    if second is not None and axis == "iteration":  # GMAT's iteration numbers
        second_name = "iteration"
        second_codes, found = pd.factorize(second.reshape(-1)[flat])  # NaN (no rows): -1
        second_level = pd.Index(np.asarray(found, dtype=np.int64), dtype="Int64")
    elif second is not None:
        second_name = "time"
        second_codes, second_level = pd.factorize(second.reshape(-1)[flat])
    else:
        second_name = _SECOND_LEVEL.get(axis, axis)  # a report without an epoch: its step
        positions = np.tile(np.arange(present.shape[1]), n_runs)[flat]
        second_codes = np.where(np.repeat(empty, rows), -1, positions)  # -1: missing
        second_level = pd.Index(np.arange(present.shape[1]), dtype="Int64")
    levels: list[Any] = [ids, second_level]
    codes: list[Any] = [run_codes, second_codes]
    return pd.MultiIndex(
        levels=levels,
        codes=codes,
        names=["run_id", second_name],
        verify_integrity=False,
    )


def _interp(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Interpolate every run (leading positions) of ``y(x)`` onto ``t``; NaN outside."""
    out = np.full((*x.shape[:-1], t.size), np.nan)
    for pos in np.ndindex(*x.shape[:-1]):
        xi, yi = x[pos], y[pos]
        ok = ~(np.isnan(xi) | np.isnan(yi))
        if ok.any():
            out[pos] = np.interp(t, xi[ok], yi[ok], left=np.nan, right=np.nan)
    return out


def final(ds: xr.Dataset | xr.DataTree) -> xr.Dataset:
    """Return the last row of every run: each output variable at its run's final step.

    Runs differ in length (GMAT's steps are adaptive, a failed run has no
    rows); shorter runs are padded at the end, so ``ds.isel(step=-1)`` is NaN
    for all but the longest. This picks each run's own last row. A run
    without rows gives NaN (NaT, ``""``). The run-level variables
    (``status``, ``run_id``...) come along. One pass over the column that
    marks valid rows (``elapsed_s``) is computed to find the rows; the values
    stay lazy.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataTree
        One output of a sweep, as :func:`xsweep.open_sweep` returns it (of a
        DataTree, its one report), or its summaries (``summary=True``: every
        run's final row, kept as a summary or in full).

    Returns
    -------
    xarray.Dataset
        Over the parameter dims only.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"TOF": [300, 600]})
    >>> _ = xs.run("examples/missions/leo_report.script", space, out=out, workers=1,
    ...            progress=False)
    >>> xs.final(xs.open_sweep(out))["elapsed_s"].values.tolist()
    [300.0, 600.0]
    """
    ds = one_output(ds)
    if SUMMARY_AXIS in ds.dims:  # open_sweep(summary=True): the final rows are stored
        return arranged(summary_final(ds))
    warn_summary_only(ds)
    _, axis, names = _parts(ds)
    # The column that marks a run's rows: elapsed time, else any float or time column.
    keys = [n for n in names if n == "elapsed_s"] + [n for n in names if ds[n].dtype.kind in "fmM"]
    if not names:
        raise ConfigError("this output has no columns to take a final row of")
    key = (keys or names)[0]
    valid = ds[key].notnull() if ds[key].dtype.kind in "fmM" else ds[key] != ""
    count = valid.sum(axis).compute()
    rows = ds[names].isel({axis: (count - 1).clip(min=0)})
    rows = rows.where(count > 0)
    return arranged(xr.merge([ds.drop_dims(axis), rows], combine_attrs="override"))


def on_time_grid(
    ds: xr.Dataset | xr.DataTree,
    times: Sequence[Any] | np.ndarray | None = None,
    *,
    step: float | None = None,
    mode: Literal["elapsed", "absolute"] = "elapsed",
) -> xr.Dataset:
    """Interpolate every run onto one common time axis.

    GMAT's propagators take adaptive steps, so the ``step`` axis of two runs
    means different times. This puts every numeric output variable on one
    ``time`` dim (linear interpolation, NaN outside a run's span), lazily:
    the result is Dask-backed, one task per chunk of runs. Its dims are the
    parameter dims plus ``time``; the run-level variables (``status``,
    ``run_id``...) come along unchanged.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataTree
        One time-series output of a sweep (a report or an ephemeris), from
        :func:`xsweep.open_sweep` (of a DataTree, its one report).
    times : array-like, optional
        The common times: seconds since each run's first row
        (``mode="elapsed"``), or epochs (``mode="absolute"``, anything
        :func:`numpy.datetime64` takes).
    step : float, optional
        Instead of ``times``: a regular grid every ``step`` seconds over the
        span of all runs (reads ``elapsed_s`` or ``time`` once to find it).
        With neither, the times of the run with the most rows are used.
    mode : {"elapsed", "absolute"}
        ``"elapsed"``: time since each run's start, so runs starting at
        different epochs line up (``time`` is float seconds). ``"absolute"``:
        the epochs themselves (``time`` is datetime64).

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    ConfigError
        ``ds`` has no time axis, both or a bad ``times``/``step``, or an
        unknown ``mode``.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"Sat.SMA": [7000, 7100]})
    >>> _ = xs.run("examples/missions/leo_report.script", space, out=out, workers=1,
    ...            progress=False)
    >>> grid = xs.open_sweep(out).xsweep.on_time_grid(step=60.0)
    >>> grid["Sat.Earth.Altitude"].dims
    ('Sat.SMA', 'time')
    >>> grid["time"].values[:3].tolist()
    [0.0, 60.0, 120.0]
    """
    if mode not in ("elapsed", "absolute"):
        raise ConfigError(f"mode must be 'elapsed' or 'absolute', got {mode!r}")
    if times is not None and step is not None:
        raise ConfigError("give times or step, not both")
    if step is not None and not (np.isfinite(step) and step > 0):
        raise ConfigError(f"step must be a positive number of seconds, got {step!r}")
    ds = one_output(ds)
    _, axis, names = _parts(ds)
    if axis != "step" or "time" not in ds or "elapsed_s" not in ds:
        raise ConfigError("on_time_grid needs a time series output (a report or an ephemeris)")
    ds = ds.chunk({axis: -1})  # one run's series is one core block for the interpolation
    if mode == "elapsed":
        x = ds["elapsed_s"]
        if times is not None:
            t = np.asarray(times, dtype=np.float64).reshape(-1)
        elif step is not None:
            end = float(ds["elapsed_s"].max().compute())
            t = np.arange(0.0, end + step / 2, step) if np.isfinite(end) else np.zeros(0)
        else:
            t = _longest(ds, "elapsed_s")
        coord = xr.Variable(
            ("time",), t, {"units": "s", "long_name": "time since the run's first row"}
        )
    else:
        t, x, coord = _epoch_axis(ds, times, step)
    if t.size and not np.all(np.diff(t) >= 0):
        raise ConfigError("times must be in increasing order")
    numeric = [
        n
        for n in names
        if n not in ("time", "elapsed_s") and np.issubdtype(ds[n].dtype, np.floating)
    ]
    out = {}
    for name in numeric:
        out[name] = xr.apply_ufunc(
            _interp,
            x,
            ds[name],
            kwargs={"t": t},
            input_core_dims=[[axis], [axis]],
            output_core_dims=[["time"]],
            dask="parallelized",
            output_dtypes=[np.float64],
            dask_gufunc_kwargs={"output_sizes": {"time": t.size}},
            keep_attrs=True,
        )
    run_level = {n: ds[n] for n in ds.data_vars if axis not in ds[n].dims}
    result = xr.Dataset({**run_level, **out}, attrs=ds.attrs)
    result = result.drop_vars([c for c in result.coords if axis in result[c].dims])
    return arranged(result.assign_coords(time=coord))


def _epoch_axis(
    ds: xr.Dataset, times: Any, step: float | None
) -> tuple[np.ndarray, xr.DataArray, xr.Variable]:
    """Return on_time_grid's axis in mode "absolute": seconds from the first epoch, x, coord."""
    from dask.base import compute

    if times is not None:
        try:
            epochs = np.asarray(times, dtype="datetime64[ns]").reshape(-1)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"times must be epochs in mode='absolute': {exc}") from None
    elif step is not None:
        lo, hi = compute(ds["time"].min().data, ds["time"].max().data)
        first, last = np.datetime64(lo, "ns"), np.datetime64(hi, "ns")
        if np.isnat(first):
            epochs = np.zeros(0, dtype="datetime64[ns]")
        else:
            span = (last - first) / np.timedelta64(1, "s")
            offsets = np.arange(0.0, span + step / 2, step) * 1e9
            epochs = first + offsets.astype("timedelta64[ns]")
    else:
        epochs = _longest(ds, "time").astype("datetime64[ns]")
    if epochs.size and np.isnat(epochs).any():
        raise ConfigError("times holds NaT")
    ref = epochs[0] if epochs.size else np.datetime64(0, "ns")
    t = (epochs - ref) / np.timedelta64(1, "s")
    x = (ds["time"] - ref) / np.timedelta64(1, "s")
    coord = xr.Variable(("time",), epochs, {"long_name": "epoch (UTC)"})
    return t, x, coord


def _longest(ds: xr.Dataset, name: str) -> np.ndarray:
    """Return variable ``name`` of the run with the most rows (reads ``name`` once)."""
    var = ds[name]
    dims = [d for d in var.dims if d != "step"]
    stacked = var.stack(_run=dims).transpose("_run", "step").values
    valid = ~pd.isna(stacked)
    if not valid.any():
        return np.zeros(0, dtype=stacked.dtype)
    best = int(valid.sum(axis=1).argmax())
    return np.asarray(stacked[best][valid[best]])
