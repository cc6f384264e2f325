"""The big-node model: a 64- or 128-core machine's orchestration, measured on 2 cores.

A sweep given :class:`SleepingRuns` as a worker plugin runs no GMAT: each
worker's child is a real process serving the GMAT child's protocol over its
pipe (:mod:`xsweep.testing.sleeper`) that sleeps for the run's duration and
then links one finished run's files into place. A sleeping child costs
almost no CPU, so a machine with 2 cores can carry 128 of them, and what
limits the achieved rate is xsweep and Dask: the client, the scheduler, the
workers and the pipes, as on a big node where GMAT has cores of its own.
Nothing in xsweep switches it on by itself::

    stand_in = SleepingRuns.record("mission.script", {"TOF": 60.0}, workdir,
                                   durations=Durations(0.02))
    xs.run("mission.script", space, out="s/", workers=64,
           cluster_kwargs={"plugins": {stand_in}})

Each outcome's ``gmat_s`` is the time its child slept, so the ideal rate of
a sweep (every worker always sleeping) follows from the sweep's own
manifest: :func:`ideal_rate`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from xsweep.core.records import RunOutcome
from xsweep.execute.worker import GmatChildPlugin
from xsweep.gmat.child import GmatChild
from xsweep.gmat.requests import RunRequest
from xsweep.testing.sleeper import Durations

__all__ = ["Durations", "SleepingChild", "SleepingRuns", "ideal_rate", "steady_rate"]


class SleepingChild(GmatChild):
    """A worker's child that sleeps instead of flying (see :mod:`xsweep.testing.sleeper`)."""

    module = "xsweep.testing.sleeper"

    def __init__(
        self, template: str, outcome: RunOutcome, durations: Durations, *, wait: bool = True
    ) -> None:
        self.template, self.outcome, self.durations = template, outcome, durations
        super().__init__(wait=wait)

    def hello(self) -> dict[str, Any]:
        """Tell the child which run it copies and how long each run sleeps."""
        return {"template": self.template, "outcome": self.outcome, "durations": self.durations}


class SleepingRuns(GmatChildPlugin):
    """A worker plugin whose children sleep for each run, then copy ``template``'s files.

    Parameters
    ----------
    template : path-like
        A finished run's directory (its outputs and log).
    outcome : RunOutcome
        That run's outcome: every stand-in run reports it, with its own times.
    durations : Durations
        How long each run sleeps.
    engine, gmat_root
        The sweep's engine options (the plugin takes the name of the one it replaces).
    """

    def __init__(
        self,
        template: str | os.PathLike[str],
        outcome: RunOutcome,
        durations: Durations,
        engine: str = "auto",
        gmat_root: str | None = None,
    ) -> None:
        super().__init__(engine, gmat_root)
        self.template = str(template)
        self.outcome = outcome
        self.durations = durations

    @classmethod
    def record(
        cls,
        script: str | os.PathLike[str],
        overrides: Mapping[str, Any],
        workdir: str | os.PathLike[str],
        *,
        durations: Durations,
        **engine: Any,
    ) -> SleepingRuns:
        """Fly ``script`` once for real, in a GMAT child, and stand in with that run."""
        template = Path(workdir).resolve() / "template"
        child = GmatChild(engine.get("engine", "auto"), engine.get("gmat_root"))
        try:
            request = RunRequest(str(Path(script).resolve()), dict(overrides), str(template))
            outcome = child.run(request, timeout=600.0)
        finally:
            child.close()
        if not outcome.ok:
            raise RuntimeError(f"the template run failed: {outcome.error}")
        return cls(template, outcome, durations, **engine)

    adopts_spares = False  # the planning check's child runs GMAT: not a sleeper

    def new_child(self, *, wait: bool) -> SleepingChild:
        """Start a sleeping child for a worker."""
        return SleepingChild(self.template, self.outcome, self.durations, wait=wait)


def ideal_rate(outcomes: Iterable[RunOutcome], workers: int) -> float:
    """Return runs/s if ``workers`` were always sleeping: runs x workers / total sleep."""
    slept = [max(o.gmat_s, 0.0) for o in outcomes]
    total = sum(slept)
    return len(slept) * workers / total if total > 0 else float("inf")


def steady_rate(outcomes: Iterable[RunOutcome], *, lo: float = 0.1, hi: float = 0.9) -> float:
    """Return runs/s between the ``lo`` and ``hi`` fractions of the runs' ends.

    The start-up (cluster, children, tasks growing to their size) and the
    last runs' tail are left out: the rate a long sweep holds.
    """
    ends = sorted(datetime.fromisoformat(o.ended).timestamp() for o in outcomes if o.ended)
    if len(ends) < 10:
        raise ValueError(f"a steady rate needs at least 10 runs, got {len(ends)}")
    a, b = int(lo * (len(ends) - 1)), int(hi * (len(ends) - 1))
    return (b - a) / max(ends[b] - ends[a], 1e-9)
