"""Resume adopts runs that finished but whose manifest line was lost, after checking them."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.core.atomic import atomic_path
from xsweep.core.done import DONE_NAME, read_done, write_done
from xsweep.core.records import RunOutcome

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


@pytest.mark.skipif(
    not hasattr(sys, "getunicodeinternedsize"), reason="counts interned strings (Python 3.12+)"
)
def test_done_markers_leave_no_interned_names_behind(tmp_path: Path) -> None:
    """The scale model's stand-in writes one marker a run: none may keep a string for good.

    Python 3.12's pathlib interns every path part it parses (here, each run
    directory's name), and interned strings are never freed.
    """
    outcome = RunOutcome("ok", None, (), "", "", duration_s=0.1)
    paths = [os.path.join(tmp_path, f"run-{i:06d}") for i in range(300)]  # strings, as sent
    for p in paths:
        os.mkdir(p)
    dirs = [Path(p) for p in paths]
    write_done(paths[0], outcome, "mission.script", {"Sat.SMA": 7000.0})  # warm
    before = sys.getunicodeinternedsize()
    for path in paths[1:]:
        write_done(path, outcome, "mission.script", {"Sat.SMA": 7000.0})
    assert sys.getunicodeinternedsize() - before < 30  # was 1 a marker
    assert all(read_done(p) is not None for p in paths)
    with atomic_path(os.path.join(paths[0], "x.txt")) as tmp:  # the type it was given
        assert isinstance(tmp, str)
        Path(tmp).write_text("x")
    with atomic_path(dirs[0] / "y.txt") as tmp_p:
        assert isinstance(tmp_p, Path)
        tmp_p.write_text("y")
    assert sorted(p.name for p in dirs[0].iterdir()) == [DONE_NAME, "x.txt", "y.txt"]
