"""Parameter dims along which nothing changes: a sweep that silently varied nothing.

A swept field that never reaches the run (a value GMAT ignores, a field no
output depends on) gives a dim along which every ok run's outputs, derived
values and status are the same. That is read from the manifest alone: each
output's digest (:attr:`~xsweep.core.records.OutputFile.digest`) and each
derived value, one small integer per run, so a sweep's end costs a pass over its
records, not over its data. The store keeps the answer in its ``no_effect``
attribute; the sweep's reprs and ``xsweep show`` say it too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from xsweep.core.records import RunRecord
from xsweep.space.spaces import Space

NO_EFFECT_ATTR = "no_effect"


def _fingerprint(rec: RunRecord) -> tuple[object, ...] | None:
    """Return what a run gave, hashable; None when an output has no digest (old records)."""
    outputs = sorted((o.kind, o.name, o.digest) for o in rec.outcome.outputs)
    if any(digest is None for *_, digest in outputs):
        return None
    derived = sorted((d.fn, json.dumps(dict(d.values), sort_keys=True, default=str))
                     for d in rec.outcome.derived)  # fmt: skip
    return (tuple(outputs), tuple(derived))


class Fingerprints:
    """What each ok run of a sweep gave, one small integer per run, taken in as runs end.

    Memory is one ``int32`` per planned run; a session feeds it each record
    it commits, so the answer at the end costs no pass over the manifest.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        self.codes: dict[tuple[object, ...], int] = {}
        self.given = np.full(space.n_runs, -1, dtype=np.int32)
        self.unknown = False  # a run recorded before outputs had digests

    def add(self, rec: RunRecord) -> None:
        """Take in a run's (latest) record."""
        if not 0 <= rec.run_id < self.space.n_runs:
            return
        if rec.status != "ok":
            self.given[rec.run_id] = -1
            return
        key = _fingerprint(rec)
        if key is None:
            self.unknown = True
            return
        self.given[rec.run_id] = self.codes.setdefault(key, len(self.codes))

    def no_effect(self) -> dict[str, int]:
        """Return the dims along which no ok run's outputs change: dim -> its number of values.

        A dim counts when it has two or more values and, somewhere, two ok runs
        that differ only along it; runs recorded before outputs had digests make
        the answer unknown (empty).
        """
        space = self.space
        if self.unknown or space.n_runs < 2:
            return {}
        grid = np.full(space.shape, -1, dtype=np.int64)
        grid[space.index_arrays()] = self.given
        out: dict[str, int] = {}
        for axis, dim in enumerate(space.dims):
            size = space.shape[axis]
            if size < 2:
                continue
            rows = np.moveaxis(grid, axis, -1).reshape(-1, size)
            seen = rows >= 0
            compared = seen.sum(axis=1) >= 2
            if not compared.any():
                continue
            low = np.where(seen, rows, np.iinfo(np.int64).max).min(axis=1)
            high = np.where(seen, rows, -1).max(axis=1)
            if (low[compared] == high[compared]).all():
                out[dim] = size
        return out


def no_effect(runs: Mapping[int, RunRecord], space: Space) -> dict[str, int]:
    """Return the dims along which no ok run's outputs change (see :class:`Fingerprints`)."""
    prints = Fingerprints(space)
    for rec in runs.values():
        prints.add(rec)
    return prints.no_effect()


def describe(dims: Mapping[str, int]) -> list[str]:
    """Return one line per dim with no effect, as the reprs and the CLI show them."""
    return [f"{dim}: no output changes across its {n} values" for dim, n in dims.items()]
