"""Per-run overhead: one run through xsweep against a bare call of the same warm engine."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from xsweep.gmat.child import GmatChild, RunRequest
from xsweep.gmat.engine import get_engine
from xsweep.gmat.mission import run_mission

from ._common import MISSION, TOF


class PerRunOverhead:
    """One run of the LEO mission: bare engine call, ``run_mission``, a warm GMAT child.

    The bare call loads the script, sets the fields, runs GMAT and parses the
    report (gmat-run): what any tool must do to get the data. ``run_mission``
    adds the Parquet output and the log; the child adds the pipe round trip a
    Dask task pays.
    """

    params = (list(TOF),)
    param_names = ("mission",)

    def setup(self, mission: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="xsweep-bench-"))
        self.engine = get_engine("embedded")
        self.overrides = {"Sat.SMA": 7000.0, "TOF": TOF[mission]}
        self.child = GmatChild("embedded")
        self.i = 0
        self.time_bare_engine_call(mission)  # warm every path once
        self.time_run_mission(mission)
        self.time_warm_child(mission)

    def teardown(self, mission: str) -> None:
        self.child.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_bare_engine_call(self, mission: str) -> None:
        m = self.engine.load(MISSION)
        m["Sat.SMA"] = self.overrides["Sat.SMA"]
        m["TOF.Value"] = self.overrides["TOF"]
        result = m.run(working_dir=self.tmp / "bare", overwrite=True)
        assert len(result.reports["RF"]) > 0

    def time_run_mission(self, mission: str) -> None:
        self.i += 1
        outcome = run_mission(MISSION, self.overrides, out_dir=self.tmp / f"m{self.i}")
        assert outcome.ok

    def time_warm_child(self, mission: str) -> None:
        self.i += 1
        request = RunRequest(str(MISSION), self.overrides, str(self.tmp / f"c{self.i}"))
        assert self.child.run(request).ok
