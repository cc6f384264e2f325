"""An output's summary, built in the GMAT child from the table its Parquet would hold.

The values go through the conversions the store applies to a run's Parquet
columns (epochs to int64 nanoseconds, durations to seconds, numbers to
float64), from the same Arrow table, so a summary equals, bit for bit, what
:func:`xsweep.open_sweep` computes from the same run kept in full.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from xsweep.core.outputs import OutputSummary


def arrow_kind(typ: pa.DataType) -> str:
    """Return the store's kind of an Arrow column type: ``M``, ``m``, ``f`` or ``U``."""
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return "M"
    if pa.types.is_duration(typ):
        return "m"
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
        return "f"
    return "U"


def column_values(column: Any, kind: str) -> np.ndarray:
    """Return one Arrow column as the store holds it: int64 ns, float64 s, float64, object."""
    values = column.to_numpy()
    if kind == "M":
        return np.asarray(values.astype("datetime64[ns]").view(np.int64))
    if kind == "m":
        delta = values.astype("timedelta64[ns]")
        out = delta.astype(np.int64) / 1e9
        out[np.isnat(delta)] = np.nan
        return np.asarray(out)
    if kind == "f":
        return np.asarray(values.astype(np.float64))
    return np.asarray(values.astype(object))


NAT = np.iinfo(np.int64).min


def summarize(table: pa.Table, *, timed: bool) -> OutputSummary:
    """Summarize an output's table: final row, each column's extremes and their epochs.

    ``timed``: the output is a time series (a report or an ephemeris) whose
    first epoch column gives ``min_at`` and ``max_at``.
    """
    columns, kinds, arrays = [], [], []
    for name, typ in zip(table.schema.names, table.schema.types, strict=True):
        if name.startswith("__index_level"):
            continue
        kind = arrow_kind(typ)
        columns.append(name)
        kinds.append(kind)
        arrays.append(column_values(table.column(name), kind))
    epoch = next((a for a, k in zip(arrays, kinds, strict=True) if k == "M"), None)
    times = epoch if timed else None
    stats: dict[str, list[Any]] = {k: [] for k in ("final", "min", "max", "min_at", "max_at")}
    for values, kind in zip(arrays, kinds, strict=True):
        stats["final"].append(_scalar(values[-1], kind) if len(values) else None)
        for stat, pick in (("min", np.argmin), ("max", np.argmax)):
            at = _extreme(values, kind, pick)
            stats[stat].append(None if at is None else _scalar(values[at], kind))
            when = None if at is None or times is None else times[at]
            stats[f"{stat}_at"].append(None if when is None or when == NAT else int(when))
    return OutputSummary(tuple(columns), "".join(kinds), *(tuple(v) for v in stats.values()))


def _extreme(values: np.ndarray, kind: str, pick: Any) -> int | None:
    """Index of the first minimum (or maximum) of a column's values; None without any."""
    if kind == "U" or not len(values):
        return None
    valid = values != NAT if kind == "M" else ~np.isnan(values)
    if not valid.any():
        return None
    index = np.flatnonzero(valid)
    return int(index[pick(values[valid])])


def _scalar(value: Any, kind: str) -> Any:
    """Return a value as JSON holds it: float (None: NaN), int nanoseconds (None: NaT), str."""
    if kind == "M":
        return None if value == NAT else int(value)
    if kind == "U":
        return "" if value is None else str(value)
    value = float(value)
    return None if np.isnan(value) else value


class RunSummary(dict[str, Any]):
    """What ``Keep(where=...)`` reads: output name to its summary DataFrame, and ``derived``."""

    derived: dict[str, Any]


def summary_frames(outcome: Any) -> RunSummary:
    """Return a run's summaries as DataFrames indexed by ``final``, ``min`` and ``max``.

    Epochs are datetimes, durations seconds; each column with extremes has a
    ``<column>_time`` column saying when each happened (the final row's epoch
    for ``final``).
    """
    import pandas as pd

    from xsweep.core.hooks import decode, kind_of

    found = RunSummary()
    for out in outcome.outputs:
        s = out.summary
        if s is None:
            continue
        data: dict[str, list[Any]] = {}
        epoch = next((i for i, k in enumerate(s.kinds) if k == "M"), None)
        for i, (name, kind) in enumerate(zip(s.columns, s.kinds, strict=True)):
            row = [s.final[i], s.min[i], s.max[i]]
            data[name] = [_when(v) for v in row] if kind == "M" else row
            if kind != "U" and epoch is not None and s.min_at[i] is not None and kind != "M":
                final_at = s.final[epoch]
                data[f"{name}_time"] = [_when(v) for v in (final_at, s.min_at[i], s.max_at[i])]
        found[out.name] = pd.DataFrame(data, index=pd.Index(["final", "min", "max"], name="stat"))
    found.derived = {}
    for result in outcome.derived:
        for name, value in result.values.items():
            kind = kind_of(value)
            found.derived[name] = None if kind is None else decode(value, kind[0])
    return found


def _when(ns: int | None) -> Any:
    return np.datetime64("NaT", "ns") if ns is None else np.datetime64(int(ns), "ns")


def on_grid(
    table: pa.Table, step: float, stop: float | None, columns: tuple[str, ...] | None
) -> dict[str, np.ndarray] | None:
    """Put a time series' number columns on the grid 0, step, 2 step... (s since its first row).

    Linear interpolation between rows; NaN past the run's end (or ``stop``) and
    where a column is NaN. ``None`` for an output without an epoch column.
    """
    kinds = [
        (n, arrow_kind(t)) for n, t in zip(table.schema.names, table.schema.types, strict=True)
    ]
    epoch = next((n for n, k in kinds if k == "M"), None)
    if epoch is None or table.num_rows == 0:
        return None
    ns = column_values(table.column(epoch), "M")
    elapsed = (ns - ns[0]) / 1e9
    end = float(elapsed[-1]) if stop is None else min(float(elapsed[-1]), stop)
    grid = np.arange(int(np.floor(end / step + 1e-9)) + 1) * step
    out = {}
    for name, kind in kinds:
        if kind not in "fm" or (columns is not None and name not in columns):
            continue
        values = column_values(table.column(name), kind)
        out[name] = np.interp(grid, elapsed, values)
    return out
