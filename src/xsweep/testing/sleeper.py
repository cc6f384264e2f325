"""The child of the big-node model: sleeps for a run's duration, then copies a real run.

``python -m xsweep.testing.sleeper`` serves the GMAT child's protocol
(:mod:`xsweep.gmat.child`) with no GMAT: a run sleeps for its drawn
duration (the time GMAT would take, costing no CPU), hard-links a finished
run's files into its directory, writes its done marker and replies with
that run's outcome. It imports only what a lean GMAT child imports, so what
a big node would spend outside GMAT is what :mod:`xsweep.testing.node`
measures.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass, replace
from typing import Any

from xsweep.core.done import write_done
from xsweep.core.records import RunOutcome, now_iso
from xsweep.gmat.pipe import arm_watchdog, picklable, protocol_streams, recv, send
from xsweep.gmat.requests import DeriveRequest, RunRequest


@dataclass(frozen=True)
class Durations:
    """How long each stand-in run takes: fixed, or drawn from a heavy-tailed law.

    Parameters
    ----------
    median : float
        Seconds: every run's duration when ``sigma`` is 0, else the median.
    sigma : float
        Log-normal shape: 0 for a fixed duration; 1 gives a tail where one
        run in a hundred takes ten times the median.
    seed : int
        Draws are a function of the seed and the run's directory name, so a
        run draws the same duration on every machine and every rerun.
    """

    median: float
    sigma: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.median) and self.median >= 0):
            raise ValueError(f"median must be a finite duration >= 0, got {self.median!r}")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be finite and >= 0, got {self.sigma!r}")

    def draw(self, out_dir: str) -> float:
        """Return the duration of the run writing to ``out_dir``."""
        if self.sigma == 0 or self.median == 0:
            return self.median
        rng = random.Random(f"{self.seed}:{os.path.basename(out_dir)}")
        return rng.lognormvariate(math.log(self.median), self.sigma)


def copy_run(
    template: str, outcome: RunOutcome, request: RunRequest, *, t0: float, started: str
) -> RunOutcome:
    """Link the finished run in ``template`` into ``request.out_dir``; its done marker last.

    Returns ``outcome`` with this run's times and process. ``gmat_s`` keeps
    the outcome's value (the stand-in's sleep, for the node model). A request
    that keeps summaries gets the template's (and no files unless ``write``), one
    with an envelope the template's grid values.
    """
    outcome = _as_asked(template, outcome, request)
    if not outcome.kept:
        return replace(outcome, started=started, ended=now_iso(), pid=os.getpid(),
                       duration_s=time.perf_counter() - t0)  # fmt: skip
    os.makedirs(request.out_dir, exist_ok=True)
    names = [o.path for o in outcome.outputs] + ([outcome.log] if outcome.log else [])
    for name in names:
        target = os.path.join(request.out_dir, name)
        try:
            os.link(os.path.join(template, name), target)
        except OSError:  # another file system, or already there (a retry)
            if not os.path.exists(target):
                shutil.copyfile(os.path.join(template, name), target)
    outcome = replace(outcome, started=started, ended=now_iso(), pid=os.getpid(),
                      duration_s=time.perf_counter() - t0)  # fmt: skip
    write_done(request.out_dir, outcome, request.script, request.overrides)
    return outcome


_GRIDS: dict[tuple[str, Any], Any] = {}  # the template's grid values, by envelope


def _as_asked(template: str, outcome: RunOutcome, request: RunRequest) -> RunOutcome:
    """Return the template's outcome as ``request`` asks it: summaries, files, grid values."""
    if not request.summarize:
        outcome = replace(outcome, outputs=tuple(replace(o, summary=None) for o in outcome.outputs))
    if not request.write:
        outcome = replace(outcome.unshipped(), kept=False, log=None)
    spec = request.envelope
    if spec is not None:
        if (template, spec) not in _GRIDS:
            import pyarrow.parquet as pq

            from xsweep.gmat.summary import on_grid

            grids = {}
            for out in outcome.outputs:
                if out.kind in ("report", "ephemeris") and spec.output in (None, out.name):
                    table = pq.read_table(os.path.join(template, out.path))
                    grids[out.name] = on_grid(table, spec.step, spec.stop, spec.columns)
                    break
            _GRIDS[(template, spec)] = grids or None
        outcome = replace(outcome, grid=_GRIDS[(template, spec)])
    return outcome


def serve() -> None:
    """Answer run and derive requests until stdin closes; refuse anything else."""
    arm_watchdog()
    proto_in, proto_out = protocol_streams()
    hello = recv(proto_in)
    template, outcome, durations = hello["template"], hello["outcome"], hello["durations"]
    send(proto_out, {"ready": True, "pid": os.getpid()})
    while True:
        try:
            request = recv(proto_in)
        except EOFError:
            return
        send(proto_out, _answer(request, template, outcome, durations))


def _answer(request: Any, template: str, outcome: RunOutcome, durations: Durations) -> Any:
    if isinstance(request, RunRequest):
        t0, started = time.perf_counter(), now_iso()
        time.sleep(durations.draw(request.out_dir))
        slept = time.perf_counter() - t0
        return copy_run(template, replace(outcome, gmat_s=slept), request, t0=t0, started=started)
    if isinstance(request, DeriveRequest):
        from xsweep.gmat.hooks import derive_run

        return derive_run(request.run_dir, request.outputs, request.params, request.functions)
    return picklable(NotImplementedError(f"the sleeping stand-in answers no {request!r}"))


if __name__ == "__main__":
    from xsweep.testing.sleeper import serve as _serve  # the module's classes, not __main__'s

    _serve()
    sys.stderr.flush()
    os._exit(0)
