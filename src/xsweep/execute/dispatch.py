"""The client loop: submit a sweep session's runs to Dask and record each outcome.

A :class:`Dispatcher` keeps a bounded window of run tasks in flight (twice
the cluster's threads), appends each outcome to the manifest (fsynced) the
moment it arrives, and hands the recorded run to the store's
:class:`~xsweep.store.live.BlockWriter`. Tasks return small
:class:`~xsweep.RunOutcome` records, never data, so the client's memory does
not grow with the number of runs.

Tasks go in through ``Client.submit`` (one task per run, keyed
``gmat-run-<token>-<run_id>``) rather than ``dask.delayed`` + ``compute``: the
same task, without a graph optimisation pass per run, which costs about
0.75 ms of client CPU per run on a machine whose cores GMAT keeps busy.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from distributed import Client, Future, as_completed
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from xsweep.core.errors import NO_SPACE, ClusterError, DeriveError, DiskFullError
from xsweep.core.hooks import DeriveFunction
from xsweep.core.keep import KEEP_ERROR, warn_keep_error
from xsweep.core.options import Options
from xsweep.core.paths import STORE_NAME, run_dir_name
from xsweep.core.records import RunOutcome, RunRecord
from xsweep.core.timeouts import RunBound
from xsweep.execute.batching import Batcher
from xsweep.execute.cluster import Cluster
from xsweep.execute.dashboard import Publisher, progress_bar
from xsweep.execute.refly import same_as
from xsweep.execute.shipping import Shipped, script_bundle, write_files
from xsweep.execute.worker import execute_run, execute_runs, run_key
from xsweep.gmat.child import RunRequest
from xsweep.plan.reuse import Reuser, Source
from xsweep.plan.scripts import Scripts
from xsweep.record.manifest import Manifest, ManifestWriter
from xsweep.space.spaces import Run, Space
from xsweep.store.blocks import BlockWriter
from xsweep.store.derived import Schema
from xsweep.store.effects import Fingerprints
from xsweep.store.envelope import Folding
from xsweep.store.layout import reserved_names
from xsweep.store.live import LiveStore
from xsweep.store.write import mark_no_effect


def derived_schema(manifest: Manifest, space: Space, replaced: Iterable[str] = ()) -> Schema:
    """Return the sweep's derived quantities so far, to check new values against.

    ``replaced``: functions about to give all their values again, whose old ones don't bind.
    """
    gone = set(replaced)
    results = (d for r in manifest.runs.values() for d in r.outcome.derived if d.fn not in gone)
    return Schema(reserved_names(space), results)


class Dispatcher:
    """Run one session of a sweep (the runs of ``run``, ``resume`` or ``extend``).

    Parameters
    ----------
    writer : ManifestWriter
        The sweep's open manifest (its lock held).
    space : Space
        The sweep's space (extensions included).
    scripts : Scripts
        The script each run loads (one per variant), and its canonical hash,
        recorded with each run.
    opts : Options
        How runs execute.
    cluster : Cluster
        Where they execute (entered; workers start here).
    progress : bool
        Show a progress bar.
    store : bool
        Keep ``sweep.zarr`` up to date as blocks of runs finish.
    derive : tuple of DeriveFunction
        Called on every ok run, in its GMAT child, after it.
    reuse : Reuser, optional
        Link runs identical to an ok run instead of running them (``reuse="content"``).
    """

    def __init__(
        self,
        writer: ManifestWriter,
        space: Space,
        scripts: Scripts,
        opts: Options,
        cluster: Cluster,
        *,
        progress: bool,
        store: bool = True,
        derive: tuple[DeriveFunction, ...] = (),
        reuse: Reuser | None = None,
        compare: Mapping[int, RunRecord] | None = None,
    ) -> None:
        self.writer = writer
        self._compare = compare or {}  # re-flown runs: what each gave before
        self._keep_warned = False
        self._envelope = Folding(writer.dir / STORE_NAME, opts.envelope, space.n_runs)
        self.reuse = reuse
        self._requeue: list[Run] = []  # runs whose twin of this session failed
        self.space = space
        self.scripts = scripts
        self.opts = opts
        self.cluster = cluster
        self.progress = progress
        self.store = store
        self.counts = {"ok": 0, "failed": 0}
        self._root = str(writer.dir)
        self._token = uuid.uuid4().hex[:8]  # keys stay unique across sweeps sharing one cluster
        self._inflight: dict[str, tuple[Future[Any], list[Run]]] = {}
        self._pending: Iterator[int] = iter(())
        self._completed = as_completed(with_results=True, raise_errors=False)
        self._bar: Any = None
        self._client: Client | None = None
        self.blocks: BlockWriter | None = None
        self._published: Publisher | None = None
        self._batcher = Batcher(opts.runs_per_task)  # sized in run(), once the cluster is up
        assert writer.manifest is not None
        ok = (r.outcome.duration_s for r in writer.manifest.runs.values() if r.status == "ok")
        self._bound = RunBound(opts.timeout, ok)
        # A staged sweep on a caller's cluster: its workers may share no disk with us.
        self._ship: Any = None
        self._shipping = writer.mirrored and not cluster.embedded
        # Bound in a partial: Client.submit would take ``retries=`` as its own option.
        body = execute_runs if self._batcher.batched else execute_run
        self._task = functools.partial(
            body,
            retries=opts.retries,
            isolation=opts.isolation,
            derive=derive,
            keep=opts.keep,
        )
        # A run of a sweep keeping summaries writes its files only when they may be kept.
        self._decided_late = bool(derive) or opts.keep.where is not None
        assert writer.manifest is not None
        self.schema = derived_schema(writer.manifest, space)
        self._prints = Fingerprints(space)  # what each run gave: dims with no effect, at the end
        for rec in writer.manifest.runs.values():
            self._prints.add(rec)
        # Functions no ok run has given a result yet: the first one that does tries them.
        tried = {d.fn for r in writer.manifest.runs.values() for d in r.outcome.derived}
        self._untried = {f.ref for f in derive} - tried

    def run(self, run_ids: Sequence[int]) -> None:
        """Run ``run_ids`` and record every outcome; return when all are recorded.

        On any error (Ctrl-C, a lost cluster, a full disk) the runs that
        already finished are recorded, the rest are cancelled (on a caller's
        cluster too), and the error propagates: those runs stay pending.
        """
        self._client = self.cluster.start_workers(len(run_ids))
        self.cluster.announce()
        link = self.cluster.dashboard_link()
        if link:  # a notebook's handle on the live sweep links to it
            self.writer.note_dashboard(link)
        nthreads = sum(self.client.nthreads().values()) or 1
        self._pending = iter(run_ids)
        assert self.writer.manifest is not None
        name = self.writer.manifest.header.script.name or ""
        self._bar = progress_bar(  # the sweep's script, not the Dask task prefix
            len(run_ids), disable=not self.progress, desc=f"xsweep {name or self.writer.dir.name}"
        )
        published = Publisher(self.client, self._token, len(run_ids), str(name), self._root)
        published.publish()
        self._published = published
        if self._shipping:  # the scripts go to every worker once
            bundle = script_bundle(self.writer.dir)
            self._ship = self.client.scatter(bundle, broadcast=True, hash=False)
        self._envelope.start()
        if self.store:
            live = LiveStore(self.writer.dir, self.space, self.writer.manifest)
            # An embedded cluster's blocks are written here (on a thread, or in a process of
            # their own for big sessions), a caller's as tasks.
            on = None if self.cluster.embedded or self._shipping else self.client
            self.blocks = BlockWriter(live, on, self._token, runs=len(run_ids), workers=nthreads)
        try:
            if self.blocks is not None and self.reuse is not None:  # links record at once
                self.blocks.start(run_ids)
            slots = max(4, 2 * nthreads)
            self._batcher.begin(len(run_ids), slots)
            for _ in range(slots):
                self._submit()
            if self.blocks is not None and self.reuse is None:  # while the first runs run
                self.blocks.start(run_ids)
            # Group commit: the tasks that finished together are recorded with one fsync.
            for batch in self._completed.batches():
                self._take(batch)
                for _ in batch:
                    self._submit()
            if self.blocks is not None:
                self.blocks.close(None if self._shipping else self.client)
                self._mark_no_effect()
            published.publish("finished", wait=True)
            if self.reuse is not None and self.progress:
                self._bar.write(
                    f"xsweep: reuse='content': {self.reuse.linked} of {len(run_ids)} runs "
                    "linked to identical ok runs, not run",
                    file=sys.stderr,
                )
        except BaseException:
            self._salvage()
            published.publish("stopped")
            raise
        finally:
            if self.blocks is not None:
                self.blocks.shutdown()
            self._envelope.save()  # every run folded is recorded: what a resume goes on from
            self._bar.close()

    def _mark_no_effect(self) -> None:
        """Note in the store the dims along which no run's outputs changed (a warning if not)."""
        assert self.writer.manifest is not None
        try:
            mark_no_effect(self.writer.dir / STORE_NAME, self._prints.no_effect())
        except Exception as exc:  # the store is derived: the sweep's runs stand
            warnings.warn(f"the store's no_effect attribute was not written: {exc}",
                          UserWarning, stacklevel=2)  # fmt: skip

    @property
    def client(self) -> Client:
        """The Dask client the runs go to (once :meth:`run` started the workers)."""
        assert self._client is not None
        return self._client

    def _submit(self) -> None:
        """Submit the next task (one run, or ``runs_per_task`` of them)."""
        runs: list[Run] = []
        size = self._batcher.size()
        while len(runs) < size and (run := self._next_run()) is not None:
            runs.append(run)
        if not runs:
            return
        self._batcher.submitted(len(runs))
        requests = [self._request(run) for run in runs]
        batched = self._batcher.batched
        key = run_key(self._token, runs[0].run_id, len(runs) if batched else None)
        payload: Any = requests if batched else requests[0]
        extra = {} if self._ship is None else {"ship": self._ship}
        extra["timeout"] = self._bound.seconds()  # "auto": learnt from the runs so far
        future = self.client.submit(self._task, payload, key=key, pure=False, **extra)
        self._inflight[key] = (future, runs)
        self._completed.add(future)

    def _next_run(self) -> Run | None:
        """Return the next run to submit; link the reused ones on the way."""
        while True:
            if self._requeue:
                return self._requeue.pop()
            run_id = next(self._pending, None)
            if run_id is None:
                return None
            run = self.space.run(run_id)
            if self.reuse is None:
                return run
            source = self.reuse.take(run, self.scripts.of(run.labels).sha256)
            if source is None:
                return run
            if isinstance(source, Source):  # else it waits for its twin of this session
                self._link(run, source)

    def _link(self, run: Run, source: Source) -> None:
        assert self.reuse is not None
        self._record(run, self.reuse.outcome(source, run_dir_name(run.run_id)), rebase=False)

    def _request(self, run: Run) -> RunRequest:
        # os.path, not pathlib: pathlib interns every path part it parses, for good.
        run_dir = os.path.join(self._root, run_dir_name(run.run_id))
        if os.path.lexists(run_dir):  # leftovers of an unrecorded or failed attempt
            shutil.rmtree(run_dir)
        opts = self.opts
        script = self.scripts.of(run.labels).path
        if self._shipping:  # the worker's copy of the scripts is laid out as the sweep's
            script = os.path.relpath(script, self._root)
        keep = opts.keep
        return RunRequest(
            script,
            run.overrides,
            run_dir,
            opts.engine,
            opts.gmat_root,
            opts.keep_raw,
            run.labels,
            run.run_id,
            envelope=opts.envelope,
            summarize=keep.tiered,
            write=not keep.tiered or self._decided_late or keep.upfront(run.run_id) is True,
        )

    def _take(self, batch: Sequence[tuple[Future[Any], Any]]) -> None:
        """Record the runs of tasks that finished together, with one manifest write."""
        records: list[tuple[Run, RunRecord]] = []
        try:
            for future, result in batch:
                if future.status == "error":  # as_completed gives (type, exception, traceback)
                    result = result[1] if isinstance(result, tuple) else result
                _, runs = self._inflight.pop(str(future.key))
                self._collect(runs, result, records)
                future.release()
        finally:  # what came before a full disk or a lost cluster is recorded
            self._commit(records)

    def _collect(self, runs: list[Run], result: Any, into: list[tuple[Run, RunRecord]]) -> None:
        if isinstance(result, list):  # one outcome each; a full disk ends it early
            outcomes = []
            for run, item in zip(runs, result, strict=False):
                outcomes.append(self._outcome_of(self._landed(run, item)))  # raises what stops
                into.append((run, self._record_of(run, outcomes[-1])))
            self._batcher.measured(outcomes)
            return
        failure = self._outcome_of(self._landed(runs[0], result) if len(runs) == 1 else result)
        if len(runs) == 1:
            self._batcher.measured([failure])
        into.extend((run, self._record_of(run, failure)) for run in runs)

    def _landed(self, run: Run, result: Any) -> Any:
        """Write a shipped run's files into its directory here; return its outcome."""
        if not isinstance(result, Shipped):
            return result
        write_files(os.path.join(self._root, run_dir_name(run.run_id)), result.files)
        return result.outcome

    def _record(self, run: Run, outcome: RunOutcome, *, rebase: bool = True) -> None:
        self._commit([(run, self._record_of(run, outcome, rebase=rebase))])

    def _record_of(self, run: Run, outcome: RunOutcome, *, rebase: bool = True) -> RunRecord:
        if outcome.derived:
            outcome = replace(outcome, derived=self.schema.check(outcome.derived))
        outcome = self._envelope.hold(run.run_id, outcome)  # folded once its line is written
        if KEEP_ERROR in outcome.extra and not self._keep_warned:
            self._keep_warned = warn_keep_error(run.run_id, outcome.extra[KEEP_ERROR])
        if run.run_id in self._compare:
            verdict = same_as(self._compare[run.run_id], outcome)
            outcome = replace(outcome, extra={**outcome.extra, "refly": verdict})
        return RunRecord.of(
            run.run_id,
            run.index,
            run.labels,
            run.overrides,
            self.scripts.of(run.labels).sha256,
            outcome,
            run_dir_name(run.run_id) if rebase else None,
        )

    def _commit(self, records: list[tuple[Run, RunRecord]]) -> None:
        """Append and fsync ``records``; only then count them as done."""
        if not records:
            return
        try:
            self.writer.append_many([record for _, record in records])
        except BaseException:
            if self.writer.whole:  # interrupted once the lines were written: the store shows them
                self._stored(records)
            raise
        self._stored(records)
        for _, record in records:
            status = record.outcome.status
            self._prints.add(record)
            self.counts[status] += 1
            if status == "ok" and not record.outcome.reused:
                self._bound.observe(record.outcome.duration_s)
            if self._published is not None:
                self._published.recorded(status, record.outcome.reason)
        self._bar.set_postfix(self.counts, refresh=False)
        self._bar.update(len(records))
        if self._untried:
            self._try_derive([record for _, record in records])
        if self.reuse is not None:
            for _, record in records:
                for twin, source in self.reuse.done(record):
                    if source is None:
                        self._requeue.append(twin)
                    else:
                        self._link(twin, source)

    def _stored(self, records: list[tuple[Run, RunRecord]]) -> None:
        """Hand recorded runs to the live store (their blocks are written once complete).

        Their envelope values are folded now, once their lines are on disk.
        """
        if self.blocks is not None:
            for _, record in records:
                self.blocks.finished(record)
        self._envelope.recorded(record for _, record in records)

    def _try_derive(self, records: Sequence[RunRecord]) -> None:
        """Stop the sweep if a derive function failed on the first ok run it met."""
        for record in records:
            for result in record.outcome.derived if record.status == "ok" else ():
                if result.fn not in self._untried:
                    continue
                self._untried.discard(result.fn)
                if not result.ok:
                    raise DeriveError(
                        f"derive function {result.fn} failed on run {record.run_id}, the "
                        f"first run it was tried on: {result.error}. The sweep stopped "
                        f"({sum(self.counts.values())} runs recorded, the rest pending): fix "
                        "the function and resume the sweep with it (the recorded runs are "
                        "derived again)",
                        record.run_id,
                        {result.fn: str(result.error)},
                    )

    def _outcome_of(self, result: Any) -> RunOutcome:
        """Turn a task's result into a run's outcome, or raise what stops the sweep."""
        sweep_dir = self.writer.dir
        if isinstance(result, RunOutcome):
            return result
        if isinstance(result, KilledWorker):
            return RunOutcome.failed("crashed", f"the Dask workers running it died: {result}")
        if isinstance(result, DiskFullError):
            raise DiskFullError(result.reason, sweep_dir)  # the worker's path may differ
        if isinstance(result, OSError) and result.errno in NO_SPACE:
            raise DiskFullError(f"no space left on the device ({result})", sweep_dir)
        if isinstance(result, FutureCancelledError):
            # Never a run's outcome: it did not run. A lost scheduler cancels every
            # future while the client reconnects; those runs stay pending.
            why = getattr(result, "reason", None) or "cancelled"
            raise ClusterError(f"lost the Dask cluster (tasks cancelled: {why})", sweep_dir)
        if isinstance(result, OSError) and self.client.status not in ("running", "connecting"):
            raise ClusterError(f"lost the Dask cluster ({type(result).__name__})", sweep_dir)
        if isinstance(result, BaseException):
            return RunOutcome.failed("exception", f"{type(result).__name__}: {result}")
        return RunOutcome.failed("exception", f"the task returned {type(result).__name__}")

    def _salvage(self) -> None:
        """Record the tasks that finished but were not taken in yet; cancel the rest."""
        with contextlib.suppress(Exception):
            done = [(f, f.result(timeout=1)) for f, _ in self._inflight.values()
                    if f.status == "finished"]  # fmt: skip
            self._take(done)
        with contextlib.suppress(Exception):
            self.client.cancel([future for future, _ in self._inflight.values()])
        if self.blocks is not None:
            with contextlib.suppress(Exception):
                self.blocks.salvage()
