"""Reading results on a synthetic sweep: the run table, frames, final rows, time grids, stats.

No GMAT: ``xsweep.testing.synthetic`` writes a manifest and per-run Parquet with made-up
orbits (the ``synthetic`` fixture), which is all these readers see of a sweep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xsweep as xs

ALT = "Sat.Earth.Altitude"


def test_the_run_table_and_counts_agree_with_the_manifest(synthetic: Path) -> None:
    ds = xs.open_sweep(synthetic)
    sweep = xs.Sweep(synthetic)
    assert ds.xsweep.status == sweep.counts == {"ok": 59, "failed": 1, "pending": 0}
    runs = ds.xsweep.runs()
    assert runs.index.tolist() == list(range(60))
    assert runs.loc[49, "status"] == "failed"
    assert ds.xsweep.failed().index.tolist() == [49]
    assert ds.xsweep.failed()["error"].tolist() == ["synthetic failure"]
    np.testing.assert_array_equal(runs["Sat.SMA"].to_numpy(), ds["Sat.SMA"].values)


def test_output_status_is_written_for_ok_runs_only(synthetic: Path) -> None:
    status = xs.open_sweep(synthetic).xsweep.output_status()
    assert status["output"].values.tolist() == ["reports/RF"]
    values = status.sel(output="reports/RF").values
    assert values[49] == ""
    assert set(np.delete(values, 49)) == {"written"}


@pytest.mark.parametrize("run_id", [0, 17, 59])
def test_the_frame_holds_each_runs_parquet_rows(synthetic: Path, run_id: int) -> None:
    frame = xs.open_sweep(synthetic).xsweep.to_dataframe()
    parquet = xs.Sweep(synthetic).read(run_id)
    mine = frame.loc[run_id]
    assert len(mine) == len(parquet)
    np.testing.assert_array_equal(mine[ALT].to_numpy(), parquet[ALT].to_numpy())
    assert (mine["__status"] == "ok").all()
    assert (mine["Sat.SMA"] == xs.open_sweep(synthetic)["Sat.SMA"].values[run_id]).all()


def test_a_failed_run_is_one_row_of_nan(synthetic: Path) -> None:
    frame = xs.open_sweep(synthetic).xsweep.to_dataframe()
    failed = frame.loc[[49]]
    assert len(failed) == 1
    assert failed[ALT].isna().all()
    assert pd.isna(failed.index.get_level_values("time")[0])


def test_final_is_each_runs_last_row(synthetic: Path) -> None:
    last = xs.open_sweep(synthetic).xsweep.final()
    for run_id in (0, 30, 59):
        parquet = xs.Sweep(synthetic).read(run_id)
        assert float(last[ALT].values[run_id]) == parquet[ALT].iloc[-1]
    assert np.isnan(last[ALT].values[49])


def test_on_time_grid_interpolates_between_rows(synthetic: Path) -> None:
    gridded = xs.open_sweep(synthetic).xsweep.on_time_grid(step=120.0)
    parquet = xs.Sweep(synthetic).read(5)
    t = parquet["Sat.ElapsedSecs"].to_numpy()
    grid = gridded["time"].values  # elapsed seconds
    assert grid[1] - grid[0] == 120.0
    want = np.interp(grid, t, parquet[ALT].to_numpy())
    got = gridded[ALT].isel(sample=5).values
    inside = grid <= t[-1]
    assert inside.sum() > 10
    np.testing.assert_allclose(got[inside], want[inside], rtol=1e-12)
    assert np.isnan(gridded[ALT].isel(sample=49).values).all()


def test_convergence_grows_to_the_whole_sample(synthetic: Path) -> None:
    last = xs.open_sweep(synthetic).xsweep.final()
    conv = last.xsweep.convergence(ALT)
    values = last[ALT].values
    ok = values[~np.isnan(values)]
    assert int(conv["n"][-1]) == 60
    assert int(conv["count"][-1]) == 59  # the failed run counts in n, not in the statistics
    assert float(conv["mean"].isel(n=-1)) == pytest.approx(ok.mean(), rel=1e-12)
    assert float(conv["std"].isel(n=-1)) == pytest.approx(ok.std(ddof=1), rel=1e-9)
