"""What runs on a Dask worker: the task bodies, and a plugin owning warm GMAT children.

Each Dask worker starts one long-lived GMAT child process (see ``gmat.child``)
when it starts, and a task hands that child one run at a time. The task
waits on the child's pipe without holding the GIL, so the worker's
heartbeats keep flowing however long GMAT runs. This module imports nothing
of xarray or the Dask client machinery.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from distributed.diagnostics.plugin import WorkerPlugin

from xsweep.core.errors import DiskFullError
from xsweep.core.hooks import DeriveFunction, DeriveResult
from xsweep.core.keep import ALL, KEEP_ERROR, KeepPolicy, decide
from xsweep.core.options import Isolation
from xsweep.core.paths import sweep_of_run_dir
from xsweep.core.records import RunOutcome
from xsweep.execute.shipping import ScriptBundle, Shipped, run_shipped
from xsweep.gmat.child import CheckRequest, DeriveRequest, GmatChild, RunRequest
from xsweep.gmat.closure import write_copy
from xsweep.gmat.pool import local_child, offer_child, take_child

if TYPE_CHECKING:  # the engine module imports gmat-run and pandas: a lean worker never needs it
    from xsweep.gmat.engine import EngineInfo

PLUGIN_PREFIX = "xsweep-gmat-child"
RUN_PREFIX = "gmat-run"  # the dashboard groups a sweep's runs under this name
# Below this, a file system is full for a sweep's purposes: GMAT does not report a
# report it failed to write, so an outcome (ok or not) may rest on cut-short files.
MIN_FREE_BYTES = 1 << 20


def plugin_name(engine: str, gmat_root: str | None) -> str:
    """Name the plugin by its engine, so one registration serves every sweep that shares it."""
    if gmat_root is None:
        return f"{PLUGIN_PREFIX}-{engine}"
    digest = hashlib.sha256(gmat_root.encode()).hexdigest()[:12]
    return f"{PLUGIN_PREFIX}-{engine}-{digest}"


def run_key(token: str, first: int, count: int | None = None) -> str:
    """Return the Dask key of a task running run ``first`` (and ``count`` runs, batched).

    ``gmat-run-<token>-<run_id>``, with ``-<count>`` appended for a batch of
    a sweep with ``runs_per_task`` > 1: the dashboard groups them as
    ``gmat-run``; ``token`` keeps keys unique across sweeps that share a cluster.
    """
    key = f"{RUN_PREFIX}-{token}-{first:06d}"
    return key if count is None else f"{key}-{count}"


class Child(Protocol):
    """What a task needs of a worker's GMAT child (:class:`~xsweep.gmat.child.GmatChild`).

    A stand-in (:mod:`xsweep.testing.engines`) provides the same calls.
    """

    def run(self, request: RunRequest, *, timeout: float | None = None) -> RunOutcome:
        """Run one mission."""

    def derive(
        self, request: DeriveRequest, *, timeout: float | None = None
    ) -> tuple[DeriveResult, ...]:
        """Call a run's derive functions."""

    def check(self, request: CheckRequest) -> EngineInfo:
        """Check a plan (load the script, set run 0's values)."""


class GmatChildPlugin(WorkerPlugin):
    """Start a warm GMAT child in every worker; one per worker thread in use.

    Parameters
    ----------
    engine, gmat_root
        Engine selection for the children (see :func:`xsweep.get_engine`).
    """

    adopts_spares = True  # the planning check's warm GMAT child (a stand-in's children: no)

    def __init__(self, engine: str = "auto", gmat_root: str | None = None) -> None:
        self.engine = engine
        self.gmat_root = gmat_root
        self.name = plugin_name(engine, gmat_root)
        # Registering it again (the next sweep on the same cluster) keeps the warm children.
        self.idempotent = True

    def setup(self, worker: Any) -> None:
        """Start the worker's first child as it starts, so its first run finds it warm.

        One plugin object may serve several workers: the workers of an embedded
        cluster are threads of one process and share the object they were given.
        """
        # Created here, on the worker: the plugin itself is pickled to get there.
        if "_children" not in self.__dict__:
            self._lock = threading.Lock()
            self._children: dict[tuple[int, int], GmatChild] = {}
        # A spare from this process (the planning child), else one booting in the background
        # (key: no thread yet) while the worker finishes starting.
        spare = take_child(self.engine, self.gmat_root) if self.adopts_spares else None
        with self._lock:
            self._children[(id(worker), -1)] = spare or self.new_child(wait=False)

    def teardown(self, worker: Any) -> None:
        """Stop the worker's children with it, or hand idle ones to the next sweep here.

        Each goes to the process's pool (:func:`~xsweep.gmat.pool.offer_child`), which
        keeps one another sweep may take over, for a while, and stops the rest.
        """
        with self._lock:
            children = [self._children.pop(k) for k in list(self._children) if k[0] == id(worker)]
        for child in children:
            if self.adopts_spares:
                offer_child(child)
            else:
                child.close()

    def child(self, worker: Any) -> Child:
        """Return the calling thread's child on ``worker`` (the warm one first, then new ones)."""
        key = (id(worker), threading.get_ident())
        with self._lock:
            if key not in self._children:
                spare = self._children.pop((id(worker), -1), None)
                self._children[key] = spare or self.new_child(wait=True)
            return self._children[key]

    def new_child(self, *, wait: bool) -> GmatChild:
        """Start a child for a worker (``wait``: until its engine is up)."""
        return GmatChild(self.engine, self.gmat_root, wait=wait)


def execute_run(
    request: RunRequest,
    *,
    timeout: float | None = None,
    retries: int = 0,
    isolation: Isolation = "worker",
    derive: tuple[DeriveFunction, ...] = (),
    ship: ScriptBundle | None = None,
    keep: KeepPolicy = ALL,
) -> RunOutcome | Shipped | DiskFullError:
    """Run one mission on this worker's GMAT child; the Dask task body.

    ``retries`` reruns only ``crashed`` runs. With ``isolation="process"`` every
    attempt gets a fresh interpreter. An ok run's ``derive`` functions are
    called next, in the same child, bounded by ``timeout`` on their own.
    Returns (not raises) a :class:`DiskFullError` if the disk filled up: the
    run is then not recorded, and the worker does not log it as a failed task.
    With ``ship`` (the sweep's scripts), the run needs none of the client's
    paths: it runs in a scratch directory here and returns its files as a
    :class:`~xsweep.execute.shipping.Shipped`. ``keep`` decides, once derived, whether a
    run of a sweep that keeps summaries keeps its files.
    """
    if ship is not None:
        return run_shipped(
            execute_run,
            request,
            ship,
            timeout=timeout,
            retries=retries,
            isolation=isolation,
            derive=derive,
            keep=keep,
        )
    attempts = 0
    while True:
        attempts += 1
        fresh = None
        child: Child
        if isolation == "process":
            child = fresh = GmatChild(request.engine, request.gmat_root)
        else:
            child = _worker_child(request.engine, request.gmat_root)
        try:
            outcome = child.run(request, timeout=timeout)
            if derive and outcome.ok:
                derived = child.derive(derive_request(request, outcome, derive), timeout=timeout)
                outcome = replace(outcome, derived=derived)
        finally:
            if fresh is not None:
                fresh.close()
        full = check_space(request.out_dir)
        if full is not None:
            return full
        if outcome.reason != "crashed" or attempts > retries:
            return retained(request, outcome, keep).noting(attempts=attempts)


def retained(request: RunRequest, outcome: RunOutcome, keep: KeepPolicy) -> RunOutcome:
    """Apply ``keep`` to a finished run: drop its files unless it is kept in full.

    A ``where`` predicate that raises keeps the run in full, its error in
    ``extra["keep_error"]``.
    """
    if not keep.tiered or not outcome.kept:
        return outcome
    params = {**(request.labels or {}), **request.overrides}

    def frames() -> Any:
        from xsweep.gmat.summary import summary_frames

        return summary_frames(outcome)

    try:
        chosen = decide(keep, request.run_id, outcome.ok, frames, params)
    except Exception as exc:  # the user's where=: its failure must not lose the run
        error = f"{type(exc).__name__}: {exc}"[:500]
        return replace(outcome, extra={**outcome.extra, KEEP_ERROR: error})
    if chosen:
        return outcome
    shutil.rmtree(request.out_dir, ignore_errors=True)
    return replace(outcome.unshipped(), kept=False, log=None)  # the store takes no table of it


def derive_request(
    request: RunRequest, outcome: RunOutcome, derive: tuple[DeriveFunction, ...]
) -> DeriveRequest:
    """Ask for a just-finished run's derived values: its outputs, labels and field values."""
    params = {**(request.labels or {}), **request.overrides}
    paths = {out.name: out.path for out in outcome.outputs}
    return DeriveRequest(request.out_dir, paths, params, derive)


def execute_derive(
    items: list[tuple[int, str, dict[str, str], dict[str, Any]]],
    derive: tuple[DeriveFunction, ...],
    *,
    engine: str = "auto",
    gmat_root: str | None = None,
    timeout: float | None = None,
) -> list[tuple[int, tuple[DeriveResult, ...]]]:
    """Derive values of finished runs ``(run_id, run_dir, outputs, params)``; a Dask task body.

    No GMAT runs: the worker's child reads each run's Parquet and calls the functions.
    """
    child = _worker_child(engine, gmat_root)
    out = []
    for run_id, run_dir, paths, params in items:
        request = DeriveRequest(run_dir, paths, params, derive)
        out.append((run_id, child.derive(request, timeout=timeout)))
    return out


def check_space(out_dir: str) -> DiskFullError | None:
    """Return a :class:`DiskFullError` if the file system holding ``out_dir`` is full.

    Checked after every run: the run is then not recorded (it stays pending)
    rather than recorded from outputs a full disk may have cut short.
    """
    where = out_dir  # os.path, not pathlib: pathlib interns every path part, for good
    while not os.path.exists(where) and os.path.dirname(where) != where:  # may not exist yet
        where = os.path.dirname(where)
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return None  # cannot tell: the run's own outcome stands
    if free >= MIN_FREE_BYTES:
        return None
    return DiskFullError(
        f"no space left on the device ({free} bytes free under {where}, xsweep needs "
        f"{MIN_FREE_BYTES}); the run writing to {out_dir} is not recorded",
        sweep_of_run_dir(out_dir),
    )


def execute_runs(
    requests: list[RunRequest],
    *,
    timeout: float | None = None,
    retries: int = 0,
    isolation: Isolation = "worker",
    derive: tuple[DeriveFunction, ...] = (),
    ship: ScriptBundle | None = None,
    keep: KeepPolicy = ALL,
) -> list[RunOutcome | Shipped | DiskFullError]:
    """Run several missions one after the other; the task body of a batched sweep.

    Each run keeps its own timeout, retries and failure outcome: a crash in
    one run does not touch the others. A full disk ends the list early, with
    the :class:`DiskFullError` last.
    """
    out: list[RunOutcome | Shipped | DiskFullError] = []
    for request in requests:
        out.append(
            execute_run(
                request,
                timeout=timeout,
                retries=retries,
                isolation=isolation,
                derive=derive,
                ship=ship,
                keep=keep,
            )
        )
        if isinstance(out[-1], DiskFullError):
            break
    return out


def check_plan(
    script: str,
    text: bytes,
    overrides: Mapping[str, Any],
    engine: str = "auto",
    gmat_root: str | None = None,
    closure: tuple[str, Mapping[str, bytes]] | None = None,
    allow_overwritten: bool = False,
) -> EngineInfo | Exception:
    """Run a sweep's planning check on this worker's warm GMAT child; a Dask task body.

    ``text`` is the script's content: a worker that does not see ``script``
    (another machine) checks a copy of the same name. ``closure`` is
    ``(main, files)`` for a script with includes: its files, laid out as the
    sweep's copy, are written to a scratch directory and ``main`` is checked
    there. Returns the engine's
    :class:`~xsweep.EngineInfo`, or the error the check raised: returned, not
    raised, since a refused plan is the caller's mistake, not a failed task
    for the worker's log.
    """
    child = _worker_child(engine, gmat_root)
    if closure is None and not _holds(script, text):
        closure = (os.path.basename(script), {os.path.basename(script): text})
    with contextlib.ExitStack() as stack:
        path = Path(script)
        if closure is not None:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="xsweep-plan-"))
            write_copy(Path(scratch), closure[1])
            path = Path(scratch) / closure[0]
        try:
            return child.check(CheckRequest(str(path), dict(overrides), allow_overwritten))
        except Exception as exc:
            return exc


def _holds(path: str, text: bytes) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read() == text
    except OSError:
        return False


def _worker_child(engine: str, gmat_root: str | None) -> Child:
    try:
        from distributed import get_worker

        worker = get_worker()
    except ValueError:  # not inside a Dask worker: keep one child for this process
        return local_child(engine, gmat_root)
    plugin = worker.plugins.get(plugin_name(engine, gmat_root))
    if not isinstance(plugin, GmatChildPlugin):
        return local_child(engine, gmat_root)
    return plugin.child(worker)
