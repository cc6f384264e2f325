"""The manifest: fsynced appends and loading (no GMAT)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from xsweep.core.paths import MANIFEST_NAME
from xsweep.core.records import RunRecord
from xsweep.record.manifest import Manifest, ManifestWriter, write_header

from ._common import pick


def _record(run_id: int) -> RunRecord:
    rel = f"runs/run-{run_id:06d}"
    line = {
        "run_id": run_id,
        "index": [run_id],
        "labels": {},
        "overrides": {"Sat.SMA": 7000.0 + run_id * 1e-3, "TOF": 60.0},
        "script_sha256": "0" * 64,
        "status": "ok",
        "reason": None,
        "outputs": [
            {"kind": "report", "name": "RF", "path": f"{rel}/report-RF.parquet", "rows": 900}
        ],
        "started": "2026-01-01T00:00:00.000000+00:00",
        "ended": "2026-01-01T00:00:00.070000+00:00",
        "duration_s": 0.07,
        "gmat_s": 0.04,
        "error": None,
        "log": f"{rel}/gmat.log",
        "host": "bench",
        "pid": 1234,
        "extra": {"attempts": 1},
    }
    return RunRecord.from_dict(line)


class ManifestSuite:
    """Append ``n`` records one fsync at a time; load a manifest of ``n`` records."""

    params = (pick([10_000], [200]),)
    param_names = ("n",)
    timeout = 300

    def setup(self, n: int) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="xsweep-bench-"))
        self.records = [_record(i) for i in range(n)]
        self.full = self.tmp / "full"
        self.full.mkdir()
        write_header(self.full / MANIFEST_NAME, {"sweep_id": "bench", "n_runs": n})
        with ManifestWriter(self.full) as writer:
            for rec in self.records:
                writer.append(rec)

    def teardown(self, n: int) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def time_append(self, n: int) -> None:
        target = Path(tempfile.mkdtemp(dir=self.tmp))
        write_header(target / MANIFEST_NAME, {"sweep_id": "bench", "n_runs": n})
        with ManifestWriter(target) as writer:
            for rec in self.records:
                writer.append(rec)

    def time_load(self, n: int) -> None:
        Manifest.load(self.full / MANIFEST_NAME)

    def peakmem_load(self, n: int) -> Manifest:
        return Manifest.load(self.full / MANIFEST_NAME)
