"""The scale model as an asv suite: orchestration throughput with GMAT stood in for.

See ``benchmarks/scale.py`` for the full model (10^4..10^6 runs, each in a
fresh interpreter, with client CPU, RSS and fsync figures).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import xsweep as xs
from xsweep.gmat.child import GmatChild, RunRequest
from xsweep.testing.engines import CannedRuns

from ._common import MISSION, pick


class ScaleModel:
    """A Monte Carlo sweep whose runs copy one real run's outputs: client, Dask, manifest, store."""

    params = (pick([2000], [100]), [1, 10, "auto"])
    param_names = ("runs", "runs_per_task")
    timeout = 600

    def setup(self, runs: int, runs_per_task: int | str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="xsweep-bench-scale-"))
        template = self.tmp / "template"
        child = GmatChild("embedded")
        try:
            request = RunRequest(str(MISSION), {"TOF": 60.0}, str(template), "embedded")
            outcome = child.run(request)
        finally:
            child.close()
        self.canned = CannedRuns(template, outcome)
        self.space = xs.monte_carlo(runs, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1).merge(
            xs.grid({"TOF": [60.0]})
        )
        self.i = 0

    def teardown(self, runs: int, runs_per_task: int | str) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_sweep(self, runs: int, runs_per_task: int | str) -> None:
        self.i += 1
        sweep = xs.run(MISSION, self.space, out=self.tmp / f"s{self.i}", workers=2,
                       runs_per_task=runs_per_task, progress=False,
                       cluster_kwargs={"plugins": {self.canned}})  # fmt: skip
        assert sweep.counts["ok"] == runs
