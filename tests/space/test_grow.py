"""Growing a finished sweep: new grid values run only the new points; old runs stay as they were."""

from __future__ import annotations

import hashlib
import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import MISSIONS, xsweep_command
from xsweep.space.refine import refine

SCRIPT = MISSIONS / "leo_report.script"


def _space() -> xs.Space:
    return xs.Space(xs.grid({"Sat.SMA": [6900.0, 7100.0, 7300.0], "Sat.INC": [28.5, 98.0]}))


def test_grown_blocks_keep_every_old_run_id_and_number_the_new_ones_after() -> None:
    old = _space()
    mid, _ = refine(old, {"Sat.SMA": [7000.0, 7200.0]})
    new, _ = refine(mid, {"Sat.INC": [51.6]})
    assert new.shape == (5, 3)
    assert new.steps == (("Sat.SMA", 3, 2), ("Sat.INC", 2, 1))
    for space in (old, mid):
        for run_id in range(space.n_runs):
            assert new.run(run_id) == space.run(run_id)
    # Every position has exactly one run id, and the two maps are inverse.
    index = new.index_arrays()
    seen = np.zeros(new.shape, dtype=int)
    np.add.at(seen, index, 1)
    assert np.all(seen == 1)
    for run_id in range(new.n_runs):
        assert new.run_id_of(new.index_of(run_id)) == run_id
    # The 4 runs of the SMA step are SMA-new x old INC; the INC step's 5 cross every SMA.
    assert [new.run(i).overrides["Sat.SMA"] for i in range(6, 10)] == [7000.0] * 2 + [7200.0] * 2
    assert {new.run(i).overrides["Sat.INC"] for i in range(10, 15)} == {51.6}
    text = new.to_json()
    assert json.loads(text)["growth"] == [["Sat.SMA", 3, 2], ["Sat.INC", 2, 1]]
    assert xs.Space.from_json(text).to_json() == text
    assert "growth" not in json.loads(old.to_json())  # an ungrown space's JSON is as before


def test_a_grid_times_monte_carlo_space_grows_both_ways() -> None:
    mc = xs.monte_carlo(4, {"Sat.RAAN": ("uniform", 0, 10)}, seed=3)
    space = xs.Space(mc.merge(xs.grid({"Sat.SMA": [7000.0, 7100.0]})))
    refined, _ = refine(space, {"Sat.SMA": [7200.0]})
    both = refined.extended(2)
    assert both.steps == (("Sat.SMA", 2, 1), ("sample", 4, 2))
    for run_id in range(refined.n_runs):
        assert both.run(run_id) == refined.run(run_id)
    again = xs.Space.from_json(both.to_json())  # redraws and compares bits
    assert again.n_runs == both.n_runs == 18


def test_what_cannot_grow_is_refused_by_name() -> None:
    space = _space()
    with pytest.raises(xs.SpaceError, match="every existing run would need a value"):
        refine(space, {"Sat.ECC": [0.01]})
    mc = xs.Space(xs.monte_carlo(3, {"Sat.RAAN": ("uniform", 0, 10)}, seed=1))
    with pytest.raises(xs.SpaceError, match="not a grid axis"):
        refine(mc, {"Sat.RAAN": [5.0]})
    with pytest.raises(xs.SpaceError, match="label dim"):
        refine(mc, {"sample": [9]})
    with pytest.raises(xs.SpaceError, match="already in the sweep"):
        refine(space, {"Sat.SMA": [7100.0]})
    with pytest.raises(xs.SpaceError, match="repeat themselves"):
        refine(space, {"Sat.SMA": [7000.0, 7000.0]})
    ints = xs.Space(xs.grid({"TOF": [60, 120]}))
    with pytest.raises(xs.SpaceError, match="not all integers"):
        refine(ints, {"TOF": [90.5]})
    with pytest.raises(xs.SpaceError, match="holds float64 values"):
        refine(space, {"Sat.SMA": ["far"]})
    grown, skipped = refine(space, {"Sat.SMA": [7100.0, 7150.0]})
    assert skipped == {"Sat.SMA": [7100.0]}
    assert grown.dataset["Sat.SMA"].values.tolist() == [6900.0, 7100.0, 7300.0, 7150.0]
    with pytest.raises(xs.SpaceError, match="needs one of n"):
        xs.extend("no-such-sweep", 3, grid={"Sat.SMA": [1.0]})


def _digests(out: Path) -> dict[str, str]:
    runs = out / "runs"
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(runs.rglob("*")) if p.is_file()}  # fmt: skip


@pytest.mark.gmat
def test_a_real_grid_grown_from_3x2_to_5x3_runs_only_the_9_new_points(tmp_path: Path) -> None:
    out = tmp_path / "g"
    space = xs.grid({"Sat.SMA": [6900.0, 7100.0, 7300.0], "Sat.INC": [28.5, 98.0], "TOF": [60]})
    xs.run(SCRIPT, space, out=out, workers=2, progress=False)
    before, first = _digests(out), xs.open_sweep(out).load()
    with pytest.warns(UserWarning, match=r"already has: \{'Sat.SMA': \[7100.0\]\}"):
        sweep = xs.extend(out, grid={"Sat.SMA": [7000.0, 7100.0, 7200.0], "Sat.INC": [51.6]},
                          workers=2, progress=False)  # fmt: skip
    assert sweep.counts == {"ok": 15, "failed": 0, "pending": 0}
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    kinds = [line.get("kind", "header") for line in lines]
    after_extend = [r["run_id"] for r in lines[kinds.index("extend") + 1 :] if r["kind"] == "run"]
    assert sorted(after_extend) == list(range(6, 15))  # only the new points ran
    assert lines[kinds.index("extend")]["grid"] == {"Sat.SMA": [7000.0, 7200.0], "Sat.INC": [51.6]}
    grown = _digests(out)
    assert {k: grown[k] for k in before} == before  # old runs' files byte-identical

    ds = xs.open_sweep(out)  # refined dims sorted by default
    assert ds["Sat.SMA"].values.tolist() == [6900.0, 7000.0, 7100.0, 7200.0, 7300.0]
    assert ds["Sat.INC"].values.tolist() == [28.5, 51.6, 98.0]
    alt = "Sat.Earth.Altitude"
    for sma in (6900.0, 7100.0, 7300.0):
        for inc in (28.5, 98.0):
            old = first[alt].sel({"Sat.SMA": sma, "Sat.INC": inc})
            new = ds[alt].sel({"Sat.SMA": sma, "Sat.INC": inc}).load()
            assert old.values.tobytes() == new.values.tobytes()
    fresh = ds[alt].sel({"Sat.SMA": 7200.0, "Sat.INC": 51.6}).isel(step=0).values
    assert np.all(np.isfinite(fresh))
    raw = xs.open_sweep(out, sort=False)  # the store's own order: runs as added
    assert raw["Sat.SMA"].values.tolist() == [6900.0, 7100.0, 7300.0, 7000.0, 7200.0]
    assert raw["run_id"].sel({"Sat.SMA": 7200.0, "Sat.INC": 51.6}).values.ravel().tolist() == [14]

    assert xs.resume(out, workers=1, progress=False).counts["ok"] == 15  # nothing to do
    bundle = xs.archive(out, out=tmp_path / "g.zip")
    zipped = xs.open_sweep(bundle)
    assert zipped[alt].load().equals(ds[alt].load())

    proc = subprocess.run(xsweep_command("extend", str(out), "--grid", "TOF=120", "--workers",
                                         "2", "--no-progress"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert xs.Sweep(out).counts == {"ok": 30, "failed": 0, "pending": 0}
    assert xs.open_sweep(out)["TOF"].values.tolist() == [60, 120]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert xs.Sweep(out).runs().index.tolist() == list(range(30))


def test_the_cli_refuses_a_new_dim_with_the_reason(tmp_path: Path) -> None:
    out = tmp_path / "g"
    xs.run(SCRIPT, xs.grid({"TOF": [60]}), out=out, workers=1, progress=False)
    proc = subprocess.run(xsweep_command("extend", str(out), "--grid", "Sat.ECC=0.01"),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode != 0
    assert "every existing run would need a value" in proc.stderr
    assert xs.Sweep(out).counts["ok"] == 1
