"""The pieces every pipe child shares: the GMAT children and the store's writer process.

A pipe child is ``python -P -m <module>`` started with ``subprocess`` in a
scratch working directory: ``-P`` keeps the working directory (where a bundle
may have put a ``pickle.py``) off its ``sys.path``. Requests and replies are
length-prefixed pickles on its stdin and on a private copy of its stdout.

A child dies with its parent: :func:`spawn` hands it the read end of a pipe
whose only write end the parent holds, and the child forks a tiny watchdog
(before GMAT loads, so the fork is safe) that blocks on it. When the parent
exits (even by SIGKILL) the pipe closes, and the watchdog kills the child
and removes its scratch directory. A thread
in the child could not do it: GMAT holds the GIL for a whole run.
"""

from __future__ import annotations

import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from xsweep.core.errors import EngineError

_WATCH_FD = "XSWEEP_WATCH_FD"
_SCRATCH = "XSWEEP_SCRATCH"


def spawn(
    module: str,
    scratch: str,
    *,
    env: Mapping[str, str] | None = None,
    **popen: Any,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``python -P -m module`` in ``scratch``; return it and the watchdog pipe's end.

    The caller closes the returned descriptor once it has stopped the child
    (:func:`stop_process`); until then the child lives only as long as this process.
    """
    read, write = os.pipe()
    extra = {_WATCH_FD: str(read), _SCRATCH: scratch}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=scratch,
            env={**(os.environ if env is None else env), **extra},
            pass_fds=(read,),
            **popen,
        )
    except BaseException:
        os.close(write)
        raise
    finally:
        os.close(read)
    return proc, write


def arm_watchdog() -> None:
    """In a pipe child, first thing: fork the watchdog that kills this child with its parent."""
    fd = os.environ.pop(_WATCH_FD, None)
    if fd is None:  # started some other way (by hand, in a test): no watchdog
        return
    me, scratch = os.getpid(), os.environ.pop(_SCRATCH)
    if os.fork():
        os.close(int(fd))
        return
    try:  # the watchdog: hold nothing of the child's but the pipe, then wait on it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.closerange(3, int(fd))
        os.closerange(int(fd) + 1, 65536)
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1):
            os.dup2(null, std)
        while True:
            try:
                os.read(int(fd), 1)  # returns at EOF: the parent closed it or died
                break
            except InterruptedError:
                continue
        # A parent that stops a child closes the pipe after the child is gone: a child
        # still here means the parent died. Then the scratch is nobody's.
        if os.getppid() == me:  # the child is still ours (not a reused pid)
            os.kill(me, signal.SIGKILL)
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        os._exit(0)


_HEADER = struct.Struct("!Q")


def send(stream: IO[bytes], obj: Any) -> None:
    """Write one length-prefixed pickled message (between xsweep's own processes only)."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError("pipe closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv(stream: IO[bytes]) -> Any:
    """Read one message :func:`send` wrote."""
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))


def protocol_streams() -> tuple[IO[bytes], IO[bytes]]:
    """In a pipe child: return its protocol's (input, output) streams, stdout kept apart.

    fd 1 is pointed at stderr first, so whatever a library prints can never corrupt the
    protocol, and SIGINT is ignored: a terminal's Ctrl-C reaches the whole process
    group, and the parent decides what stops.
    """
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    proto_in = os.fdopen(os.dup(0), "rb")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return proto_in, proto_out


def wait_reply(stream: IO[bytes], timeout: float | None) -> Any:
    """Wait in ``select`` (GIL released) for a pipe child's reply; ``None`` on timeout.

    Raises EOFError if the child closed its end (it died).
    """
    fd = stream.fileno()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            return recv(stream)
        if deadline is not None and time.monotonic() >= deadline:
            return None


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5) -> int:
    """Close a pipe child's stdin, wait ``timeout`` seconds, kill it; return its exit code."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, OSError):
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
    return proc.returncode


def picklable(exc: Exception) -> Exception:
    """Return ``exc`` if it survives pickling, else an EngineError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return EngineError(f"{type(exc).__name__}: {exc}")
    return exc
