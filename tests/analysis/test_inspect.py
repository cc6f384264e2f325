"""Inspecting one run: ``Sweep.run_info`` and ``xsweep show --run``, ``--failed --reason``."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS, xsweep_command
from xsweep.cli.main import main

pytestmark = pytest.mark.gmat

# A year of drag flight: tens of seconds of GMAT, far beyond the 3 s timeout on any machine
# (a month took 2.6 s with the lean kernels, and so finished inside it).
YEAR = 365 * 86400


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> xs.Sweep:
    """Runs 0, 1 fail in GMAT (6200 km is inside the Earth), 2 is ok, 3 times out (a year)."""
    space = xs.grid({"Sat.SMA": [6200.0, 7000.0], "TOF": [600, YEAR]})
    out = tmp_path_factory.mktemp("inspect") / "s"
    return xs.run(MISSIONS / "leo_drag.script", space, out=out, workers=2, timeout=3,
                  progress=False)  # fmt: skip


def test_run_info_of_a_failed_run_has_gmat_error_and_log_tail(mixed: xs.Sweep) -> None:
    info = mixed.run_info(0)
    assert (info.status, info.reason) == ("failed", "gmat-error")
    assert info.overrides == {"Sat.SMA": 6200.0, "TOF": 600}
    assert "inside central body" in (info.error or "")
    # GMAT's own log says why, and the tail has it
    assert any("inside central body" in line for line in info.log_tail)
    assert len(info.log_tail) <= 20
    text = str(info)
    assert text.startswith("run        0 (failed: gmat-error)")
    assert "point      Sat.SMA=6200.0, TOF=600" in text
    assert "error      Atmosphere model exception" in text
    assert "runs/run-000000/gmat.log (last" in text
    assert "<pre>" in info._repr_html_()


def test_run_info_of_ok_and_timed_out_runs(mixed: xs.Sweep) -> None:
    ok = mixed.run_info(2, log_lines=3)
    assert ok.status == "ok"
    assert ok.reason is None
    assert len(ok.log_tail) == 3
    assert "report RF: runs/run-000002/report-RF.parquet" in str(ok)
    # A good run's log says what GMAT did, not the kernels it loads on every run.
    whole = mixed.run_info(2).log_tail
    assert whole
    assert not [line for line in whole if "has been loaded" in line or "Planetary Source" in line]
    assert "Mission run completed." in whole
    slow = mixed.run_info(3, log_lines=0)
    assert (slow.status, slow.reason) == ("failed", "timeout")
    assert slow.log_tail == ()
    assert "timeout=3" in str(slow)
    with pytest.raises(xs.ConfigError, match=r"run ids are 0\.\.3"):
        mixed.run_info(4)


def test_show_run_prints_it_and_exits_by_its_status(
    mixed: xs.Sweep, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", str(mixed.path), "--run", "0"]) == 1
    out = capsys.readouterr().out
    assert "inside central body" in out
    assert "  | " in out
    assert main(["show", str(mixed.path), "--run", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"]["outputs"][0]["name"] == "RF"
    assert data["overrides"] == {"Sat.SMA": 7000.0, "TOF": 600}


def test_show_failed_filters_by_reason(mixed: xs.Sweep, capsys: pytest.CaptureFixture[str]) -> None:
    main(["show", str(mixed.path), "--failed", "--reason", "timeout", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert [f["run_id"] for f in data["failed"]] == [3]
    assert data["failed_reasons"] == ["timeout"]
    main(["show", str(mixed.path), "--failed", "1", "--reason", "gmat-error"])
    out = capsys.readouterr().out
    assert "failed (gmat-error)\n  run 0: gmat-error" in out
    assert "... and 1 more" in out
    assert "run 3" not in out
    main(["show", str(mixed.path), "--reason", "crashed"])
    assert "failed (crashed)\n  none" in capsys.readouterr().out


def test_a_pending_run_and_a_bundle_without_logs(mixed: xs.Sweep, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(mixed.path, copy)
    lines = (copy / "manifest.jsonl").read_text().splitlines(keepends=True)
    kept = [line for line in lines if '"run_id": 1,' not in line]
    (copy / "manifest.jsonl").write_text("".join(kept))
    pending = xs.Sweep(copy).run_info(1)
    assert pending.status == "pending"
    assert pending.outcome is None
    assert pending.overrides == {"Sat.SMA": 6200.0, "TOF": YEAR}
    bundle = xs.archive(mixed.path, out=tmp_path / "s.zip")
    info = xs.Sweep(bundle).run_info(0)
    assert info.reason == "gmat-error"
    assert info.log_tail == ()
    assert "(not kept here)" in str(info)
    logged = xs.archive(mixed.path, out=tmp_path / "logs.zip", include_logs=True)
    assert xs.Sweep(logged).run_info(0).log_tail == mixed.run_info(0).log_tail


def test_reprs_fit_a_terminal_and_show_failures_by_reason(mixed: xs.Sweep) -> None:
    text = repr(mixed)
    assert all(len(line) <= 88 for line in text.splitlines()[1:])
    assert "status   1 ok, 3 failed, 0 pending" in text
    assert "failed   2 gmat-error, 1 timeout" in text
    assert "(idle)" in text.splitlines()[0]
    page = mixed._repr_html_()
    assert "<td class='failed'>timeout</td><td>1</td>" in page
    assert "<td class='failed'>gmat-error</td><td>2</td>" in page
    assert "leo_drag.script</code> sha256 " in page
    assert "space: Sat.SMA=2 x TOF=2" in page
    assert "<progress" not in page  # finished: no bar


def test_a_live_sweep_shows_progress_and_its_dashboard(tmp_path: Path) -> None:
    out = tmp_path / "live"
    args = ["run", str(MISSIONS / "leo_report.script"), "--grid", "Sat.SMA=7000:7100:40",
            "--grid", "TOF=3600", "--workers", "1", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(
        xsweep_command(*args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        page = ""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "manifest.jsonl").exists():
                page = xs.Sweep(out)._repr_html_()
                if "dashboard: <a href='http" in page and "<progress" in page:
                    break
            time.sleep(0.05)
        assert "running on " in page
        assert re.search(r"<progress value='\d+' max='40'", page)
        assert "dashboard: <a href='http" in page
        assert "dashboard http" in repr(xs.Sweep(out))
    finally:
        assert proc.wait(timeout=120) == 0
    done = xs.Sweep(out)
    assert "dashboard" not in repr(done)
    assert "<progress" not in done._repr_html_()


def test_a_space_shows_its_dims_runs_and_recipes() -> None:
    space = xr.merge(
        [
            xs.monte_carlo(50, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=3),
            xs.grid({"Sat.INC": [28.5, 51.6, 98.0]}),
        ]
    )
    page = space.xsweep._repr_html_()
    assert "150 runs over sample=50 x Sat.INC=3" in page
    assert "monte_carlo normal(7000, 5), seed 3" in page
    assert "values 28.5, 51.6, 98" in page
    assert repr(space.xsweep.space).startswith("<xsweep.Space: 150 runs")
    wide = xs.grid({f"Sat{i}.SMA": [7000.0, 7100.0] for i in range(8)})
    lines = repr(xs.Space(wide)).splitlines()
    assert lines[0] == "<xsweep.Space: 256 runs>"
    assert sum("(Sat" in line for line in lines) == 8
    assert all(len(line) <= 88 for line in lines)
