"""Summaries in the store: one group per output, over the parameter dims and ``stat``.

A sweep that keeps summaries (``keep=``) has, for each output, a group
``summaries/<name>`` whose variables are the output's columns over the
parameter dims and ``stat`` (``final``, ``min``, ``max``), and for each column
with extremes ``<column>_time`` (the epoch each happened at), filled from the
runs' manifest lines: no Parquet is read. The root's ``kept`` says which runs
keep their full histories too. :func:`summarize` computes the same Dataset
from full histories, so a sweep that kept everything gives it as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xsweep.core.outputs import SUMMARY_STATS, OutputSummary
from xsweep.core.records import RunRecord
from xsweep.core.vocabulary import SUMMARY_AXIS, OutputKind
from xsweep.store.layout import NAT, STR, Layout, Output, add_columns, lazy

SUMMARIES = "summaries"  # the store's group of summary groups
SUMMARIES_ATTR = "xsweep_summaries"  # the root's list of them
KEPT_VAR = "kept"
KEPT_ATTRS = {
    "flag_values": np.array([0, 1], dtype=np.int8),
    "flag_meanings": "summary full",
    "long_name": "whether the run's full histories are kept (else only its summaries)",
}
TIME_SUFFIX = "_time"


@dataclass
class Summarized:
    """One output's summaries across the sweep: a group of the store."""

    kind: OutputKind
    name: str
    output: Output = field(init=False)  # the columns, named as the full group names them

    def __post_init__(self) -> None:
        self.output = Output(self.kind, self.name)

    @property
    def path(self) -> str:
        """The group (``summaries/RF``)."""
        return f"{SUMMARIES}/{self.name}"

    def timed(self) -> list[str]:
        """Columns with a ``<name>_time`` variable: numbers, in a time series."""
        out = self.output
        if out.epoch is None:
            return []
        return [c for c, k in out.columns.items() if k in "fm"]

    def attrs(self) -> dict[str, Any]:
        """Describe it in the group's attributes (read back on resume)."""
        out = self.output
        return {"gmat_kind": self.kind, "gmat_name": self.name, "xsweep_columns": out.columns,
                "xsweep_epoch": out.epoch, "xsweep_names": out.names}  # fmt: skip

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> Summarized:
        """Rebuild from :meth:`attrs`."""
        found = cls(attrs["gmat_kind"], attrs["gmat_name"])
        found.output.columns = dict(attrs["xsweep_columns"])
        found.output.epoch = attrs["xsweep_epoch"]
        found.output.names = dict(attrs["xsweep_names"])
        return found


def scan_summaries(
    records: Iterable[RunRecord], reserved: set[str], into: Mapping[str, Summarized] | None = None
) -> tuple[dict[str, Summarized], dict[str, list[str]]]:
    """Find the summarized outputs of ``records`` (added to ``into``), and their new columns."""
    found = dict(into or {})
    new: dict[str, list[str]] = {}
    for rec in records:
        if rec.status != "ok":
            continue
        for out in rec.outcome.outputs:
            if out.summary is None:
                continue
            key = f"{SUMMARIES}/{out.name}"
            group = found.setdefault(key, Summarized(out.kind, out.name))
            pairs = zip(out.summary.columns, out.summary.kinds, strict=True)
            added = add_columns(group.output, pairs, reserved)
            if added:
                new.setdefault(key, []).extend(added)
    return found, new


def summary_template(
    layout: Layout, group: Summarized, only: Iterable[str] | None = None
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Return the lazy template of a summary group (or of columns ``only`` of it)."""
    out = group.output
    columns = list(out.columns) if only is None else list(only)
    dims = (*layout.dims, SUMMARY_AXIS)
    shape = (*layout.shape, len(SUMMARY_STATS))
    place = {"chunks": (*layout.chunks(), len(SUMMARY_STATS)),
             "shards": (*layout.shards(), len(SUMMARY_STATS))}  # fmt: skip
    data: dict[str, Any] = {}
    enc: dict[str, Any] = {}
    timed = set(group.timed())
    for column in columns:
        name, kind = out.names[column], out.columns[column]
        for var, var_kind in (
            (name, kind),
            *(((name + TIME_SUFFIX, "M"),) if column in timed else ()),
        ):
            attrs = {"gmat_column": column} if var == name != column else {}
            if var_kind == "M":
                data[var] = (dims, lazy(shape, "datetime64[ns]", np.datetime64("NaT", "ns")), attrs)
                enc[var] = {**place, "units": "nanoseconds since 1970-01-01", "dtype": "int64",
                            "_FillValue": NAT, "fill_value": NAT}  # fmt: skip
            elif var_kind in "fm":
                data[var] = (dims, lazy(shape, np.float64, np.nan), attrs)
                enc[var] = dict(place)
            else:
                data[var] = (dims, lazy(shape, STR, ""), attrs)
                enc[var] = dict(place)
    coords = {SUMMARY_AXIS: np.array(SUMMARY_STATS, dtype=STR)} if only is None else {}
    return xr.Dataset(data, coords=coords, attrs=group.attrs()), enc


def summary_arrays(
    group: Summarized, recs: Mapping[tuple[int, ...], RunRecord | None], shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Fill a block's summary variables from its runs' records (a run per row)."""
    out = group.output
    full = (*shape, len(SUMMARY_STATS))
    arrays: dict[str, np.ndarray] = {}
    timed = set(group.timed())
    for column, kind in out.columns.items():
        name = out.names[column]
        arrays[name] = _empty(full, kind)
        if column in timed:
            arrays[name + TIME_SUFFIX] = _empty(full, "M")
    for pos, rec in recs.items():
        summary = _summary_of(rec, group)
        if summary is None:
            continue
        epoch = out.epoch
        last = summary.final[summary.columns.index(epoch)] if epoch in summary.columns else None
        for i, column in enumerate(summary.columns):
            if column not in out.columns:
                continue
            name, kind = out.names[column], out.columns[column]
            for j, values in enumerate((summary.final, summary.min, summary.max)):
                arrays[name][pos][j] = _decoded(values[i], kind)
            if column in timed:
                for j, ns in enumerate((last, summary.min_at[i], summary.max_at[i])):
                    arrays[name + TIME_SUFFIX][pos][j] = _decoded(ns, "M")
    return {k: v.astype(STR) if v.dtype == object else v for k, v in arrays.items()}


def kept_array(recs: Mapping[tuple[int, ...], RunRecord | None], shape: tuple[int, ...]) -> Any:
    """Return a block's ``kept`` flags: 1 for a recorded run whose files are kept."""
    kept = np.zeros(shape, dtype=np.int8)
    for pos, rec in recs.items():
        if rec is not None and rec.outcome.kept:
            kept[pos] = 1
    return kept


def _summary_of(rec: RunRecord | None, group: Summarized) -> OutputSummary | None:
    if rec is None or rec.status != "ok":
        return None
    for o in rec.outcome.outputs:
        if o.kind == group.kind and o.name == group.name:
            return o.summary
    return None


def _empty(shape: tuple[int, ...], kind: str) -> np.ndarray:
    if kind == "M":
        return np.full(shape, np.datetime64("NaT", "ns"))
    if kind in "fm":
        return np.full(shape, np.nan)
    return np.full(shape, "", dtype=object)


def _decoded(value: Any, kind: str) -> Any:
    if kind == "M":
        return np.datetime64("NaT", "ns") if value is None else np.datetime64(int(value), "ns")
    if kind in "fm":
        return np.nan if value is None else float(value)
    return "" if value is None else str(value)


def summarize(ds: xr.Dataset, columns: Mapping[str, str], names: Mapping[str, str],
              epoch: str | None, axis: str) -> xr.Dataset:  # fmt: skip
    """Return the summaries of one output's full histories, as a summary group holds them.

    ``ds`` is the output's Dataset as :func:`xsweep.open_sweep` gives it;
    ``columns``, ``names`` and ``epoch`` are its group's (column kinds, store
    names, epoch column). Lazy: nothing is computed until asked.
    """
    time = ds[names[epoch]] if epoch is not None else None
    present = [ds[names[c]].notnull() for c in columns if names[c] in ds.variables]
    if not present:
        return xr.Dataset()
    # Rows are contiguous from the first: a run's count of them marks its last.
    valid = time.notnull() if time is not None else xr.concat(present, "column").any("column")
    rows = valid.sum(axis)
    data: dict[str, Any] = {}
    for column, kind in columns.items():
        name = names[column]
        if name not in ds.variables:
            continue
        var = ds[name].variable
        values = xr.DataArray(var)
        last = _at(values, (rows - 1).clip(min=0), axis).where(rows > 0)
        if kind == "U":
            blank = xr.full_like(last, "", dtype=object)
            data[name] = _stats(last.fillna(""), blank, blank)
            continue
        low, high = values.min(axis, skipna=True), values.max(axis, skipna=True)
        data[name] = _stats(last, low, high)
        if time is not None and kind in "fm":
            some = values.notnull().any(axis)
            at = [_at(time, (rows - 1).clip(min=0), axis).where(rows > 0)]
            for fill, pick in ((np.inf, "argmin"), (-np.inf, "argmax")):
                index = getattr(values.fillna(fill), pick)(axis)
                at.append(_at(time, index, axis).where(some))
            data[name + TIME_SUFFIX] = _stats(*at)
    out = xr.Dataset(data)
    return out.assign_coords({SUMMARY_AXIS: np.array(SUMMARY_STATS, dtype=STR)})


def _stats(final: xr.DataArray, low: xr.DataArray, high: xr.DataArray) -> xr.DataArray:
    """Stack three per-run values along ``stat`` (last, as a summary group has it)."""
    stacked = xr.concat([final.reset_coords(drop=True), low.reset_coords(drop=True),
                         high.reset_coords(drop=True)], SUMMARY_AXIS)  # fmt: skip
    return stacked.transpose(..., SUMMARY_AXIS)


def _at(values: xr.DataArray, index: xr.DataArray, axis: str) -> xr.DataArray:
    """Pick each run's value at its own position along ``axis`` (lazily, chunk by chunk)."""

    def take(v: np.ndarray, i: np.ndarray) -> np.ndarray:
        return np.take_along_axis(v, i[..., None].astype(np.intp), -1)[..., 0]

    picked: xr.DataArray = xr.apply_ufunc(
        take,
        values,
        index,
        input_core_dims=[[axis], []],
        dask="parallelized",
        output_dtypes=[values.dtype],
    )
    return picked
