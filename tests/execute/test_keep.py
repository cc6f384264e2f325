"""Retention (keep=): summaries of every run, full histories of the runs that matter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS
from xsweep.core.errors import ConfigError
from xsweep.core.keep import picked

DRAG = MISSIONS / "leo_drag.script"
REPORT = MISSIONS / "leo_report.script"
DRAG_SPACE = {"Sat.SMA": [6200.0, 7000.0, 7100.0], "TOF": [600, 1200]}  # the drag_sweep's


def below_300(summary: Any, params: Any) -> bool:
    """Keep the runs whose altitude dips below 300 km (importable: shipped by reference)."""
    return bool(summary["RF"].loc["min", "Sat.Earth.Altitude"] < 300.0)


def fails_on_long_runs(summary: Any, params: Any) -> bool:
    """A predicate with a bug: it reads an output the long runs' summaries do not name."""
    return bool(summary["RF" if params["TOF"] < 1000 else "NoSuchOutput"].size > 10**6)


def same_bits(a: xr.Dataset, b: xr.Dataset) -> list[str]:
    """Name the data variables of ``a`` whose values differ from ``b``'s in any bit."""
    differ = []
    for name in a.data_vars:
        x, y = a[name].values, b[name].values
        if x.dtype.kind in "fM":
            x, y = x.view(np.int64), y.view(np.int64)  # NaN payloads and -0.0 count
        if x.shape != y.shape or not (x == y).all():
            differ.append(str(name))
    return differ


def test_summaries_equal_a_full_sweeps_bit_for_bit(tmp_path: Path, drag_sweep: xs.Sweep) -> None:
    out = tmp_path / "s"
    sweep = xs.run(DRAG, xs.grid(DRAG_SPACE), out=out, workers=2, progress=False, keep="summary")
    assert sweep.counts == {"ok": 4, "failed": 2, "pending": 0}
    kept = xs.open_sweep(out, summary=True)
    full = xs.open_sweep(drag_sweep.path, summary=True)  # computed from the full histories
    assert set(kept.data_vars) == set(full.data_vars)
    assert "Sat.Earth.Altitude_time" in kept
    assert list(kept["stat"].values) == ["final", "min", "max"]
    assert same_bits(kept, full) == []
    # The final value is the last row's, the minimum the histories' own.
    histories = xs.open_sweep(drag_sweep.path)["Sat.Earth.Altitude"].values
    low = kept["Sat.Earth.Altitude"].sel(stat="min").values
    assert np.isnan(low[0]).all()
    assert np.array_equal(low[1:], np.nanmin(histories[1:], -1))  # 6200 km failed
    # No file for an ok run; the failed runs keep their logs, and the store says which.
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["run-000000", "run-000001"]
    ds = xs.open_sweep(out)
    assert ds["kept"].values.tolist() == [[1, 1], [0, 0], [0, 0]]
    assert "Sat.Earth.Altitude" not in ds  # no run kept in full: no histories at all
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()[1:]]
    assert all("summary" in o for line in lines if line["status"] == "ok" for o in line["outputs"])
    assert all(line.get("kept") is False for line in lines if line["status"] == "ok")
    with pytest.raises(ConfigError, match="kept only its summaries"):
        sweep.read(3)
    frame = kept.xsweep.to_dataframe()
    assert frame.index.names == ["run_id", "stat"]
    assert len(frame) == 6 * 3
    assert frame.loc[(3, "min"), "Sat.Earth.Altitude"] == low.reshape(-1)[3]


def test_a_policy_keeps_failed_every_kth_and_what_where_picks(
    tmp_path: Path, drag_sweep: xs.Sweep
) -> None:
    out = tmp_path / "s"
    keep = xs.Keep(every=5, where=below_300)
    xs.run(DRAG, xs.grid(DRAG_SPACE), out=out, workers=2, progress=False, keep=keep)
    reference = xs.open_sweep(drag_sweep.path)
    lowest = reference["Sat.Earth.Altitude"].min("step").values.reshape(-1)
    ids = reference["run_id"].values.reshape(-1)
    status = reference["status"].values.reshape(-1)
    want = (status == 2) | (ids % 5 == 0) | (lowest < 300.0)
    assert 0 < want.sum() < len(want)  # some kept, some not: the check can fail either way
    ds = xs.open_sweep(out)
    assert ds["kept"].values.reshape(-1).tolist() == want.astype(int).tolist()
    # The runs kept in full hold the reference's histories, the others none.
    got = ds["Sat.Earth.Altitude"].values
    ref = reference["Sat.Earth.Altitude"].values[..., : got.shape[-1]]
    mask = ds["kept"].values.astype(bool)
    assert np.array_equal(got[mask], ref[mask], equal_nan=True)
    assert np.isnan(got[~mask]).all()
    summaries = xs.open_sweep(out, summary=True)
    assert same_bits(summaries, xs.open_sweep(drag_sweep.path, summary=True)) == []
    # Resume takes the predicate again, never from the header; with it, nothing is left to do.
    with pytest.raises(ConfigError, match="give keep= again"):
        xs.resume(out, progress=False)
    assert xs.resume(out, progress=False, keep=keep).counts["pending"] == 0


def test_a_sampled_summary_sweep_extends_archives_and_rebuilds(tmp_path: Path) -> None:
    out = tmp_path / "mc"
    keep = xs.Keep(fraction=0.3, seed=7)
    space = xs.monte_carlo(12, {"Sat.SMA": ("uniform", 7000.0, 7200.0)}, seed=3)
    xs.run(REPORT, space, out=out, workers=2, progress=False, keep=keep)
    xs.extend(out, 8, progress=False)  # the recorded policy: picks by run id, as before
    ds = xs.open_sweep(out)
    want = [int(picked(7, i) < 0.3) for i in ds["run_id"].values]
    assert ds["kept"].values.tolist() == want
    assert 0 < sum(want) < 20
    live = xs.open_sweep(out, summary=True).load()
    xs.consolidate(out)  # rebuilt from the manifest alone: the same summaries
    assert same_bits(xs.open_sweep(out, summary=True), live) == []
    bundle = xs.archive(out)
    assert same_bits(xs.open_sweep(bundle, summary=True), live) == []
    members = xs.Sweep(bundle).manifest.runs
    assert sum(r.outcome.kept for r in members.values()) == sum(want)


def test_a_predicate_that_raises_keeps_its_runs_in_full_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "s"
    space = xs.grid({"TOF": [300, 600, 1200, 2400]})
    with pytest.warns(UserWarning, match=r"where= raised on run \d \(KeyError: 'NoSuchOutput'"):
        sweep = xs.run(REPORT, space, out=out, workers=2, progress=False,
                       keep=xs.Keep(where=fails_on_long_runs))  # fmt: skip
    assert sweep.counts == {"ok": 4, "failed": 0, "pending": 0}
    runs = sweep.manifest.runs
    assert [runs[i].outcome.kept for i in range(4)] == [False, False, True, True]
    errors = [runs[i].outcome.extra.get("keep_error") for i in range(4)]
    assert errors[:2] == [None, None]
    assert all("NoSuchOutput" in str(e) for e in errors[2:])
    assert xs.open_sweep(out)["kept"].values.tolist() == [0, 0, 1, 1]


def test_refly_reproduces_runs_bit_for_bit_and_names_one_that_does_not(
    tmp_path: Path, drag_sweep: xs.Sweep
) -> None:
    out = tmp_path / "s"
    xs.run(DRAG, xs.grid(DRAG_SPACE), out=out, workers=2, progress=False, keep="summary")
    before = xs.open_sweep(out, summary=True).load()
    lowest = before["Sat.Earth.Altitude"].sel(stat="min").stack(run=["Sat.SMA", "TOF"])
    two = lowest.dropna("run").sortby(lowest.dropna("run"))[:2]  # a label selection
    sweep = xs.refly(out, two, workers=2, progress=False)
    flown = sorted(int(i) for i in two["run_id"].values)
    for run_id in flown:
        assert sweep.manifest.runs[run_id].outcome.extra["refly"]["same"] is True
    ds = xs.open_sweep(out).load()
    assert sorted(ds["run_id"].values[ds["kept"].values == 1].tolist()) == [0, 1, *flown]
    # Their histories now equal the sweep that kept everything, bit for bit.
    reference = xs.open_sweep(drag_sweep.path).load()
    for run_id in flown:
        here = ds["Sat.Earth.Altitude"].where(ds["run_id"] == run_id, drop=True).values
        there = reference["Sat.Earth.Altitude"].where(reference["run_id"] == run_id, drop=True)
        n = here.shape[-1]
        assert np.array_equal(here.view(np.int64), there.values[..., :n].view(np.int64))
    assert same_bits(xs.open_sweep(out, summary=True), before) == []
    # A script that differs: refused, or flown with allow_script_drift and named as differing.
    heavier = tmp_path / "heavier.script"
    heavier.write_text(DRAG.read_text().replace("Sat.DryMass = 850;", "Sat.DryMass = 300;"))
    with pytest.raises(xs.ScriptDriftError):
        xs.refly(out, [2], script=heavier, progress=False)
    with pytest.warns(UserWarning, match="do not give what they gave"):
        sweep = xs.refly(out, [2], script=heavier, allow_script_drift=True, progress=False)
    verdict = sweep.manifest.runs[2].outcome.extra["refly"]
    assert verdict["same"] is False
    assert "RF: values" in verdict["differ"]
    assert "RF: Sat.Earth.Altitude final" in verdict["differ"]
    with pytest.raises(ConfigError, match=r"never ran|no run"):
        xs.refly(out, [99], progress=False)
