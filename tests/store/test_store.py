"""The consolidated Zarr store and open_sweep, on real sweeps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client

import xsweep as xs
from _helpers import MISSIONS
from xsweep.store.layout import Layout

pytestmark = [pytest.mark.gmat, pytest.mark.slow]

DRAG = MISSIONS / "leo_drag.script"
REPORT = MISSIONS / "leo_report.script"


@pytest.fixture
def grid_sweep(drag_sweep: xs.Sweep) -> xs.Sweep:
    return drag_sweep  # the session's 3 x 2 drag grid (tests/conftest.py)


def test_the_store_holds_every_run_by_label(grid_sweep: xs.Sweep) -> None:
    ds = xs.open_sweep(grid_sweep.path)
    assert dict(ds.sizes) == {"Sat.SMA": 3, "TOF": 2, "step": int(ds.sizes["step"])}
    assert ds["Sat.SMA"].attrs["units"] == "km"
    assert ds["Sat.X"].attrs["units"] == "km"
    assert ds["status"].attrs["flag_meanings"] == "pending ok failed"
    assert ds.attrs["script_sha256"] == grid_sweep.manifest.header["script_sha256"]

    runs = grid_sweep.runs()
    for run_id, run in runs.iterrows():
        point = ds.sel({"Sat.SMA": run["Sat.SMA"], "TOF": run["TOF"]})
        assert int(point["run_id"]) == run_id
        if run["status"] == "failed":
            # A failed run is NaN data with its status, never a missing label.
            assert int(point["status"]) == 2
            assert str(point["reason"].values) == "gmat-error"
            assert "inside central body" in str(point["error"].values)
            assert bool(point["Sat.X"].isnull().all())
            continue
        assert int(point["status"]) == 1
        frame = xs.read_output(grid_sweep.path / f"runs/run-{run_id:06d}/report-RF.parquet")
        rows = len(frame)
        np.testing.assert_array_equal(point["Sat.X"].values[:rows], frame["Sat.X"].to_numpy())
        assert bool(point["Sat.X"][rows:].isnull().all())
        np.testing.assert_array_equal(
            point["time"].values[:rows], frame["Sat.UTCGregorian"].to_numpy()
        )
        elapsed = point["elapsed_s"].values[:rows]
        assert elapsed[0] == 0.0
        np.testing.assert_allclose(elapsed, frame["Sat.ElapsedSecs"].to_numpy(), atol=1e-3)


def test_the_accessor_summarises_runs(grid_sweep: xs.Sweep) -> None:
    ds = xs.open_sweep(grid_sweep.path)
    assert ds.xsweep.is_sweep
    assert ds.xsweep.status == {"ok": 4, "failed": 2, "pending": 0}
    failed = ds.xsweep.failed()
    assert failed.index.tolist() == grid_sweep.failed().index.tolist()
    assert set(failed["reason"]) == {"gmat-error"}
    assert failed["Sat.SMA"].tolist() == [6200.0, 6200.0]
    runs = ds.xsweep.runs()
    assert runs.index.tolist() == list(range(6))
    assert runs["status"].tolist() == grid_sweep.runs()["status"].tolist()


@pytest.mark.parametrize(
    ("sizes", "along"),
    [
        ({"a": 3, "b": 5}, "b"),
        ({"a": 5, "b": 1}, "a"),  # a trailing one-value dim is not what blocks run along
        ({"a": 2, "b": 7, "c": 1, "d": 1}, "b"),
        ({"a": 1, "b": 1}, "b"),
        ({"a": 9}, "a"),
    ],
)
def test_blocks_run_along_the_last_dim_with_more_than_one_value(
    sizes: dict[str, int], along: str
) -> None:
    space = xs.Space(xs.grid({name: np.arange(n, dtype=float) for name, n in sizes.items()}))
    layout = Layout(space, {}, 2)
    assert space.dims[layout.axis] == along
    shard = layout.shards()
    assert shard == tuple(2 if d == along else 1 for d in space.dims)
    # Every run is in exactly one block, and a block is at most one shard.
    seen = np.zeros(space.shape, dtype=int)
    for region in layout.blocks():
        seen[region] += 1
        assert all(r.stop - r.start <= s for r, s in zip(region, shard, strict=True))
    assert (seen == 1).all()


def test_a_monte_carlo_by_one_tof_is_one_block_not_one_per_run(
    client: Client, tmp_path: Path
) -> None:
    import zarr

    space = xs.monte_carlo(5, {"Sat.SMA": ("normal", 7000.0, 30.0)}, seed=4).merge(
        xs.grid({"TOF": [60]})
    )
    assert xs.Space(space).dims == ("sample", "TOF")
    sweep = xs.run(REPORT, space, out=tmp_path / "mc", client=client, progress=False)
    root = zarr.open_group(sweep.path / "sweep.zarr", mode="r", zarr_format=3)
    assert root.attrs["xsweep_block_dim"] == "sample"
    assert root["status"].shards == (256, 1)
    assert root["reports/RF/Sat.X"].shards[:2] == (256, 1)
    ds = sweep.open()
    frame = xs.read_output(sweep.path / "runs/run-000003/report-RF.parquet")
    got = ds["Sat.X"].isel(sample=3, TOF=0).values[: len(frame)]
    np.testing.assert_array_equal(got, frame["Sat.X"].to_numpy())
    assert int((ds["status"] == 1).sum()) == 5


def test_a_schema_1_store_still_opens_and_resume_rebuilds_it(
    grid_sweep: xs.Sweep, tmp_path: Path, client: Client
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(grid_sweep.path, copy)
    meta = copy / "sweep.zarr" / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["xsweep_store_schema"] = 1  # as xsweep wrote it before the block dim
    del doc["attributes"]["xsweep_block_dim"]
    meta.write_text(json.dumps(doc))
    expected = xs.open_sweep(grid_sweep.path).load()
    xr.testing.assert_identical(xs.open_sweep(copy).load().drop_attrs(), expected.drop_attrs())
    xs.resume(copy, client=client, progress=False)  # reruns the failed runs, updates the store
    again = xs.open_sweep(copy).load()
    assert again.attrs == expected.attrs  # schema 2, with its block dim
    rerun = ["duration_s", "error"]  # the failed runs ran (and failed) again
    xr.testing.assert_identical(again.drop_vars(rerun), expected.drop_vars(rerun))


def test_monte_carlo_by_grid_selects_with_where_and_groupby(client: Client, tmp_path: Path) -> None:
    space = xr.merge(
        [
            xs.monte_carlo(6, {"Sat.SMA": ("normal", 7000.0, 30.0)}, seed=3),
            xs.grid({"Sat.INC": [28.5, 98.0]}),
        ]
    )
    sweep = xs.run(REPORT, space, out=tmp_path / "mc", client=client, progress=False)
    ds = sweep.open()
    assert ds["Sat.SMA"].dims == ("sample",)  # a zipped field: a non-dim coordinate
    high = ds.where(ds["Sat.SMA"] > 7000.0, drop=True)
    expected = int((space["Sat.SMA"] > 7000.0).sum())
    assert high.sizes["sample"] == expected
    final = ds["Sat.Earth.Altitude"].isel(step=-1)
    means = final.groupby("Sat.INC").mean().compute()
    assert means.sizes["Sat.INC"] == 2
    assert bool(np.isfinite(means).all())
    assert int(ds.sel(sample=4, **{"Sat.INC": 98.0})["run_id"]) == sweep.space.run_id_of((4, 1))


def test_aliased_dims_select_by_alias(client: Client, tmp_path: Path) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0]}, dims={"Sat.SMA": "sma"})
    ds = xs.run(REPORT, space, out=tmp_path / "a", client=client, progress=False).open()
    assert float(ds.sel(sma=7100.0)["Sat.SMA"]) == 7100.0


def test_several_outputs_open_as_a_tree_or_one_group(client: Client, tmp_path: Path) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0]})
    sweep = xs.run(
        MISSIONS / "ephemeris.script", space, out=tmp_path / "e", client=client, progress=False
    )
    tree = xs.open_sweep(sweep.path)
    assert isinstance(tree, xr.DataTree)
    groups = sorted(tree.attrs["xsweep_groups"])
    assert "reports/RF" in groups
    assert any(g.startswith("ephemerides/") for g in groups)
    report = xs.open_sweep(sweep.path, group="RF")
    assert isinstance(report, xr.Dataset)
    assert "status" in report
    eph_group = next(g for g in groups if g.startswith("ephemerides/"))
    eph = xs.open_sweep(sweep.path, group=eph_group)
    frame = xs.read_output(
        sweep.path / f"runs/run-000001/ephemeris-{eph_group.rsplit('/', 1)[1]}.parquet"
    )
    column = next(c for c in frame.columns if c.endswith("X"))
    rows = len(frame)
    np.testing.assert_array_equal(
        eph[column].sel({"Sat.SMA": 7100.0}).values[:rows], frame[column].to_numpy()
    )
    assert pd.api.types.is_datetime64_any_dtype(eph["time"].dtype)
    # Ephemerides are time series too: on one time grid and in the long DataFrame.
    grid = eph.xsweep.on_time_grid(step=60.0).load()
    assert bool(np.isfinite(grid[column].isel(time=slice(0, 5))).all())
    assert eph.xsweep.to_dataframe().index.names == ["run_id", "time"]


def test_selections_plot(grid_sweep: xs.Sweep, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ds = xs.open_sweep(grid_sweep.path)
    at = ds.sel(TOF=1200)
    ok = at.where((at["status"] == 1).compute(), drop=True)  # status is data: compute it
    altitude = ok.set_coords("elapsed_s")["Sat.Earth.Altitude"]
    lines = altitude.plot.line(x="elapsed_s", hue="Sat.SMA")
    assert len(lines) == ok.sizes["Sat.SMA"] == 2
    final = ds["Sat.Earth.Altitude"].isel(step=0)
    final.plot()  # a 2-D parameter grid as an image
    plt.savefig(tmp_path / "plot.png")
    plt.close("all")
    assert (tmp_path / "plot.png").stat().st_size > 1000


# --- kept up to date while the sweep runs ---------------------------------------------


def _chunk_files(store: Path) -> dict[str, int]:
    """Every chunk (shard) file of a store, by path, with its mtime in ns."""
    return {
        str(p.relative_to(store)): p.stat().st_mtime_ns
        for p in store.rglob("*")
        if p.is_file() and p.name != "zarr.json"
    }


def _assert_matches_a_rebuild(sweep_dir: Path, tmp_path: Path) -> None:
    live = xs.open_sweep(sweep_dir).load()
    copy = tmp_path / "rebuilt"
    shutil.copytree(sweep_dir, copy)
    shutil.rmtree(copy / "sweep.zarr")
    xs.consolidate(copy)
    xr.testing.assert_identical(xs.open_sweep(copy).load(), live)


def test_resume_rewrites_only_the_blocks_of_rerun_runs(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("xsweep.store.layout.BLOCK_RUNS", 2)
    # Run 4 (6200 km: inside the Earth) fails; resume reruns only it.
    space = xs.grid({"Sat.SMA": [7000.0, 7050.0, 7100.0, 7150.0, 6200.0, 7200.0, 7250.0, 7300.0]})
    sweep = xs.run(DRAG, space, out=tmp_path / "s", client=client, progress=False)
    assert sweep.failed().index.tolist() == [4]
    store = sweep.path / "sweep.zarr"
    before = _chunk_files(store)
    assert "status/c/2" in before  # one shard per block of two runs
    xs.resume(sweep.path, client=client, progress=False)
    after = _chunk_files(store)
    changed = {name for name in before if after[name] != before[name]}
    assert changed  # the block of run 4 was written again...
    assert all(name.endswith("c/2") or name.endswith("c/2/0") for name in changed), changed
    assert set(after) == set(before)  # ...and nothing else was
    ds = xs.open_sweep(sweep.path)
    assert int(ds["status"].isel({"Sat.SMA": 4})) == 2
    _assert_matches_a_rebuild(sweep.path, tmp_path)


def test_extend_grows_the_store_and_writes_only_new_blocks(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("xsweep.store.layout.BLOCK_RUNS", 4)
    space = xs.monte_carlo(6, {"Sat.SMA": ("normal", 7000.0, 20.0)}, seed=5)
    sweep = xs.run(REPORT, space, out=tmp_path / "mc", client=client, progress=False)
    store = sweep.path / "sweep.zarr"
    before = _chunk_files(store)
    xs.extend(sweep.path, 5, client=client, progress=False)
    after = _chunk_files(store)
    # Block 0 (samples 0-3) is untouched; block 1 (4-7) gained runs and block 2 is new.
    # (Coordinates, run_id among them, are labels: they are rewritten whole.)
    labels = ("Sat.SMA/", "sample/", "run_id/")
    data = {name for name in before if not name.startswith(labels)}
    untouched = {name for name in data if name.endswith(("c/0", "c/0/0"))}
    assert len(untouched) == 9  # status, duration_s; 6 report columns and elapsed_s
    assert all(after[name] == before[name] for name in untouched)
    assert all(after[name] != before[name] for name in data - untouched)
    ds = xs.open_sweep(sweep.path)
    assert ds.sizes["sample"] == 11
    assert ds.xsweep.status == {"ok": 11, "failed": 0, "pending": 0}
    np.testing.assert_array_equal(ds["Sat.SMA"].values, sweep.space.dataset["Sat.SMA"].values)
    assert ds["run_id"].values.tolist() == list(range(11))
    _assert_matches_a_rebuild(sweep.path, tmp_path)


def test_longer_runs_arriving_later_grow_the_step_axis(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("xsweep.store.layout.BLOCK_RUNS", 1)
    # One block per run; on two workers the shortest flight usually lands first.
    space = xs.grid({"TOF": [60, 600, 3000]})
    sweep = xs.run(REPORT, space, out=tmp_path / "tof", client=client, progress=False)
    ds = xs.open_sweep(sweep.path)
    lengths = [int(ds["time"].isel(TOF=i).notnull().sum()) for i in range(3)]
    assert lengths[0] < lengths[1] < lengths[2] == ds.sizes["step"]
    for run_id in range(3):
        frame = xs.read_output(sweep.path / f"runs/run-{run_id:06d}/report-RF.parquet")
        np.testing.assert_array_equal(
            ds["Sat.X"].isel(TOF=run_id).values[: len(frame)], frame["Sat.X"].to_numpy()
        )
    _assert_matches_a_rebuild(sweep.path, tmp_path)


_WATCHED = """
import sys
import numpy as np
import xsweep as xs
import xsweep.store.layout

if __name__ == "__main__":
    xsweep.store.layout.BLOCK_RUNS = 4
    space = xs.grid({"Sat.SMA": np.linspace(7000.0, 7400.0, 160)})
    xs.run(sys.argv[1], space, out=sys.argv[2], workers=2, progress=False)
"""


def test_a_running_sweep_shows_its_finished_blocks(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    script = tmp_path / "watched.py"
    script.write_text(_WATCHED)
    out = tmp_path / "live"
    proc = subprocess.Popen([sys.executable, str(script), str(REPORT), str(out)])
    seen: list[int] = []
    deadline = time.monotonic() + 600  # a bound: the sweep takes seconds
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                ds = xs.open_sweep(out)
            except (xs.ConfigError, xs.StoreError):
                continue  # not started yet
            if "Sat.X" not in ds:
                continue  # no run finished yet
            status = ds["status"].values
            done = np.flatnonzero(status == 1)
            if 0 < len(done) < status.size and proc.poll() is None:
                seen.append(len(done))
                records = xs.Sweep(out).manifest.runs
                # Every run the store shows as ok is recorded, and its data is there.
                for i in done[:3]:
                    run_id = int(ds["run_id"].values[i])
                    assert records[run_id].status == "ok"
                    frame = xs.read_output(out / f"runs/run-{run_id:06d}/report-RF.parquet")
                    got = ds["Sat.X"].isel({"Sat.SMA": i}).values[: len(frame)]
                    np.testing.assert_array_equal(got, frame["Sat.X"].to_numpy())
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.wait(timeout=60) == 0
    assert seen, "never saw the store of the running sweep part-way"
    assert xs.open_sweep(out).xsweep.status["ok"] == 160
