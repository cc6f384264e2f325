"""The scale model as an asv suite: orchestration throughput with GMAT stood in for.

See ``benchmarks/scale.py`` for the full model (10^4..10^6 runs, each in a
fresh interpreter, with client CPU, RSS and fsync figures).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import xsweep as xs
from xsweep import _scale_model
from xsweep.gmat.child import GmatChild, RunRequest

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
        spec = self.tmp / "template.json"
        spec.write_text(json.dumps({"dir": str(template), "outcome": outcome.to_dict()}))
        self.previous = os.environ.get(_scale_model.ENV)
        os.environ[_scale_model.ENV] = str(spec)
        self.space = xs.monte_carlo(runs, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1).merge(
            xs.grid({"TOF": [60.0]})
        )
        self.i = 0

    def teardown(self, runs: int, runs_per_task: int | str) -> None:
        if self.previous is None:
            os.environ.pop(_scale_model.ENV, None)
        else:
            os.environ[_scale_model.ENV] = self.previous
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_sweep(self, runs: int, runs_per_task: int | str) -> None:
        self.i += 1
        sweep = xs.run(MISSION, self.space, out=self.tmp / f"s{self.i}", workers=2,
                       runs_per_task=runs_per_task, progress=False)  # fmt: skip
        assert sweep.counts["ok"] == runs
