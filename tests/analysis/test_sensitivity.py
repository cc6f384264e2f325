"""Sobol sensitivity: Saltelli designs, indices on the Ishigami function, failed runs."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xsweep as xs
from _helpers import DATA

PI = float(np.pi)
INPUTS = {f"x{i}": ("uniform", -PI, PI) for i in (1, 2, 3)}
# Ishigami (a = 7, b = 0.1): the analytic first-order and total indices.
S1 = [0.3139, 0.4424, 0.0]
ST = [0.5576, 0.4424, 0.2437]


def ishigami(ds: xr.Dataset) -> xr.DataArray:
    x1, x2, x3 = (ds[f"x{i}"] for i in (1, 2, 3))
    return np.sin(x1) + 7 * np.sin(x2) ** 2 + 0.1 * x3**4 * np.sin(x1)


def _as_sweep(design: xr.Dataset, y: xr.DataArray) -> xr.Dataset:
    shape = (design.sizes["saltelli_block"], design.sizes["saltelli_role"])
    dims = ("saltelli_block", "saltelli_role")
    return design.assign(
        y=y,
        status=(dims, np.ones(shape, dtype=np.int8)),
        run_id=(dims, np.arange(np.prod(shape)).reshape(shape)),
    )


def test_the_design_is_a_space_of_blocks() -> None:
    design = xs.saltelli(16, INPUTS, seed=1, second_order=True)
    assert design["saltelli_role"].values.tolist() == [
        "A", "AB:x1", "AB:x2", "AB:x3", "BA:x1", "BA:x2", "BA:x3", "B"
    ]  # fmt: skip
    assert xs.Space(design).n_runs == 16 * 8
    ab = design.sel(saltelli_role="AB:x2")
    a, b = design.sel(saltelli_role="A"), design.sel(saltelli_role="B")
    assert (ab["x2"] == b["x2"]).all()  # AB_i: A with column i from B
    assert (ab["x1"] == a["x1"]).all()
    assert xs.Space.from_json(xs.Space(design).to_json()).n_runs == 128


def test_ishigami_indices_match_the_known_values() -> None:
    design = xs.saltelli(1024, INPUTS, seed=3)
    got = _as_sweep(design, ishigami(design)).xsweep.sobol("y")
    # Stated tolerance: 0.05 on each index at n = 1024 blocks (5120 evaluations).
    np.testing.assert_allclose(got["S1"].values, S1, atol=0.05)
    np.testing.assert_allclose(got["ST"].values, ST, atol=0.05)
    assert (got["S1_conf"].values > 0).all()
    assert got.attrs["blocks_used"] == 1024


def test_indices_over_an_outputs_remaining_dims() -> None:
    design = xs.saltelli(256, INPUTS, seed=4)
    y = ishigami(design)
    series = xr.concat([y, 3 * y + 1], dim="step")  # a scaled, shifted copy: same indices
    got = _as_sweep(design, series).xsweep.sobol("y")
    assert got["S1"].dims == ("field", "step")
    np.testing.assert_allclose(got["S1"].isel(step=0), got["S1"].isel(step=1), atol=1e-12)


def test_a_real_sweep_with_failures_refuses_then_drops_blocks(tmp_path: Path) -> None:
    design = xs.saltelli(8, INPUTS, seed=5).merge(xs.grid({"FailAbove": [2.4]}))
    sweep = xs.run(DATA / "missions" / "ishigami.script", design, out=tmp_path / "s",
                   workers=2, progress=False)  # fmt: skip
    failed = sweep.failed()
    assert len(failed) > 0  # x3 above 2.4 flies into the Earth: GMAT refuses
    assert set(failed["reason"]) == {"gmat-error"}
    ds = xs.open_sweep(tmp_path / "s").squeeze("FailAbove")
    ok = ds["status"].values == 1
    # GMAT's own arithmetic is the Ishigami function.
    np.testing.assert_allclose(ds["y"].isel(step=0).values[ok], ishigami(ds).values[ok],
                               rtol=1e-12)  # fmt: skip
    with pytest.raises(xs.ConfigError, match=r"runs of the design are not ok .*xs\.resume"):
        ds.xsweep.sobol("y")
    with pytest.warns(UserWarning, match="dropped"):
        got = ds.xsweep.sobol("y", failed="drop-blocks")
    roles = ds.sizes["saltelli_role"]
    bad_blocks = {int(i) // roles for i in failed.index}  # run ids in (block, role) C order
    assert got.attrs["blocks_dropped"] == len(bad_blocks)
    assert got.attrs["blocks_used"] == 8 - len(bad_blocks)
    assert np.isfinite(got["ST"].values).all()


def test_without_salib_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "SALib", None)
    monkeypatch.setitem(sys.modules, "SALib.sample", None)
    with pytest.raises(xs.ConfigError, match=r"pip install 'gmat-xsweep\[sensitivity\]'"):
        xs.saltelli(8, INPUTS)


def test_the_cli_runs_a_saltelli_design(tmp_path: Path) -> None:
    import subprocess

    args = ["--perturb", "x1=uniform:-3.14:3.14", "--perturb", "x2=uniform:-3.14:3.14",
            "--perturb", "x3=uniform:-3.14:3.14"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "xsweep", "saltelli", str(DATA / "missions" / "ishigami.script"),
         "--n", "4", *args, "--seed", "2", "--grid", "FailAbove=100", "--workers", "2",
         "--no-progress", "--out", str(tmp_path / "s")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    want = xs.saltelli(4, {f"x{i}": ("uniform", -3.14, 3.14) for i in (1, 2, 3)}, seed=2)
    ds = xs.open_sweep(tmp_path / "s").squeeze("FailAbove")
    assert ds["x3"].values.tobytes() == want["x3"].values.tobytes()
    assert ds.sizes["saltelli_role"] == 5
    assert np.isfinite(ds.xsweep.sobol("y")["ST"].values).all()


def test_a_summary_sweep_gives_indices_finals_and_convergence_from_its_summaries(
    tmp_path: Path,
) -> None:
    design = xs.saltelli(8, INPUTS, seed=5).merge(xs.grid({"FailAbove": [100.0]}))
    out = tmp_path / "s"
    xs.run(DATA / "missions" / "ishigami.script", design, out=out, workers=2, progress=False,
           keep=xs.Keep(every=3))  # fmt: skip
    full = xs.open_sweep(out).squeeze("FailAbove")
    summary = xs.open_sweep(out, summary=True).squeeze("FailAbove")
    kept = full["kept"].values == 1
    assert 0 < kept.sum() < kept.size
    # The histories hold only the runs kept in full: the analyses refuse their NaN...
    with pytest.warns(UserWarning, match=r"ok runs were kept only as summaries"):
        partial = xs.final(full)
    assert np.isnan(partial["y"].values[~kept]).all()
    with pytest.raises(xs.ConfigError, match=r"missing for the \d+ ok runs kept only as summ"):
        partial.xsweep.sobol("y")
    with pytest.raises(xs.ConfigError, match="summary=True"):
        partial.xsweep.convergence("y", dim="saltelli_block")
    # ...and take every run's final row from the summaries: GMAT's value, bit for bit.
    finals = xs.final(summary)
    assert "stat" not in finals.dims
    assert "y_time" not in finals
    np.testing.assert_array_equal(finals["y"].values[kept], partial["y"].values[kept])
    np.testing.assert_allclose(finals["y"].values, ishigami(finals).values, rtol=1e-12)
    got = finals.xsweep.sobol("y")
    alone = _as_sweep(design.squeeze("FailAbove"), finals["y"].reset_coords(drop=True))
    for name in ("S1", "ST"):
        np.testing.assert_array_equal(got[name].values, alone.xsweep.sobol("y")[name].values)
    over_stats = summary.xsweep.sobol("y")  # one value per run (one row): all stats agree
    assert over_stats["S1"].dims == ("field", "stat")
    np.testing.assert_array_equal(over_stats["S1"].sel(stat="min").values, got["S1"].values)
    trend = finals.xsweep.convergence("y", dim="saltelli_block")
    assert np.isfinite(trend["mean"].values).all()
