"""A long-lived GMAT child process with a warm engine, driven over a pipe.

The parent (a Dask worker, or the planner) starts ``python -m xsweep.gmat.child``
with ``subprocess`` (not ``multiprocessing``: Dask worker processes are
daemonic and may not start multiprocessing children; GMAT must not be used
after ``fork`` anyway). Requests and replies are length-prefixed pickles on
the child's stdin and on a private copy of its stdout; the child points fd 1
at stderr first, so whatever GMAT prints can never corrupt the protocol.

The parent waits for a reply in ``select`` (the GIL is released), so a Dask
worker's heartbeats keep flowing during a long GMAT run. A crash (segfault,
kill) or a timeout kills only the child, which is respawned; the run becomes
a ``failed`` outcome with reason ``crashed`` or ``timeout``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from xsweep.core.done import write_done
from xsweep.core.errors import EngineError
from xsweep.core.hooks import DeriveResult
from xsweep.core.records import RunOutcome, now_iso
from xsweep.gmat.pipe import (
    arm_watchdog,
    picklable,
    protocol_streams as protocol_streams,
    recv,
    send,
    spawn,
    stop_process as stop_process,
    wait_reply as wait_reply,
)
from xsweep.gmat.requests import (
    CheckRequest as CheckRequest,
    DeriveRequest as DeriveRequest,
    FieldsRequest as FieldsRequest,
    ModulesRequest as ModulesRequest,
    ReadRequest as ReadRequest,
    RunRequest as RunRequest,
)


def serve() -> None:
    """Child main loop: answer run requests until stdin closes."""
    arm_watchdog()
    proto_in, proto_out = protocol_streams()
    hello = recv(proto_in)
    where = {"engine": hello.get("engine", "auto"), "gmat_root": hello.get("gmat_root")}
    try:
        from xsweep.gmat.engine import get_engine  # after the fd swap: GMAT

        get_engine(where["engine"], gmat_root=where["gmat_root"])
        send(proto_out, {"ready": True, "pid": os.getpid()})
    except Exception as exc:
        send(proto_out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    while True:
        try:
            request = recv(proto_in)
        except EOFError:
            return
        if isinstance(request, ModulesRequest):
            send(proto_out, sorted(sys.modules))
        elif isinstance(request, DeriveRequest):
            from xsweep.gmat.hooks import derive_run

            r = request
            send(proto_out, derive_run(r.run_dir, r.outputs, r.params, r.functions))
        elif isinstance(request, CheckRequest | ReadRequest | FieldsRequest):
            send(proto_out, _answer(request, where))
        else:
            send(proto_out, _run(request))


def _answer(request: CheckRequest | ReadRequest | FieldsRequest, where: dict[str, Any]) -> Any:
    """Answer a question about a script (its fields, a plan check); an error is the reply."""
    from xsweep.gmat.fields import list_fields
    from xsweep.gmat.mission import check_overrides, read_fields

    try:
        if isinstance(request, ReadRequest):
            return read_fields(request.script, request.paths, **where)
        if isinstance(request, FieldsRequest):
            return list_fields(request.script, request.objects, **where)
        allow = request.allow_overwritten
        return check_overrides(request.script, request.overrides, allow_overwritten=allow, **where)
    except Exception as exc:
        return picklable(exc)


def _run(request: RunRequest) -> RunOutcome:
    """Run one mission; then write its done marker (its files are complete)."""
    from xsweep.gmat.mission import run_mission

    t0, started = time.perf_counter(), now_iso()
    try:
        outcome = run_mission(
            request.script,
            request.overrides,
            out_dir=request.out_dir,
            engine=request.engine,
            gmat_root=request.gmat_root,
            keep_raw=request.keep_raw,
            summarize=request.summarize,
            write=request.write,
            envelope=request.envelope,
        )
    except Exception as exc:
        outcome = RunOutcome.failed(
            "exception", f"{type(exc).__name__}: {exc}", started=started, t0=t0
        )
    # Last: its files are complete. A resume adopts the run if its line is lost (a run
    # that keeps no files is run again instead).
    if outcome.kept:
        write_done(request.out_dir, outcome, request.script, request.overrides)
    return outcome


class _DiedBooting(EngineError):
    """The child process died before its engine was up (killed, crashed)."""


class GmatChild:
    """Parent-side handle on one warm GMAT child process.

    Parameters
    ----------
    engine, gmat_root
        Passed to the child's :func:`xsweep.get_engine`.
    """

    # The child's main module; a stand-in engine (xsweep.testing) serves the same protocol.
    module = "xsweep.gmat.child"

    def __init__(
        self, engine: str = "auto", gmat_root: str | None = None, *, wait: bool = True
    ) -> None:
        self.engine = engine
        self.gmat_root = gmat_root
        self.proc: subprocess.Popen[bytes] | None = None
        self._ready = False
        self._pending = False  # a request sent, its reply not read: the pipe is not clean
        self._user_code = False  # it imported a caller's derive function (maybe edited since)
        self._environ: dict[str, str] = {}
        self._scratch = tempfile.mkdtemp(prefix="xsweep-child-")
        self.start(wait=wait)

    @property
    def pid(self) -> int | None:
        """Pid of the live child, if any."""
        return None if self.proc is None else self.proc.pid

    def start(self, *, wait: bool = True) -> None:
        """Start (or restart) the child; with ``wait``, block until its engine is warm.

        Without ``wait`` the child boots in the background (imports, engine
        start-up) and the first request waits for it.
        """
        self._stop()
        self._environ = _environ()
        self._pending = False
        stderr = open(Path(self._scratch) / "stderr.txt", "wb")  # noqa: SIM115
        try:  # in its scratch directory, which holds its temporary files (GMAT's runtime
            # folder, load logs): close() or its watchdog removes them, even after a SIGKILL
            self.proc, self._watch = spawn(
                self.module,
                self._scratch,
                env={**os.environ, "TMPDIR": self._scratch, "XSWEEP_LEAN": "1"},
                stderr=stderr,
            )
        finally:
            stderr.close()
        self._ready = False
        assert self.proc.stdin is not None
        send(self.proc.stdin, self.hello())
        if wait:
            self.wait_ready()

    def hello(self) -> dict[str, Any]:
        """Return the first message the child reads: what it starts."""
        return {"engine": self.engine, "gmat_root": self.gmat_root}

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until the child's engine is up; raise EngineError if it failed."""
        if self._ready:
            return
        try:
            reply = self._wait(timeout=timeout)
        except EOFError:
            code = self._stop()
            tail = self._stderr_tail()
            raise _DiedBooting(
                f"the GMAT child exited while starting ({_describe(code)}){_tail(tail)}"
            ) from None
        if not isinstance(reply, dict) or not reply.get("ready"):
            detail = reply.get("error") if isinstance(reply, dict) else self._stderr_tail()
            self._stop()
            raise EngineError(f"the GMAT child process failed to start: {detail}")
        self._ready = True

    def _stderr_tail(self, limit: int = 2000) -> str:
        try:
            return (Path(self._scratch) / "stderr.txt").read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def _wait(self, timeout: float | None) -> Any:
        """Wait for one reply; ``None`` on timeout; raise EOFError if the child died."""
        assert self.proc is not None
        assert self.proc.stdout is not None
        return wait_reply(self.proc.stdout, timeout)

    def _ensure_ready(self) -> None:
        """Start the child if it never started or died; else wait for it to finish booting."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        else:
            self.wait_ready()

    def _exchange(self, request: Any, timeout: float | None) -> Any:
        """Send one request and wait for its reply (``None`` on timeout)."""
        assert self.proc is not None
        assert self.proc.stdin is not None
        self._pending = True
        send(self.proc.stdin, request)
        reply = self._wait(timeout)
        self._pending = reply is None
        return reply

    @property
    def reusable(self) -> bool:
        """Whether another sweep of this process may take it over as it is.

        Alive, idle (no request in flight: an interrupted one leaves a reply in the
        pipe), never given a caller's own derive function (the module may have been
        edited since it was imported), and started under the environment there is now.
        """
        return (
            self.proc is not None
            and self.proc.poll() is None
            and not self._pending
            and not self._user_code
            and self._environ == _environ()
        )

    def _guarded(self, request: Any, timeout: float | None) -> tuple[str, Any]:
        """Exchange one request; a crash or timeout kills the child and starts another.

        Returns ``("ok", reply)``; ``("boot", why)`` if the child died starting;
        ``("crashed", why)`` if it exited during the request; ``("timeout", None)``.
        The new child boots in the background: the failure is reported at once
        and the next request waits for it (and fails as crashed if it never boots).
        """
        try:
            self._ensure_ready()
        except _DiedBooting as exc:
            return "boot", str(exc)
        try:
            reply = self._exchange(request, timeout)
        except (EOFError, BrokenPipeError):
            code = self._stop()
            tail = self._stderr_tail()
            self.start(wait=False)
            return "crashed", f"({_describe(code)}){_tail(tail)}"
        if reply is None:
            self.kill()
            self.start(wait=False)
            return "timeout", None
        return "ok", reply

    def run(self, request: RunRequest, *, timeout: float | None = None) -> RunOutcome:
        """Run one mission in the child; crashes and timeouts become failed outcomes."""
        t0, started = time.perf_counter(), now_iso()
        kind, reply = self._guarded(request, timeout)
        if kind in ("boot", "crashed"):
            why = reply if kind == "boot" else f"GMAT child exited {reply}"
            return RunOutcome.failed("crashed", why, started=started, t0=t0)
        if kind == "timeout":
            why = f"run exceeded timeout={timeout} s; GMAT child killed"
            return RunOutcome.failed("timeout", why, started=started, t0=t0)
        assert isinstance(reply, RunOutcome)
        return reply

    def derive(
        self, request: DeriveRequest, *, timeout: float | None = None
    ) -> tuple[DeriveResult, ...]:
        """Call a run's derive functions in the child; a crash or timeout fails each of them."""
        if any(f.builtin is None for f in request.functions):
            self._user_code = True
        kind, reply = self._guarded(request, timeout)
        if kind == "ok":
            assert isinstance(reply, tuple)
            return reply
        if kind == "boot":
            why = f"crashed: {reply}"
        elif kind == "crashed":
            why = f"crashed: the child calling it exited {reply}"
        else:
            why = f"timeout: derive exceeded timeout={timeout} s; its child was killed"
        return tuple(
            DeriveResult(f.ref, f.sha256, "derive-failed", error=why) for f in request.functions
        )

    def check(
        self, request: CheckRequest | ReadRequest | FieldsRequest, *, timeout: float = 300.0
    ) -> Any:
        """Run the planning check (or a field read) in the child; re-raise its error here."""
        self._ensure_ready()
        try:
            reply = self._exchange(request, timeout)
        except (EOFError, BrokenPipeError):
            code = stop_process(self.proc)  # type: ignore[arg-type]
            raise EngineError(
                f"the GMAT child exited while loading the script ({_describe(code)})"
                f"{_tail(self._stderr_tail())}"
            ) from None
        if reply is None:
            self.kill()
            raise EngineError(f"loading the script took longer than {timeout} s")
        if isinstance(reply, Exception):
            raise reply
        return reply

    def modules(self, *, timeout: float = 60.0) -> list[str]:
        """Return the names of the modules the child has imported."""
        self._ensure_ready()
        reply = self._exchange(ModulesRequest(), timeout)
        if not isinstance(reply, list):
            raise EngineError("the GMAT child did not list its modules")
        return [str(name) for name in reply]

    def kill(self) -> None:
        """Kill the child now."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """Stop the child for good and remove its scratch directory."""
        self._stop()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def _stop(self) -> int | None:
        """Stop the child: close its stdin, wait briefly, then kill; its exit code."""
        if self.proc is None:
            return None
        try:
            return stop_process(self.proc)
        finally:
            self.proc = None
            os.close(self._watch)  # its watchdog wakes, finds it gone, and exits


def _environ() -> dict[str, str]:
    """Return the environment a child starts with, less what changes with no effect on it."""
    env = dict(os.environ)
    env.pop("PYTEST_CURRENT_TEST", None)  # pytest rewrites it for every test
    return env


def _describe(code: int | None) -> str:
    if code is None:
        return "not running"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _tail(text: str) -> str:
    text = text.strip()
    return f"; stderr tail:\n{text}" if text else ""


if __name__ == "__main__":
    # Run the imported module's serve, so pickled requests match its classes (not __main__'s).
    from xsweep.gmat.child import serve as _serve

    _serve()
    # Every reply is flushed and every output renamed into place: skip GMAT's and the
    # interpreter's teardown, which only delays the sweep's shutdown.
    sys.stderr.flush()
    os._exit(0)
