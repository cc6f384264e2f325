"""Resume adopts runs that finished but whose manifest line was lost, after checking them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep._done import DONE_NAME, read_done

DRAG = MISSIONS / "leo_drag.script"

pytestmark = pytest.mark.gmat


def _drop_lines(out: Path, keep: set[int]) -> None:
    """Lose the manifest lines of every run but ``keep``, as a client killed early would."""
    manifest = out / "manifest.jsonl"
    header, *lines = manifest.read_text().splitlines()
    kept = [x for x in lines if json.loads(x)["run_id"] in keep]
    manifest.write_text("\n".join([header, *kept]) + "\n")


def test_resume_adopts_complete_runs_and_reruns_the_doubtful(tmp_path: Path) -> None:
    out = tmp_path / "s"
    space = xs.grid({"Sat.SMA": [7000.0, 7050.0, 7100.0, 7150.0, 7200.0, 6200.0], "TOF": [600.0]})
    xs.run(DRAG, space, out=out, workers=1, progress=False)
    runs = out / "runs"
    before = {r: read_done(str(runs / f"run-{r:06d}")) for r in range(6)}
    assert all(found is not None for found in before.values())  # every run leaves one
    _drop_lines(out, keep={0, 5})  # run 5 (inside the Earth) failed, and is recorded
    # Run 2: its report cut short. Run 3: a marker for other overrides. Run 4: no marker.
    report = runs / "run-000002" / "report-RF.parquet"
    report.write_bytes(report.read_bytes()[:-20])
    marker = runs / "run-000003" / DONE_NAME
    data = json.loads(marker.read_text())
    data["overrides"]["Sat.SMA"] = 7151.0
    marker.write_text(json.dumps(data))
    (runs / "run-000004" / DONE_NAME).unlink()
    assert xs.Sweep(out).counts == {"ok": 1, "failed": 1, "pending": 4}

    sweep = xs.resume(out, workers=1, progress=False)
    assert sweep.counts == {"ok": 5, "failed": 1, "pending": 0}
    started = {r: rec.outcome.started for r, rec in sweep.manifest.runs.items()}
    old = {r: found[2].started for r, found in before.items() if found is not None}
    assert started[0] == old[0]  # recorded all along
    assert started[1] == old[1]  # adopted from its marker
    assert all(started[r] != old[r] for r in (2, 3, 4, 5))  # rerun (5: a recorded failure)
    assert sweep.manifest.runs[1].outcome.outputs[0].path == "runs/run-000001/report-RF.parquet"
    ds = xs.open_sweep(out)
    assert int((ds["status"] == 1).sum()) == 5
    direct = xs.Sweep(out).read(1)
    assert len(direct) > 0
    one = ds["Sat.X"].sel({"Sat.SMA": 7050.0, "TOF": 600.0}).dropna("step")
    assert float(one[-1]) == pytest.approx(float(direct["Sat.X"].iloc[-1]))
