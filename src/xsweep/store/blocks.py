"""Writing a live store's blocks as the runs in them finish: on a thread, or as Dask tasks.

A failed write is a warning, never a failed sweep: the store is derived, and
:func:`xsweep.consolidate` rebuilds it.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import warnings
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from xsweep.core.paths import STORE_NAME
from xsweep.core.records import RunRecord
from xsweep.store.live import LiveStore
from xsweep.store.process import WriterProcess, timed

if TYPE_CHECKING:
    from distributed import Client

# Warnings point at the caller's line: the first frame outside xsweep.
_PACKAGE = os.path.dirname(os.path.dirname(__file__))
# Block writes queued at most: past it the client loop waits for the oldest, so runs that
# finish faster than the store can take them cost time, not memory (each holds its records).
MAX_QUEUED_WRITES = 4
# Sessions of at least this many runs write an embedded cluster's blocks in a process of
# their own: short runs by the thousand finish faster than a thread sharing the client's
# GIL writes their blocks (the scale model: 1,400 runs/s with the thread, ~2,700 without
# a store). The process's imports cost ~1 s of CPU once, so small sweeps keep the thread.
PROCESS_RUNS = 10_000
# And so do sessions of at least PROCESS_MIN_RUNS on PROCESS_WORKERS workers or more: the
# big-node model (benchmarks/node.py, 32 workers x 20 ms runs) ran 1.9x faster with the
# blocks written in their own process (the client's CPU per run 2.0 -> 0.75 ms); at 8
# workers the two were level, and a node with 16 cores has one to spare for the writer.
PROCESS_WORKERS = 16
PROCESS_MIN_RUNS = 1_000
# Seconds a stopped session's last block writes may take (see BlockWriter.salvage).
SALVAGE_S = 30.0


class BlockWriter:
    """Write a :class:`LiveStore`'s blocks as the runs in them finish.

    Parameters
    ----------
    live : LiveStore
        The store to keep current.
    client : distributed.Client, optional
        Write each block as a task on this (the caller's) cluster, keyed
        ``xsweep-store-<token>-<block>``. Without it, blocks are written in
        order on one background thread of this process, which has xarray,
        Zarr and pyarrow loaded already (a lean worker would import them
        first: ~1 s of CPU the sweep's last block waits for).
    token : str
        The sweep session's key token.
    runs, workers : int
        Runs of the session, and threads of its workers: from :data:`PROCESS_RUNS`
        runs on (or :data:`PROCESS_MIN_RUNS` on :data:`PROCESS_WORKERS` workers), the
        blocks are written in a child process
        (:class:`~xsweep.store.process.WriterProcess`), not on a thread.
    """

    def __init__(
        self, live: LiveStore, client: Client | None, token: str, runs: int = 0, workers: int = 1
    ) -> None:
        self.live: LiveStore | None = live
        self.client = client
        self.token = token
        self.written, self.busy_s = 0, 0.0  # blocks written here, and the seconds they took
        self._here: ThreadPoolExecutor | WriterProcess | None = None
        self._writes: list[tuple[Any, int]] = []  # (future, block), oldest first
        if client is not None:
            return
        if runs >= PROCESS_RUNS or (workers >= PROCESS_WORKERS and runs >= PROCESS_MIN_RUNS):
            try:
                self._here = WriterProcess()
            except OSError as exc:  # no process to be had: the thread writes them
                warnings.warn(
                    f"the store's writer process did not start ({exc}); writing on a thread",
                    RuntimeWarning,
                    skip_file_prefixes=(_PACKAGE,),
                )
        if self._here is None:
            self._here = ThreadPoolExecutor(1, thread_name_prefix="xsweep-store")

    def start(self, run_ids: Iterable[int]) -> None:
        """Prepare the store for a session running ``run_ids``; write its stale blocks."""
        if self.live is None:
            return
        try:
            blocks = self.live.start(run_ids)
        except Exception as exc:
            self._fail(exc, "its metadata")
            return
        self._write(blocks)

    def finished(self, record: RunRecord) -> None:
        """Take in a recorded run: write its block if it is now complete."""
        if self.live is not None:
            self._write(self.live.finished(record))
        self._reap(wait=False)

    def close(self, client: Client | None) -> None:
        """Wait for every write; rebuild the store if its output axis outgrew its chunks."""
        self._reap(wait=True)
        if self.live is not None:
            try:
                self.live.finish(client)
            except Exception as exc:
                self._fail(exc, "the rechunked store")

    def salvage(self, seconds: float = SALVAGE_S) -> None:
        """Bring the store up to the runs recorded so far: a session that stops early.

        The queued writes, and those of the blocks the session's runs only
        partly filled, get ``seconds`` to finish (so ``open_sweep`` shows what
        the manifest holds after a Ctrl-C); the rest are dropped, and the next
        resume rewrites their blocks.
        """
        if self.live is not None:
            self._write(self.live.partial())
        futures = [future for future, _ in self._writes]
        if self.client is not None:
            from distributed import wait

            with contextlib.suppress(Exception):  # a lost cluster: what is left is dropped
                wait(futures, timeout=seconds)
        else:
            concurrent.futures.wait(futures, timeout=seconds)
        self._writes = [(f, b) for f, b in self._writes if f.done()] + [
            (f, b) for f, b in self._writes if not f.done()
        ]
        done = sum(f.done() for f, _ in self._writes)
        self._reap(wait=True, keep=len(self._writes) - done)
        self.cancel()

    def cancel(self) -> None:
        """Drop the writes not started yet; the one in progress here finishes.

        Their blocks disagree with the manifest, so the next resume rewrites them.
        """
        if self.client is not None:
            self.client.cancel([future for future, _ in self._writes])
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the writer thread or process (after the write in progress)."""
        if self._here is not None:
            self._here.shutdown(wait=True, cancel_futures=True)

    def _write(self, blocks: list[int]) -> None:
        for block in blocks:
            if self.live is None:
                return
            try:
                call = self.live.task(block)
            except Exception as exc:
                self._fail(exc, self.live.describe(block))
                return
            if self._here is not None:  # a thread or the process, alike
                future: Any = self._here.submit(timed, call)
            else:
                assert self.client is not None
                key = f"xsweep-store-{self.token}-{block:06d}"
                future = self.client.submit(call, key=key, pure=False)
            self._writes.append((future, block))
            if len(self._writes) > MAX_QUEUED_WRITES:
                self._reap(wait=True, keep=MAX_QUEUED_WRITES)

    def _reap(self, wait: bool, keep: int = 0) -> None:
        """Take in finished writes, oldest first (with ``wait``, all but ``keep`` of them)."""
        while len(self._writes) > keep and (wait or self._writes[0][0].done()):
            future, block = self._writes.pop(0)
            exc = _exception(future)
            if exc is not None and self.live is not None:
                self._fail(exc, self.live.describe(block))
            if not isinstance(future, Future):
                future.release()
            elif exc is None and not future.cancelled():
                self.written += 1
                self.busy_s += future.result()

    def _fail(self, exc: BaseException, what: str) -> None:
        assert self.live is not None
        path = self.live.dir
        self.live = None  # stop updating; the rest of the sweep still runs
        warnings.warn(
            f"{path / STORE_NAME} is not up to date: writing {what} failed "
            f"({type(exc).__name__}: {exc}); xs.consolidate({str(path)!r}) rebuilds it",
            UserWarning,
            skip_file_prefixes=(_PACKAGE,),
        )


def _exception(future: Any) -> BaseException | None:
    """Wait for a write (a thread's or a Dask future) and return its exception, if any."""
    try:
        exc: BaseException | None = future.exception()
    except BaseException as cancelled:  # a Dask future cancelled under us
        return cancelled
    return exc
