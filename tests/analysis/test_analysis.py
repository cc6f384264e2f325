"""Every example mission round-trips through the store; DataFrame and time-grid views."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client

import xsweep as xs
from _helpers import MISSIONS, add_contacts

pytestmark = [pytest.mark.gmat, pytest.mark.slow]

REPORT = MISSIONS / "leo_report.script"
DRAG = MISSIONS / "leo_drag.script"

# Two points of each example mission, varying a field it has.
POINTS = {
    "leo_report": {"Sat.SMA": [7000.0, 7100.0], "TOF": [600, 900]},
    "leo_drag": {"Sat.SMA": [7000.0, 6200.0], "TOF": [600, 600]},  # 6200 km fails
    "ephemeris": {"Sat.SMA": [7000.0, 7200.0]},
    "finite_burn": {"BurnDuration": [60.0, 120.0]},
    "hohmann": {"TargetRMAG": [7800.0, 8000.0]},
    "two_spacecraft": {"Deputy.TA": [0.5, 1.0]},
}


def _group_dataset(sweep_dir: Path, group: str) -> xr.Dataset:
    ds = xs.open_sweep(sweep_dir, group=group)
    assert isinstance(ds, xr.Dataset)
    return ds


def _assert_store_equals_parquet(sweep: xs.Sweep) -> int:
    """Check every output value of every ok run in the store against its Parquet."""
    checked = 0
    by_group: dict[str, xr.Dataset] = {}
    for run_id, rec in sweep.manifest.runs.items():
        if rec.status != "ok":
            continue
        for out in rec.outcome.outputs:
            group = {
                "report": "reports",
                "ephemeris": "ephemerides",
                "contact": "contacts",
                "solver": "solver",
            }[out.kind] + f"/{out.name}"
            if group not in by_group:
                by_group[group] = _group_dataset(sweep.path, group).load()
            ds = by_group[group]
            index = dict(zip(ds["run_id"].dims, sweep.space.index_of(run_id), strict=True))
            point = ds.isel(index)
            assert int(point["run_id"]) == run_id
            frame = xs.read_output(sweep.path / out.path)
            rows = len(frame)
            assert rows == out.rows
            names = {
                str(v.attrs.get("gmat_column", n)): str(n)
                for n, v in ds.variables.items()
                if v.dims and v.dims[-1] in ("step", "interval", "iteration")
            }
            for column in frame.columns:
                got = point[names[column]].values
                want = frame[column].to_numpy()
                if pd.api.types.is_timedelta64_dtype(frame[column].dtype):
                    want = frame[column].dt.total_seconds().to_numpy()
                elif pd.api.types.is_datetime64_any_dtype(frame[column].dtype):
                    want = want.astype("datetime64[ns]")
                elif not pd.api.types.is_numeric_dtype(frame[column].dtype):
                    got = got.astype(str)
                    want = frame[column].fillna("").astype(str).to_numpy()
                np.testing.assert_array_equal(got[:rows], want, err_msg=f"{group} {column}")
                # padding beyond the run's own rows
                tail = got[rows:]
                if tail.dtype.kind == "f":
                    assert np.isnan(tail).all()
                checked += 1
    return checked


@pytest.mark.parametrize("mission", sorted(POINTS))
def test_every_example_mission_round_trips(mission: str, client: Client, tmp_path: Path) -> None:
    space = xs.samples(POINTS[mission])
    sweep = xs.run(
        MISSIONS / f"{mission}.script", space, out=tmp_path / mission, client=client, progress=False
    )
    assert sweep.counts["ok"] >= 1
    assert _assert_store_equals_parquet(sweep) > 0
    # Parquet equals what gmat-run parses: tests/gmat/test_mission.py checks that per mission.


@pytest.mark.parametrize("fixture", ["contact_legacy.txt", "contact_range.txt"])
def test_contacts_consolidate_per_interval(client: Client, tmp_path: Path, fixture: str) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0]})
    sweep = xs.run(REPORT, space, out=tmp_path / "c", client=client, progress=False)
    # One script writes one contact format; runs 0 and 2 have intervals, run 1 none.
    add_contacts(sweep, {0: fixture, 2: fixture})
    shutil.rmtree(sweep.path / "sweep.zarr")
    xs.consolidate(sweep.path)
    assert _assert_store_equals_parquet(xs.Sweep(sweep.path)) > 0
    cl = _group_dataset(sweep.path, "CL")
    assert {"Start", "Stop", "Duration", "Observer"} <= set(cl.data_vars)
    assert "interval" in cl.dims
    assert "time" not in cl
    assert cl["Duration"].attrs["units"] == "s"
    legacy = xs.read_output(sweep.path / "runs/run-000000/contact-CL.parquet")
    assert len(legacy) > 1
    first = cl.sel({"Sat.SMA": 7000.0})
    np.testing.assert_allclose(
        first["Duration"].values[: len(legacy)], legacy["Duration"].dt.total_seconds()
    )
    # Run 1 has no contacts: all padding.
    assert bool(cl["Start"].sel({"Sat.SMA": 7100.0}).isnull().all())

    df = cl.xsweep.to_dataframe()
    assert df.index.names == ["run_id", "interval_id"]
    assert df.loc[0].shape[0] == len(legacy)
    assert pd.isna(df.loc[1].index[0])  # a run without intervals is one marker row
    pd.testing.assert_series_equal(
        df.loc[0]["Stop"].reset_index(drop=True), legacy["Stop"], check_names=False
    )


# --- to_dataframe ----------------------------------------------------------------------


def test_to_dataframe_has_gmat_sweeps_shape(drag_sweep: xs.Sweep) -> None:
    ds = xs.open_sweep(drag_sweep.path)
    df = ds.xsweep.to_dataframe()
    assert df.index.names == ["run_id", "time"]
    runs = drag_sweep.runs()
    assert df.index.get_level_values("run_id").unique().tolist() == runs.index.tolist()
    columns = xs.read_output(drag_sweep.path / "runs/run-000002/report-RF.parquet").columns
    assert df.columns.tolist()[: len(columns)] == columns.tolist()
    assert {"Sat.SMA", "TOF", "__status"} <= set(df.columns)
    for run_id, run in runs.iterrows():
        part = df.xs(run_id, level="run_id")
        assert (part["__status"] == run["status"]).all()
        assert (part["Sat.SMA"] == run["Sat.SMA"]).all()
        if run["status"] != "ok":
            assert len(part) == 1
            assert pd.isna(part.index[0])
            assert part["Sat.X"].isna().all()
            continue
        frame = xs.read_output(drag_sweep.path / f"runs/run-{run_id:06d}/report-RF.parquet")
        pd.testing.assert_frame_equal(
            part[columns].reset_index(drop=True), frame, check_dtype=False
        )
        np.testing.assert_array_equal(part.index.to_numpy(), frame["Sat.UTCGregorian"].to_numpy())


def test_to_dataframe_refuses_what_is_not_one_output(drag_sweep: xs.Sweep) -> None:
    with pytest.raises(xs.ConfigError, match="one output"):
        xs.to_dataframe(xr.Dataset({"x": ("a", [1.0])}))
    root = xs.open_sweep(drag_sweep.path)[["run_id", "status"]]
    with pytest.raises(xs.ConfigError, match="group="):
        root.xsweep.to_dataframe()


# --- on_time_grid ----------------------------------------------------------------------


def test_on_time_grid_interpolates_every_run_lazily(drag_sweep: xs.Sweep) -> None:
    ds = xs.open_sweep(drag_sweep.path)
    times = np.array([0.0, 30.0, 90.5, 600.0, 1000.0])
    calls: list[int] = []

    def counting(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=counting):
        grid = ds.xsweep.on_time_grid(times)
        assert calls == []  # built lazily
        assert grid["Sat.X"].dims == ("Sat.SMA", "TOF", "time")
        loaded = grid.load()
    assert calls
    np.testing.assert_array_equal(loaded["time"].values, times)
    assert loaded["time"].attrs["units"] == "s"
    assert loaded["status"].equals(ds["status"].load())
    for run_id, run in drag_sweep.runs().iterrows():
        point = loaded.sel({"Sat.SMA": run["Sat.SMA"], "TOF": run["TOF"]})
        if run["status"] != "ok":
            assert bool(point["Sat.X"].isnull().all())
            continue
        frame = xs.read_output(drag_sweep.path / f"runs/run-{run_id:06d}/report-RF.parquet")
        # elapsed_s is the epoch column's time since the run's first row
        epochs = frame["Sat.UTCGregorian"]
        t = (epochs - epochs.iloc[0]).dt.total_seconds().to_numpy()
        want = np.interp(times, t, frame["Sat.X"].to_numpy(), left=np.nan, right=np.nan)
        np.testing.assert_allclose(point["Sat.X"].values, want, rtol=1e-12)
        # beyond the run's flight: NaN, never extrapolated
        assert np.isnan(point["Sat.X"].values[times > t[-1] + 1e-3]).all()


def test_on_time_grid_steps_and_absolute_epochs(drag_sweep: xs.Sweep) -> None:
    ds = xs.open_sweep(drag_sweep.path)
    stepped = ds.xsweep.on_time_grid(step=100.0)
    assert stepped["time"].values.tolist() == [100.0 * k for k in range(13)]  # 0..1200 s
    start = np.datetime64("2026-01-01T12:00:00", "ns")
    epochs = start + np.array([0, 60, 120], dtype="timedelta64[s]")
    absolute = ds.xsweep.on_time_grid(epochs, mode="absolute").load()
    assert absolute["time"].dtype == np.dtype("datetime64[ns]")
    relative = ds.xsweep.on_time_grid([0.0, 60.0, 120.0]).load()
    # Every run of this sweep starts at the script's epoch: both modes agree.
    xr.testing.assert_allclose(
        absolute["Sat.X"].drop_vars("time"), relative["Sat.X"].drop_vars("time")
    )
    default = ds.xsweep.on_time_grid()
    longest = xs.read_output(drag_sweep.path / "runs/run-000003/report-RF.parquet")
    assert default.sizes["time"] == len(longest)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "sideways"}, "mode"),
        ({"step": -1.0}, "positive"),
        ({"step": 1.0, "times": [0.0]}, "not both"),
        ({"times": [5.0, 1.0]}, "increasing"),
        ({"times": ["soon"], "mode": "absolute"}, "epochs"),
    ],
)
def test_on_time_grid_rejects_bad_arguments(
    drag_sweep: xs.Sweep, kwargs: dict[str, Any], match: str
) -> None:
    ds = xs.open_sweep(drag_sweep.path)
    with pytest.raises(xs.ConfigError, match=match):
        xs.on_time_grid(ds, **kwargs)


def test_final_is_each_runs_last_row(drag_sweep: xs.Sweep) -> None:
    ds = xs.open_sweep(drag_sweep.path)
    assert isinstance(ds, xr.Dataset)
    last = ds.xsweep.final().load()
    assert set(last.dims) == {"Sat.SMA", "TOF"}
    assert int((last["status"] == 1).sum()) == drag_sweep.counts["ok"]
    checked = 0
    for run_id, rec in drag_sweep.manifest.runs.items():
        point = last.where(last["run_id"] == run_id, drop=True).squeeze()
        if rec.status != "ok":
            assert np.isnan(float(point["Sat.Earth.Altitude"]))
            continue
        frame = xs.read_output(drag_sweep.path / rec.outcome.outputs[0].path)
        assert float(point["Sat.Earth.Altitude"]) == frame["Sat.Earth.Altitude"].iloc[-1]
        assert point["time"].values == frame["Sat.UTCGregorian"].iloc[-1].to_datetime64()
        checked += 1
    assert checked == drag_sweep.counts["ok"] >= 2
    # The runs differ in length, so the padded last step is NaN for some of them.
    assert bool(ds["Sat.Earth.Altitude"].isel(step=-1).isnull().any())
