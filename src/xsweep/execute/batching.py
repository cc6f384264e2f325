"""How many runs the next task takes: a fixed ``runs_per_task``, or ``"auto"`` (the default).

With ``"auto"`` the first tasks take one run each. From then on a run that
takes :data:`ALONE_S` or more (what each run's outcome reports, smoothed)
stays its own task, as most real missions do; shorter runs are fused into
tasks of about :data:`TARGET_TASK_S`, the way Dask fuses small chunks, but
never more than an even share of the runs left across the tasks in flight,
so every worker stays busy to the end, and never more than
:data:`MAX_RUNS_PER_TASK`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from xsweep.core.records import RunOutcome

AUTO: Literal["auto"] = "auto"
# Dask spends ~1-2 ms of CPU per task across client, scheduler and worker, all of it in
# the client's process with an embedded cluster: at 64 workers x 20 ms runs, 0.25 s
# tasks left that process CPU-bound (the big-node model, benchmarks/node.py); 1 s
# tasks are Dask's "100 ms or more" with room, and still a smooth progress bar.
TARGET_TASK_S = 1.0
ALONE_S = 0.25  # runs at least this long are their own task: batching would gain nothing
MAX_RUNS_PER_TASK = 1000  # bounds a task's result and what a lost worker takes with it
_SMOOTHING = 0.3


class Batcher:
    """Size the tasks of one dispatch session.

    Parameters
    ----------
    runs_per_task : int or "auto"
        The sweep's option.
    total : int
        Runs this session submits (see :meth:`begin`).
    slots : int
        Tasks kept in flight.
    """

    def __init__(
        self, runs_per_task: int | Literal["auto"], total: int = 0, slots: int = 1
    ) -> None:
        self.fixed = None if runs_per_task == AUTO else int(runs_per_task)
        self.per_run_s: float | None = None  # smoothed seconds per run, once measured
        self.begin(total, slots)

    def begin(self, total: int, slots: int) -> None:
        """Start sizing ``total`` runs over ``slots`` tasks in flight."""
        self.left = total
        self.slots = max(1, slots)

    @property
    def batched(self) -> bool:
        """Whether tasks take a list of runs (and return a list of outcomes)."""
        return self.fixed != 1

    def size(self) -> int:
        """Return how many runs the next task takes."""
        if self.fixed is not None:
            return self.fixed
        if self.per_run_s is None or self.per_run_s >= ALONE_S:
            return 1
        want = TARGET_TASK_S / max(self.per_run_s, 1e-6)
        return max(1, min(int(want), self.left // self.slots, MAX_RUNS_PER_TASK))

    def submitted(self, n: int) -> None:
        """Count ``n`` runs as handed to a task."""
        self.left -= n

    def measured(self, outcomes: Iterable[RunOutcome]) -> None:
        """Take in the durations of a finished task's runs."""
        times = [o.duration_s for o in outcomes if math.isfinite(o.duration_s) and o.duration_s > 0]
        if self.fixed is not None or not times:
            return
        mean = sum(times) / len(times)
        old = self.per_run_s
        self.per_run_s = mean if old is None else old + _SMOOTHING * (mean - old)
