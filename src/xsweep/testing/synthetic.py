"""Synthetic sweep directories: a real manifest and per-run Parquet, no GMAT.

The store benchmarks need thousands of runs of long reports; running GMAT
for them would measure GMAT. These directories have what a sweep writes
(a manifest header with a Monte Carlo space, one record per run, one
``report-RF.parquet`` per ok run) with made-up orbits, so consolidation,
``open_sweep`` and ``to_dataframe`` see exactly what they see after a sweep.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import xsweep as xs
from xsweep.core.paths import MANIFEST_NAME
from xsweep.record.manifest import write_header

FAIL_EVERY = 50  # one run in 50 failed, as a real sweep may have
COLUMNS = ("Sat.ElapsedSecs", "Sat.X", "Sat.Y", "Sat.Z", "Sat.VX", "Sat.Earth.Altitude")


def _report(steps: int, sma: float, rng: np.random.Generator) -> pa.Table:
    t = np.cumsum(rng.uniform(30.0, 90.0, steps)) - 30.0
    t[0] = 0.0
    n = np.sqrt(398600.4418 / sma**3)
    epoch = np.datetime64("2026-01-01T12:00:00", "ns") + (t * 1e9).astype("timedelta64[ns]")
    x, y = sma * np.cos(n * t), sma * np.sin(n * t)
    data = {
        "Sat.UTCGregorian": epoch,
        "Sat.ElapsedSecs": t,
        "Sat.X": x,
        "Sat.Y": y,
        "Sat.Z": 0.1 * y,
        "Sat.VX": -sma * n * np.sin(n * t),
        "Sat.Earth.Altitude": np.hypot(x, y) - 6378.1363,
    }
    return pa.table(data)


def make_sweep(path: Path, n_runs: int, steps: int, *, seed: int = 0, shared: bool = False) -> Path:
    """Write a synthetic sweep of ``n_runs`` runs with ``steps``-row reports to ``path``.

    With ``shared``, every ok run's record names run 0's Parquet (written once):
    a sweep of many runs made in a second, for what reads runs, not writes them.
    """
    path.mkdir(parents=True, exist_ok=True)
    space = xs.Space(xs.monte_carlo(n_runs, {"Sat.SMA": ("normal", 7000.0, 50.0)}, seed=seed))
    sha = "0" * 64
    write_header(
        path / MANIFEST_NAME,
        {
            "sweep_id": uuid.uuid4().hex,
            "created": "2026-01-01T00:00:00Z",
            "script": {"file": "mission.script", "source": "synthetic", "name": "synthetic"},
            "script_sha256": sha,
            "n_runs": n_runs,
            "dims": dict(zip(space.dims, space.shape, strict=True)),
            "fields": list(space.fields),
            "seeds": space.seeds,
            "space": space.to_dict(),
            "engine": {},
            "options": {},
            "versions": {},
        },
    )
    rng = np.random.default_rng(seed)
    smas = space.dataset["Sat.SMA"].values
    lines = []
    out: dict[str, object] = {}
    for run_id in range(n_runs):
        run_dir = f"runs/run-{run_id:06d}"
        record: dict[str, object] = {
            "kind": "run",
            "run_id": run_id,
            "index": [run_id],
            "labels": {},
            "overrides": {"Sat.SMA": float(smas[run_id])},
            "script_sha256": sha,
            "started": "2026-01-01T00:00:00Z",
            "ended": "2026-01-01T00:00:01Z",
            "duration_s": 0.05,
        }
        if run_id % FAIL_EVERY == FAIL_EVERY - 1:
            record |= {"status": "failed", "reason": "gmat-error", "error": "synthetic failure"}
            record["outputs"] = []
        elif shared and run_id > 0:
            pass  # run 0's output
        else:
            (path / run_dir).mkdir(parents=True, exist_ok=True)
            rows = steps - int(rng.integers(0, max(steps // 10, 1)))  # adaptive steps differ
            pq.write_table(
                _report(rows, float(smas[run_id]), rng), path / run_dir / "report-RF.parquet"
            )
            out = {
                "kind": "report",
                "name": "RF",
                "path": f"{run_dir}/report-RF.parquet",
                "rows": rows,
            }
        if record.get("status") != "failed":
            record |= {"status": "ok", "reason": None, "outputs": [out]}
        lines.append(json.dumps(record) + "\n")
    with open(path / MANIFEST_NAME, "a", encoding="utf-8") as f:
        f.writelines(lines)
    return path
