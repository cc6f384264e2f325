"""Running statistics as a Monte Carlo grows, and extending until a mean converges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS

REPORT = MISSIONS / "leo_report.script"


def test_running_statistics_are_those_of_each_prefix() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(10.0, 2.0, 1000)
    y[[5, 600]] = np.nan  # failed runs: not counted
    ds = xr.Dataset({"v": ("sample", y)}, coords={"sample": np.arange(1000)})
    c = ds.xsweep.convergence("v", q=(0.1, 0.5))
    assert c["n"].values[-1] == 1000
    assert np.all(np.diff(c["n"].values) > 0)
    for n in (c["n"].values[3], 100, 1000):
        if n not in c["n"].values:
            continue
        head = y[:n][np.isfinite(y[:n])]
        one = c.sel(n=n)
        assert one["count"].item() == head.size
        assert one["mean"].item() == pytest.approx(head.mean(), rel=1e-12)
        assert one["std"].item() == pytest.approx(head.std(ddof=1), rel=1e-12)
        assert one["mean_se"].item() == pytest.approx(head.std(ddof=1) / np.sqrt(head.size))
        assert one["q_value"].sel(quantile=0.5).item() == pytest.approx(np.median(head))
    last = c.sel(n=1000, quantile=0.5)
    assert last["q_lo"] <= last["q_value"] <= last["q_hi"]
    with pytest.raises(xs.ConfigError, match="series over 'step'"):
        xr.Dataset({"s": (("sample", "step"), np.zeros((3, 2)))}).xsweep.convergence("s")


def test_extend_until_stops_resumes_and_matches_plain_extends(tmp_path: Path) -> None:
    space = xs.monte_carlo(6, {"Sat.SMA": ("normal", 7000.0, 20.0)}, seed=5)
    space = space.merge(xs.grid({"TOF": [600]}))
    out = tmp_path / "s"
    xs.run(REPORT, space, out=out, workers=2, progress=False)
    # Wide enough already: nothing runs.
    assert xs.extend_until(out, "Sat.Earth.Altitude", rtol=1.0, batch=4, max_runs=20,
                           workers=2, progress=False).n_runs == 6  # fmt: skip
    # A killed client: its last two records never reached the manifest.
    manifest = out / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-2]))
    sweep = xs.extend_until(out, "Sat.Earth.Altitude", rtol=1e-12, batch=4, max_runs=14,
                            workers=2, progress=False)  # fmt: skip
    assert sweep.counts == {"ok": 14, "failed": 0, "pending": 0}
    kinds = [json.loads(line)["kind"] for line in manifest.read_text().splitlines()]
    assert kinds.count("extend") == 2  # 6 -> 10 -> 14, the last batch cut at max_runs
    # The same runs as plain extends of the same sizes.
    plain = tmp_path / "p"
    xs.run(REPORT, space, out=plain, workers=2, progress=False)
    xs.extend(plain, 4, workers=2, progress=False)
    xs.extend(plain, 4, workers=2, progress=False)
    a, b = xs.Sweep(out).runs()["Sat.SMA"], xs.Sweep(plain).runs()["Sat.SMA"]
    assert a.to_numpy().tobytes() == b.to_numpy().tobytes()
    c = xs.open_sweep(out).xsweep.final().squeeze("TOF").xsweep.convergence("Sat.Earth.Altitude")
    assert c["count"].values[-1] == 14
    proc = subprocess.run(
        [sys.executable, "-m", "xsweep", "extend-until", str(out), "--var", "Sat.Earth.Altitude",
         "--rtol", "1", "--batch", "2", "--max-runs", "100", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "14 runs" in proc.stdout or "14 ok" in proc.stdout
    with pytest.raises(xs.ConfigError, match="rtol must be a positive number"):
        xs.extend_until(out, "Sat.Earth.Altitude", rtol=0, batch=4, max_runs=20)
    with pytest.raises(xs.ConfigError, match="neither a derived quantity nor a column"):
        xs.extend_until(out, "nope", rtol=0.1, batch=4, max_runs=20)
