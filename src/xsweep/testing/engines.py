"""A stand-in for GMAT: runs that copy one finished run's outputs.

``benchmarks/scale.py`` measures xsweep's orchestration (client, scheduler,
manifest, store) at 10^4..10^6 runs, where GMAT itself would hide it. A sweep
given :class:`CannedRuns` as a worker plugin runs no GMAT: every run
hard-links a finished run's files into its own directory and reports the same
outcome (with its own times and process), then writes its done marker as a
GMAT child does. Nothing in xsweep switches it on by itself::

    canned = CannedRuns.record("mission.script", {"TOF": 60.0}, workdir)
    xs.run("mission.script", space, out="s/", cluster_kwargs={"plugins": {canned}})

It replaces the warm GMAT children of an embedded cluster's workers (the plan
is still checked by a real GMAT child); with ``isolation="process"`` runs use
GMAT as always.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from xsweep.core.hooks import DeriveResult
from xsweep.core.records import RunOutcome, now_iso
from xsweep.execute.worker import GmatChildPlugin
from xsweep.gmat.hooks import derive_run
from xsweep.gmat.mission import run_mission
from xsweep.gmat.requests import DeriveRequest, RunRequest
from xsweep.testing.sleeper import copy_run


class CannedRuns(GmatChildPlugin):
    """A worker plugin whose "children" copy the finished run in ``template``.

    Parameters
    ----------
    template : path-like
        A finished run's directory (its outputs and log).
    outcome : RunOutcome
        That run's outcome: every canned run reports it.
    engine, gmat_root
        The sweep's engine options (the plugin takes the name of the one it replaces).
    """

    def __init__(
        self,
        template: str | os.PathLike[str],
        outcome: RunOutcome,
        engine: str = "auto",
        gmat_root: str | None = None,
    ) -> None:
        super().__init__(engine, gmat_root)
        self.template = str(template)
        self.outcome = outcome

    @classmethod
    def record(
        cls,
        script: str | os.PathLike[str],
        overrides: Mapping[str, Any],
        workdir: str | os.PathLike[str],
        **engine: Any,
    ) -> CannedRuns:
        """Run ``script`` once for real (in this process) and can that run."""
        template = Path(workdir) / "template"
        outcome = run_mission(script, overrides, out_dir=template, summarize=True)
        if not outcome.ok:
            raise RuntimeError(f"the template run failed: {outcome.error}")
        return cls(template, outcome, **engine)

    def setup(self, worker: Any) -> None:
        """Start nothing: a canned run needs no GMAT."""

    def teardown(self, worker: Any) -> None:
        """Stop nothing."""

    def child(self, worker: Any) -> CannedChild:
        """Return a stand-in for the worker's GMAT child."""
        return CannedChild(self.template, self.outcome)


class CannedChild:
    """What a task sees in place of a :class:`~xsweep.gmat.child.GmatChild`."""

    def __init__(self, template: str, outcome: RunOutcome) -> None:
        self.template = template
        self.outcome_now = replace(outcome, gmat_s=0.0)  # a canned run spends no time in GMAT

    def run(self, request: RunRequest, *, timeout: float | None = None) -> RunOutcome:
        """Copy the template run's files into ``request.out_dir``; report its outcome."""
        t0, started = time.perf_counter(), now_iso()
        return copy_run(self.template, self.outcome_now, request, t0=t0, started=started)

    def derive(
        self, request: DeriveRequest, *, timeout: float | None = None
    ) -> tuple[DeriveResult, ...]:
        """Call the derive functions here (no GMAT is involved in deriving)."""
        return tuple(
            derive_run(request.run_dir, request.outputs, request.params, request.functions)
        )

    def check(self, request: Any) -> Any:
        """Refuse: a canned run checks no plan (the client's GMAT child does)."""
        raise NotImplementedError("CannedRuns checks no plan: pass no client= with it")

    def close(self) -> None:
        """Nothing to stop."""
