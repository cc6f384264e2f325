"""Adopting finished runs that the manifest never recorded.

A run's manifest line is written when its outcome reaches the client (with
the other outcomes that arrived with it, see ``_dispatch``). If the client
dies in between (SIGKILL, a power cut of the client's machine), the run's
GMAT work is on disk but not in the manifest. Before ``resume`` (or
``extend``) runs anything, each run it would run is looked at: a run
directory holding a ``done`` marker (:mod:`xsweep.core.done`) for the same
overrides, whose every Parquet output is complete (its footer reads), is
recorded from the marker instead of run again.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from xsweep.core.done import read_done
from xsweep.core.paths import run_dir_name
from xsweep.core.records import RunOutcome, RunRecord, json_safe
from xsweep.plan.scripts import Scripts
from xsweep.record.manifest import ManifestWriter
from xsweep.space.spaces import Space


def _complete(run_dir: str, outcome: RunOutcome) -> bool:
    """Whether every output the outcome names is there with a readable Parquet footer."""
    import pyarrow.parquet as pq

    for out in outcome.outputs:
        try:
            pq.read_metadata(os.path.join(run_dir, out.path))
        except Exception:  # missing, cut short, not Parquet: the run is rerun
            return False
    return True


def _same(recorded: dict[str, object], overrides: dict[str, object]) -> bool:
    return recorded == {k: json_safe(v) for k, v in overrides.items()}


def adopt_finished(
    writer: ManifestWriter, space: Space, scripts: Scripts, run_ids: Sequence[int]
) -> tuple[list[int], list[RunRecord]]:
    """Record the runs of ``run_ids`` that finished unrecorded; return the rest and those.

    The records are appended with one fsync and added to the writer's
    manifest, so the store and the dispatcher see them.
    """
    assert writer.manifest is not None
    planned = writer.manifest.n_runs  # an extension not recorded yet never ran
    root = str(writer.dir)
    left: list[int] = []
    adopted: list[RunRecord] = []
    for run_id in run_ids:
        run_dir = os.path.join(root, run_dir_name(run_id))
        # Only runs never recorded: a recorded failure is rerun, as resume promises.
        unrecorded = run_id < planned and run_id not in writer.manifest.runs
        found = read_done(run_dir) if unrecorded and os.path.isdir(run_dir) else None
        if found is None:
            left.append(run_id)
            continue
        run = space.run(run_id)
        script, recorded, outcome = found
        path, sha256 = scripts.of(run.labels)
        same = script == os.path.basename(path) and _same(recorded, run.overrides)
        if not same or not _complete(run_dir, outcome):
            left.append(run_id)
            continue
        adopted.append(
            RunRecord.of(
                run_id,
                run.index,
                run.labels,
                run.overrides,
                sha256,
                outcome,
                run_dir_name(run_id),
            )
        )
    if adopted:
        writer.append_many(adopted)
        writer.manifest.runs.update((rec.run_id, rec) for rec in adopted)
    return left, adopted
