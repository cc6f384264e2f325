"""Sweep throughput end to end: ``xs.run`` on an embedded 2-worker Dask cluster."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import xsweep as xs

from ._common import MISSION, QUICK, TOF, sma


class SweepThroughput:
    """N runs of the 1-day and the 60 s LEO mission, 2 workers, cluster start-up included."""

    params = (list(TOF), [8] if QUICK else [200])
    param_names = ("mission", "n")
    timeout = 600
    number = 1
    repeat = (1, 3, 300.0)

    def setup(self, mission: str, n: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="xsweep-bench-"))
        self.space = xs.samples({"Sat.SMA": sma(n), "TOF": [TOF[mission]] * n})
        self.k = 0

    def teardown(self, mission: str, n: int) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_sweep(self, mission: str, n: int) -> None:
        self.k += 1
        sweep = xs.run(
            MISSION,
            self.space,
            out=self.tmp / f"s{self.k}",
            workers=2,
            progress=False,
            cluster_kwargs={"dashboard_address": ":0"},
        )
        assert sweep.counts["ok"] == n

    def track_runs_per_second(self, mission: str, n: int) -> float:
        import time

        t0 = time.perf_counter()
        self.time_sweep(mission, n)
        return n / (time.perf_counter() - t0)

    track_runs_per_second.unit = "runs/s"  # type: ignore[attr-defined]
