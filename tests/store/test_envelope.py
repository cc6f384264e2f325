"""Streaming envelopes: folded as runs are recorded, against numpy on the runs themselves."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pytest
from datasketches import vector_of_kll_floats_sketches

import xsweep as xs
from _helpers import DATA, MISSIONS
from xsweep.cli.flags import envelope as parse_envelope
from xsweep.core.errors import ConfigError
from xsweep.store.envelope import BATCH, Folder

DRAG = MISSIONS / "leo_drag.script"


def rank_error(k: int) -> float:
    """The sketch's stated normalized rank error (99 % confidence), as DataSketches gives it."""
    return float(vector_of_kll_floats_sketches.get_normalized_rank_error(k, False))


def check_quantiles(got: np.ndarray, values: np.ndarray, qs: np.ndarray, eps: float) -> None:
    """Each quantile's rank among ``values`` (as float32, the sketch's items) is q within eps."""
    for step in range(values.shape[1]):
        column = np.sort(values[:, step][~np.isnan(values[:, step])].astype(np.float32))
        if not len(column):
            assert np.isnan(got[step]).all()
            continue
        for j, q in enumerate(qs):
            v = np.float32(got[step, j])
            below = np.searchsorted(column, v, side="left") / len(column)
            upto = np.searchsorted(column, v, side="right") / len(column)
            assert below - eps <= q <= upto + eps, (step, q, below, upto)


def test_a_folder_matches_numpy_within_the_sketchs_stated_error(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n, d = 3 * BATCH + 17, 12
    values = rng.lognormal(0.0, 1.0, size=(n, d))
    values[rng.random((n, d)) < 0.05] = np.nan  # runs that ended early, NaN columns
    spec = xs.envelope(10.0, (0.0013, 0.1, 0.5, 0.9, 0.9987), stop=110.0, k=16)  # estimating
    folder = Folder(spec, None, n)
    for i in range(n):
        folder.add(i, {"RF": {"Alt": values[i]}})
    folder.add(5, {"RF": {"Alt": values[5] + 1e9}})  # a run folded twice counts once
    env = folder.dataset()
    count = (~np.isnan(values)).sum(0)
    np.testing.assert_array_equal(env["Alt_count"].values, count)
    np.testing.assert_allclose(env["Alt_mean"].values, np.nanmean(values, 0), rtol=1e-12)
    np.testing.assert_allclose(env["Alt_std"].values, np.nanstd(values, 0, ddof=1), rtol=1e-9)
    np.testing.assert_array_equal(env["Alt_min"].values, np.nanmin(values, 0).astype(np.float32))
    np.testing.assert_array_equal(env["Alt_max"].values, np.nanmax(values, 0).astype(np.float32))
    eps = rank_error(16)
    check_quantiles(env["Alt"].values, values, env["quantile"].values, eps)
    assert eps > 0.05  # k=16 estimates: the check allows the stated error, and needs it
    # Saved and loaded (what resume goes on from): the same envelope, the same runs covered.
    folder.save(tmp_path / "sweep.zarr")
    again = Folder.load(tmp_path / "sweep.zarr", spec, n)
    assert again is not None
    assert again.covered.all()
    for name in env.data_vars:
        np.testing.assert_array_equal(again.dataset()[name].values, env[name].values)


def test_an_envelope_of_real_runs_equals_numpy_on_the_full_histories(
    tmp_path: Path,
) -> None:
    space = xs.monte_carlo(
        24, {"Sat.SMA": ("normal", 6640.0, 4.0), "Sat.Cd": ("uniform", 1.8, 2.6)}, seed=1
    ).merge(xs.fixed({"TOF": 1800}))
    qs = (0.0, 0.1, 0.5, 0.9, 1.0)
    spec = xs.envelope(60.0, qs, columns=["Sat.Earth.Altitude", "Sat.X"])
    out, full = tmp_path / "env", tmp_path / "full"
    xs.run(DRAG, space, out=out, workers=2, progress=False, keep="summary", envelope=spec)
    xs.run(DRAG, space, out=full, workers=2, progress=False)
    env = xs.open_sweep(out, envelope=True).load()
    assert list(env.data_vars)[:2] == ["Sat.X", "Sat.X_mean"]  # the output's column order
    assert env.attrs["runs"] == 24
    grid = xs.open_sweep(full).xsweep.on_time_grid(step=60.0).load()
    np.testing.assert_allclose(env["elapsed_s"].values, grid["time"].values)
    for column in ("Sat.Earth.Altitude", "Sat.X"):
        values = grid[column].transpose("sample", "time").values
        np.testing.assert_array_equal(env[f"{column}_count"].values, np.full(31, 24))
        np.testing.assert_allclose(env[f"{column}_mean"].values, values.mean(0), rtol=1e-12)
        np.testing.assert_allclose(env[f"{column}_std"].values, values.std(0, ddof=1), rtol=1e-8)
        # 24 runs: KLL keeps every one, so the quantiles are exact ranks (and within the bound)
        check_quantiles(env[column].values, values, np.asarray(qs), 0.0)
    assert "Sat.Y" not in env
    # The envelope is derived from the runs, not rebuildable: a rebuilt store keeps it...
    xs.consolidate(out)
    again = xs.open_sweep(out, envelope=True).load()
    np.testing.assert_array_equal(again["Sat.X"].values, env["Sat.X"].values)
    # ...and a lost one is refolded by resume, which flies the ok runs it lacks again.
    shutil.rmtree(out / "sweep.zarr" / "envelope")
    sweep = xs.resume(out, workers=2, progress=False)
    assert sweep.counts == {"ok": 24, "failed": 0, "pending": 0}
    rebuilt = xs.open_sweep(out, envelope=True).load()
    np.testing.assert_array_equal(rebuilt["Sat.X_count"].values, env["Sat.X_count"].values)
    np.testing.assert_array_equal(rebuilt["Sat.X"].values, env["Sat.X"].values)
    ax = rebuilt.xsweep.plot.band("Sat.Earth.Altitude")
    assert ax.get_title() == "Sat.Earth.Altitude: envelope of 24 runs"


def test_envelope_arguments_are_checked() -> None:
    for bad in ({"step": 0}, {"step": 1.0, "k": 2}, {"step": 1.0, "quantiles": (1.5,)},
                {"step": 1.0, "stop": -1.0}, {"step": 1e-9, "stop": 1e6}):  # fmt: skip
        with pytest.raises(ConfigError):
            xs.envelope(**bad)
    spec = xs.envelope(60.0, stop=86400.0, k=400)
    assert xs.Envelope.from_dict(spec.to_dict()) == spec
    assert parse_envelope("60,stop=86400,k=400") == spec
    with pytest.raises(argparse.ArgumentTypeError):
        parse_envelope("60,every=3")
    with pytest.raises(ConfigError, match="envelope must be"):
        xs.run(DRAG, xs.grid({"Sat.SMA": [7000.0]}), out="/nonexistent/x", envelope=60.0)


def test_an_envelope_over_a_report_without_epochs_says_it_folded_nothing(tmp_path: Path) -> None:
    space = xs.grid({"x1": [0.1, 0.2, 0.3]})  # GMAT's arithmetic only: no epoch is reported
    with pytest.warns(UserWarning, match=r"folded none of this session's 3 ok runs: no output"):
        sweep = xs.run(DATA / "missions" / "ishigami.script", space, out=tmp_path / "s",
                       workers=1, progress=False, envelope=xs.envelope(60.0))  # fmt: skip
    assert sweep.counts["ok"] == 3
