"""The batch loop: a design asks for points, each batch grows one sweep, results come back.

The first batch is :func:`xsweep.run` of explicit samples (on the ``sample``
dim), each later one :func:`xsweep.extend` with ``samples=`` (ids after the
old ones; its extension line is recorded before a run starts). What the
design learns is read back from the manifest: each run's field values, its
status and a derived value. After a crash, :func:`settle` runs the batch's
unrecorded runs, and the design is rebuilt from the records: nothing of it is
pickled, so a killed loop goes on to the same points.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xsweep.analysis.handle import Sweep
from xsweep.core.errors import ConfigError
from xsweep.core.hooks import derived_row
from xsweep.execute.api import run
from xsweep.execute.continuing import extend, finish
from xsweep.space.designs import samples

# Execution keywords a continued session takes from its record instead (given again,
# they would be checked against it): the loop passes them to the first batch only.
_FIRST_ONLY = ("reuse", "reuse_from")
ROUNDS = 4  # points a worker in a batch, by default


@dataclass(frozen=True)
class Recorded:
    """A sweep's recorded runs as a design reads them, in run-id order.

    Attributes
    ----------
    x : numpy.ndarray
        ``(n, d)`` field values, in the design's field order.
    value : numpy.ndarray
        ``(n,)`` the derived value (NaN for a failed run, or without one).
    ok : numpy.ndarray
        ``(n,)`` whether each run is ok.
    run_ids : numpy.ndarray
        ``(n,)`` their run ids.
    """

    x: np.ndarray
    value: np.ndarray
    ok: np.ndarray
    run_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.run_ids)


def existing(out: str | os.PathLike[str]) -> Sweep | None:
    """Return the sweep at ``out``, or None when there is none yet."""
    try:
        return Sweep(out)
    except ConfigError:
        if os.path.exists(os.fspath(out)) and os.listdir(os.fspath(out)):
            raise
        return None


def recorded(sweep: Sweep | None, fields: Sequence[str], value: str | None) -> Recorded:
    """Read the recorded runs' field values, status and ``value`` (a derived quantity)."""
    if sweep is None:
        empty = np.empty(0)
        return Recorded(np.empty((0, len(fields))), empty, empty.astype(bool), empty.astype(int))
    x, values, ok, ids = [], [], [], []
    seen: set[str] = set()
    for run_id, record in sorted(sweep.manifest.runs.items()):
        params = {**record.labels, **record.overrides}
        missing = [f for f in fields if f not in params]
        if missing:
            raise ConfigError(f"{sweep.path}: run {run_id} has no value for {missing}")
        try:  # someone else's manifest: a value that is not a number is refused, named
            x.append([float(params[f]) for f in fields])
            row = derived_row(record.outcome.derived) if record.status == "ok" else {}
            values.append(float(row.get(value, math.nan)) if value is not None else math.nan)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{sweep.path}: run {run_id} holds a value a design cannot "
                f"read ({type(exc).__name__}: {str(exc)[:120]})"
            ) from None
        ok.append(record.status == "ok")
        seen |= set(row) - {"derive_status", "derive_error"}
        ids.append(run_id)
    found = Recorded(np.asarray(x, float).reshape(-1, len(fields)), np.asarray(values, float),
                     np.asarray(ok, bool), np.asarray(ids, int))  # fmt: skip
    if value is not None and found.ok.any() and not seen >= {value}:
        raise ConfigError(
            f"value={value!r} is not a derived value of this sweep's runs (they have "
            f"{sorted(seen) or 'none'}): pass derive= functions that give it"
        )
    return found


def settle(out: str | os.PathLike[str], execution: Mapping[str, Any]) -> Sweep | None:
    """Return the sweep at ``out`` with every planned run recorded (a cut-off batch's rest)."""
    sweep = existing(out)
    if sweep is not None and len(sweep.manifest.runs) < sweep.manifest.n_runs:
        sweep = finish(out, **_continued(execution))
    return sweep


def grow(
    script: Any,
    out: str | os.PathLike[str],
    rows: Mapping[str, Sequence[float] | np.ndarray],
    fixed: Mapping[str, Any] | None,
    execution: Mapping[str, Any],
) -> Sweep:
    """Run one batch: the sweep's first (``run``), or a growth step of it (``extend``)."""
    columns = {k: [float(v) for v in vs] for k, vs in rows.items()}
    execution = {**execution, "consolidate": False}  # once, at the end (see close)
    if existing(out) is None:
        space = samples(columns)
        if fixed:
            from xsweep.space.designs import fixed as constants

            space = space.merge(constants(fixed))
        return run(script, space, out=out, **execution)
    return extend(out, samples=columns, **_continued(execution))


def close(out: str | os.PathLike[str], execution: Mapping[str, Any]) -> Sweep:
    """End a loop: its store brought up to date once (not after every batch)."""
    return finish(out, sync=True, **_continued(execution))


def _continued(execution: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in execution.items() if k not in _FIRST_ONLY}


def batch_size(batch: int | None, execution: Mapping[str, Any]) -> int:
    """Return the points a batch asks for: ``batch``, else :data:`ROUNDS` a worker.

    Every worker is busy; a few points each keep a batch's growth step (about
    0.3 s: its extension line, its cluster) a small part of it for short runs.
    Not timed: the same call asks for the same batches, so a resumed design goes
    on to the same points.
    """
    if batch is not None:
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:  # type: ignore[redundant-expr]
            raise ConfigError(f"batch must be a positive integer, got {batch!r}")
        return batch
    workers = execution.get("workers")
    return ROUNDS * max(1, int(workers) if isinstance(workers, int) else (os.cpu_count() or 1))
