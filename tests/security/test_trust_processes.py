"""No run waits forever, and no GMAT child outlives its sweep (finding 7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

import xsweep as xs
import xsweep.core.timeouts as timeouts
from _helpers import MISSIONS, xsweep_command

pytestmark = [pytest.mark.gmat, pytest.mark.slow]

HANG = """
Create Spacecraft Sat;
Sat.SMA = 7000;
Create ForceModel FM;
FM.CentralBody = Earth;
FM.PointMasses = {Earth};
Create Propagator Prop;
Prop.FM = FM;
Create ReportFile RF;
RF.Filename = 'hang.txt';
RF.Add = {Sat.ElapsedSecs, Sat.Earth.Altitude};
Create Variable N;
N = 0;
BeginMissionSequence;
Propagate Prop(Sat) {Sat.ElapsedSecs = 60};
While N >= HangFrom
   N = N + 1;
EndWhile;
"""


@pytest.fixture
def hang_script(tmp_path: Path) -> Path:
    """A mission that never ends when ``HangFrom`` is at most 0 (an endless While)."""
    path = tmp_path / "hang.script"
    path.write_text(
        HANG.replace("Create Variable N;", "Create Variable N HangFrom;\nHangFrom = 1;")
    )
    return path


def test_the_default_timeout_ends_a_run_that_never_does(
    hang_script: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``timeout="auto"``: the first runs' bound, then max(floor, 20x the median ok run)."""
    monkeypatch.setattr(timeouts, "FIRST_S", 20.0)  # the embedded cluster runs in this process
    monkeypatch.setattr(timeouts, "FLOOR_S", 3.0)
    space = xs.samples({"HangFrom": [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]})
    t0 = time.monotonic()
    sweep = xs.run(hang_script, space, out=tmp_path / "s", workers=1, progress=False,
                   runs_per_task=1)  # fmt: skip
    took = time.monotonic() - t0
    assert sweep.counts == {"ok": 4, "failed": 2, "pending": 0}
    failed = sweep.failed()
    assert failed["reason"].tolist() == ["timeout", "timeout"]
    assert took < 60  # two runs of the learnt 3 s bound, not the 20 s first one
    header = json.loads((tmp_path / "s" / "manifest.jsonl").read_text().splitlines()[0])
    assert header["options"]["timeout"] == "auto"
    # A resume keeps the recorded "auto"; "off" or a number replaces it.
    with pytest.raises(xs.ConfigError, match="timeout must be"):
        xs.resume(tmp_path / "s", timeout=-1)


def _children(pid: int) -> list[psutil.Process]:
    try:
        return [p for p in psutil.Process(pid).children(recursive=True)
                if "xsweep.gmat.child" in " ".join(p.cmdline())]  # fmt: skip
    except psutil.NoSuchProcess:
        return []


def _start(hang_script: Path, out: Path) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    proc = subprocess.Popen(
        xsweep_command("run", str(hang_script), "--grid", "HangFrom=0,-1", "--out", str(out),
                       "--workers", "2", "--no-progress"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # both GMAT children started and running their runs
        kids = _children(proc.pid)
        if len(kids) >= 2 and (out / "runs").is_dir():
            time.sleep(2)
            return proc, _children(proc.pid)
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"the sweep never started its children: {proc.communicate()[1]}")


def _gone(kids: list[psutil.Process], within: float = 15) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(kids, timeout=within)
    return alive


def test_a_killed_client_leaves_no_gmat_child(hang_script: Path, tmp_path: Path) -> None:
    proc, kids = _start(hang_script, tmp_path / "s")
    scratch = [Path(p.environ()["TMPDIR"]) for p in kids if "TMPDIR" in p.environ()]
    assert scratch
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not _gone(kids)
    deadline = time.monotonic() + 15
    while any(s.exists() for s in scratch) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(s.exists() for s in scratch)


def test_a_terminated_client_stops_its_children_and_can_resume(
    hang_script: Path, tmp_path: Path
) -> None:
    proc, kids = _start(hang_script, tmp_path / "s")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        f"xsweep run: interrupted; continue with: xsweep resume {tmp_path / 's'}"
    )
    assert not _gone(kids)
    sweep = xs.Sweep(tmp_path / "s")
    assert sweep.counts["pending"] == 2  # nothing half-recorded: both runs resume
    assert not (tmp_path / "s" / ".manifest.lock").read_text().strip()  # released


def test_children_start_in_scratch_with_a_safe_path(tmp_path: Path) -> None:
    from xsweep.gmat.child import GmatChild

    child = GmatChild()
    try:
        assert child.pid is not None
        info = psutil.Process(child.pid)
        assert "-P" in info.cmdline()
        assert Path(info.cwd()).name.startswith("xsweep-child-")
        assert info.cwd() != os.getcwd()
    finally:
        child.close()
    assert not psutil.pid_exists(info.pid) or info.status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("value", ["auto", "off", 30.0])
def test_the_timeout_option_is_recorded(tmp_path: Path, value: float | str) -> None:
    sweep = xs.run(MISSIONS / "leo_report.script", xs.grid({"Sat.SMA": [7000.0], "TOF": [60]}),
                   out=tmp_path / "s", workers=1, progress=False, timeout=value)  # fmt: skip
    assert sweep.counts["ok"] == 1
    header = json.loads((tmp_path / "s" / "manifest.jsonl").read_text().splitlines()[0])
    assert header["options"]["timeout"] == (None if value == "off" else value)
