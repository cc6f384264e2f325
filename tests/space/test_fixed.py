"""Constants (``xs.fixed``, ``--fixed``): every run gets the value, no variable gets a dim."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS
from xsweep.cli.main import main

REPORT = MISSIONS / "leo_report.script"


def test_fixed_builds_zero_dim_fields_and_refuses_several_values() -> None:
    space = xs.fixed({"TOF": 600.0, "Sat.Epoch": "01 Jan 2026 00:00:00.000"})
    assert dict(space.sizes) == {}
    assert space["TOF"].dims == ()
    with pytest.raises(xs.SpaceError, match="takes one value"):
        xs.fixed({"TOF": [600.0, 1200.0]})
    with pytest.raises(xs.SpaceError, match="not a GMAT field path"):
        xs.fixed({"1bad": 1.0})
    with pytest.raises(xs.SpaceError, match="must be finite"):
        xs.fixed({"TOF": float("nan")})
    mc = xs.monte_carlo(5, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=3)
    merged = xs.Space(xr.merge([mc, space]))
    assert merged.n_runs == 5
    assert "TOF (fixed)" in repr(merged)
    assert [merged.run(i).overrides["TOF"] for i in range(5)] == [600.0] * 5
    again = xs.Space.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert again.run(4).overrides == merged.run(4).overrides


def test_a_fixed_field_reaches_gmat_and_adds_no_dim(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    mc = xs.monte_carlo(4, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=3)
    sweep = xs.run(REPORT, xr.merge([mc, xs.fixed({"TOF": 300.0})]), out=out, workers=2,
                   progress=False)  # fmt: skip
    assert sweep.counts == {"ok": 4, "failed": 0, "pending": 0}
    ds = xs.open_sweep(out)
    assert ds["TOF"].dims == ()
    assert ds["TOF"].item() == 300.0
    final = ds.xsweep.final()
    assert final["Sat.Earth.Altitude"].dims == ("sample",)
    # GMAT flew 300 s, not the script's own TOF: the value took effect in every run.
    np.testing.assert_array_equal(final["elapsed_s"].values, [300.0] * 4)
    assert final["Sat.Earth.Altitude"].quantile(0.5, "sample").dims == ()
    # Extending draws more samples; every one gets the constant too.
    xs.extend(out, 2, workers=1, progress=False)
    final = xs.open_sweep(out).xsweep.final()
    np.testing.assert_array_equal(final["elapsed_s"].values, [300.0] * 6)
    assert all(r.overrides["TOF"] == 300.0 for r in xs.Sweep(out).manifest.runs.values())


def test_the_cli_fixed_option(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    args = ["run", str(REPORT), "--grid", "Sat.SMA=7000,7100", "--fixed", "TOF=120",
            "--out", str(out), "--workers", "1", "--no-progress"]  # fmt: skip
    assert main(args) == 0
    ds = xs.open_sweep(out)
    assert dict(ds["status"].sizes) == {"Sat.SMA": 2}
    assert ds["TOF"].item() == 120
    assert main([*args[:4], "--fixed", "TOF=1,2", "--out", str(tmp_path / "x")]) == 2
