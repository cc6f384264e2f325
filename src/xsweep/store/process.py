"""The live store's writer process: block writes off the client's interpreter.

An embedded cluster's workers are threads of the client, and so is the store's
writer. When runs finish faster than a thread sharing the client's GIL can
write their blocks (thousands of short runs), :class:`WriterProcess` writes them
in a child of its own, ``python -m xsweep.store.process``, started with
``subprocess`` as the GMAT children are (``multiprocessing`` would re-run a
user's unguarded script in the child). Each write is a picklable call sent
over the child's stdin; the reply (``None`` or the exception) comes back on a
private copy of its stdout. One write is in flight at a time, queued behind a
thread of the parent, so :meth:`shutdown` can drop the writes not sent yet.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from xsweep.gmat.pipe import (
    arm_watchdog,
    picklable,
    protocol_streams,
    recv,
    send,
    spawn,
    stop_process,
    wait_reply,
)

T = TypeVar("T")

# A block's write takes ~0.1 s; past this the child is taken for hung, and killed.
WRITE_TIMEOUT_S = 600.0


def timed(call: Callable[[], None]) -> float:
    """Run one write; return the seconds it took."""
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def serve() -> None:
    """Child main loop: run each call received, reply its result or its exception."""
    arm_watchdog()
    proto_in, proto_out = protocol_streams()
    import zarr

    import xsweep.store.write  # noqa: F401  (the imports, before the first block waits)
    from xsweep.store.layout import fused_pipeline

    # This process only writes blocks: Zarr's fused pipeline for all of them (~8 % less
    # time a block). Set once, not per write, as Zarr's config is one for all threads.
    zarr.config.set(fused_pipeline())

    send(proto_out, {"ready": True})
    while True:
        try:
            call = recv(proto_in)
        except EOFError:
            return
        try:
            reply: Any = call()
        except Exception as exc:
            reply = picklable(exc)
        send(proto_out, reply)


class WriterProcess:
    """Run block writes in one child process, in order (see the module's docs).

    Has what :class:`~xsweep.store.blocks.BlockWriter` uses of a thread pool:
    :meth:`submit` returns a :class:`concurrent.futures.Future`, and
    :meth:`shutdown` waits for the write in progress.
    """

    def __init__(self) -> None:
        self._scratch = tempfile.mkdtemp(prefix="xsweep-writer-")
        # Its own process group: a terminal's Ctrl-C, meant for the sweep, never kills
        # it while it boots (before it ignores SIGINT); the parent stops it.
        self._proc, self._watch = spawn("xsweep.store.process", self._scratch, process_group=0)
        self._queue = ThreadPoolExecutor(1, thread_name_prefix="xsweep-store-process")
        self._booted = self._queue.submit(self._reply)  # boots while the sweep starts

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``fn(*args)`` (picklable) for the child; its future holds what it returned."""
        return self._queue.submit(self._call, functools.partial(fn, *args))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Finish (or with ``cancel_futures``, drop) the queued writes; stop the child."""
        self._queue.shutdown(wait=wait, cancel_futures=cancel_futures)
        stop_process(self._proc, timeout=10)
        if self._watch >= 0:
            os.close(self._watch)
            self._watch = -1
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _call(self, call: Callable[[], Any]) -> Any:
        self._booted.result()
        assert self._proc.stdin is not None
        try:
            send(self._proc.stdin, call)
        except OSError as exc:
            raise self._died() from exc
        reply = self._reply()
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def _reply(self) -> Any:
        """Wait (bounded) for the child's next reply; a dead or hung child raises."""
        assert self._proc.stdout is not None
        try:
            reply = wait_reply(self._proc.stdout, WRITE_TIMEOUT_S)
        except EOFError:
            raise self._died() from None
        if reply is None:
            self._proc.kill()
            raise TimeoutError(f"the store's writer process hung ({WRITE_TIMEOUT_S:.0f} s)")
        return reply

    def _died(self) -> RuntimeError:
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # its stdout closed, yet it lives on
            self._proc.kill()
            code = self._proc.wait()
        return RuntimeError(f"the store's writer process exited (code {code})")


if __name__ == "__main__":
    # Run the imported module's serve, so pickled calls match its classes (not __main__'s).
    from xsweep.store.process import serve as _serve

    _serve()
    sys.stderr.flush()
    os._exit(0)
