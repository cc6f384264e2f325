"""Worker side of a sweep: a Dask worker plugin owning warm GMAT children.

Each Dask worker starts one long-lived GMAT child process (see ``_child``)
when it starts, and a task hands that child one run at a time. The task
waits on the child's pipe without holding the GIL, so the worker's
heartbeats keep flowing however long GMAT runs. This module imports nothing
of xarray or the Dask client machinery.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from typing import Any, Literal

from distributed.diagnostics.plugin import WorkerPlugin

from xsweep._child import GmatChild, RunRequest
from xsweep._records import RunOutcome

Isolation = Literal["worker", "process"]
PLUGIN_PREFIX = "xsweep-gmat-child"
TASK_PREFIX = "gmat-run"


def plugin_name(engine: str, gmat_root: str | None) -> str:
    """Name the plugin by its engine, so one registration serves every sweep that shares it."""
    if gmat_root is None:
        return f"{PLUGIN_PREFIX}-{engine}"
    digest = hashlib.sha256(gmat_root.encode()).hexdigest()[:12]
    return f"{PLUGIN_PREFIX}-{engine}-{digest}"


def task_key(run_id: int) -> str:
    """Return the Dask key of a run: grouped as ``gmat-run`` on the dashboard."""
    return f"{TASK_PREFIX}-{run_id:06d}"


class GmatChildPlugin(WorkerPlugin):
    """Start a warm GMAT child in every worker; one per worker thread in use.

    Parameters
    ----------
    engine, gmat_root
        Engine selection for the children (see :func:`xsweep.get_engine`).
    """

    def __init__(self, engine: str = "auto", gmat_root: str | None = None) -> None:
        self.engine = engine
        self.gmat_root = gmat_root
        self.name = plugin_name(engine, gmat_root)
        # Registering it again (the next sweep on the same cluster) keeps the warm children.
        self.idempotent = True

    def setup(self, worker: Any) -> None:
        """Start the first child as the worker starts, so the first run finds it warm."""
        # Created here, on the worker: the plugin itself is pickled to get there.
        self._lock = threading.Lock()
        # Booting in the background: the worker finishes starting meanwhile.
        self._children: dict[int, GmatChild] = {
            -1: GmatChild(self.engine, self.gmat_root, wait=False)
        }

    def teardown(self, worker: Any) -> None:
        """Stop every child with the worker: no orphan GMAT processes."""
        with self._lock:
            for child in self._children.values():
                child.close()
            self._children.clear()

    def child(self) -> GmatChild:
        """Return the calling thread's child (the warm one first, then new ones)."""
        ident = threading.get_ident()
        with self._lock:
            if ident not in self._children:
                spare = self._children.pop(-1, None)
                self._children[ident] = spare or GmatChild(self.engine, self.gmat_root)
            return self._children[ident]


def execute_run(
    request: RunRequest,
    *,
    timeout: float | None = None,
    retries: int = 0,
    isolation: Isolation = "worker",
) -> RunOutcome:
    """Run one mission on this worker's GMAT child; the Dask task body.

    ``retries`` reruns only ``crashed`` runs. With ``isolation="process"`` every
    attempt gets a fresh interpreter.
    """
    attempts = 0
    while True:
        attempts += 1
        if isolation == "process":
            fresh = GmatChild(request.engine, request.gmat_root)
            try:
                outcome = fresh.run(request, timeout=timeout)
            finally:
                fresh.close()
        else:
            outcome = _worker_child(request).run(request, timeout=timeout)
        if outcome.reason != "crashed" or attempts > retries:
            return replace(outcome, extra={**outcome.extra, "attempts": attempts})


def execute_runs(
    requests: list[RunRequest],
    *,
    timeout: float | None = None,
    retries: int = 0,
    isolation: Isolation = "worker",
) -> list[RunOutcome]:
    """Run several missions one after the other; the task body of a batched sweep.

    Each run keeps its own timeout, retries and failure outcome: a crash in
    one run does not touch the others.
    """
    return [execute_run(r, timeout=timeout, retries=retries, isolation=isolation) for r in requests]


def _worker_child(request: RunRequest) -> GmatChild:
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:  # not inside a Dask worker: keep one child for this process
        return _local_child(request)
    plugin = worker.plugins.get(plugin_name(request.engine, request.gmat_root))
    if not isinstance(plugin, GmatChildPlugin):
        return _local_child(request)
    return plugin.child()


_local: dict[tuple[str, str | None], GmatChild] = {}


def _local_child(request: RunRequest) -> GmatChild:
    key = (request.engine, request.gmat_root)
    if key not in _local:
        _local[key] = GmatChild(*key)
    return _local[key]
