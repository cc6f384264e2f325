"""The warm GMAT child process: runs, crashes, timeouts, respawn."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pandas as pd
import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.gmat.child import GmatChild, RunRequest

pytestmark = pytest.mark.gmat


@pytest.fixture(scope="module")
def child() -> GmatChild:
    c = GmatChild()
    yield c
    c.close()


def _request(tmp_path: Path, name: str, **overrides: object) -> RunRequest:
    return RunRequest(str(MISSIONS / "leo_report.script"), overrides, str(tmp_path / name))


def test_runs_are_ok_and_equal_in_process_runs(child: GmatChild, tmp_path: Path) -> None:
    a = child.run(_request(tmp_path, "a", **{"Sat.SMA": 7200.0, "TOF": 120}))
    b = child.run(_request(tmp_path, "b"))
    assert (a.status, b.status) == ("ok", "ok")
    assert a.pid == b.pid == child.pid != os.getpid()
    local = xs.run_mission(MISSIONS / "leo_report.script", out_dir=tmp_path / "local")
    assert local.status == "ok"
    pd.testing.assert_frame_equal(
        xs.read_output(tmp_path / "b" / "report-RF.parquet"),
        xs.read_output(tmp_path / "local" / "report-RF.parquet"),
    )


def test_config_errors_and_gmat_errors_are_failed_outcomes(
    child: GmatChild, tmp_path: Path
) -> None:
    bad = child.run(_request(tmp_path, "bad", **{"Sat.SMAA": 7000}))
    assert (bad.status, bad.reason) == ("failed", "exception")
    assert "FieldError" in (bad.error or "")
    assert "SMA" in (bad.error or "")
    crash_req = RunRequest(
        str(MISSIONS / "leo_drag.script"), {"Sat.SMA": 6200}, str(tmp_path / "drag")
    )
    gmat = child.run(crash_req)
    assert (gmat.status, gmat.reason) == ("failed", "gmat-error")
    assert "inside central body" in (gmat.error or "")


def test_killed_child_is_a_crashed_run_and_respawns(tmp_path: Path) -> None:
    child = GmatChild()
    try:
        victim = child.pid
        assert victim is not None
        # kill the child while it works on a long run (1 day of flight)
        timer = threading.Timer(0.3, os.kill, (victim, signal.SIGKILL))
        timer.start()
        out = child.run(_request(tmp_path, "long", TOF=86400.0 * 30))
        timer.join()
        assert (out.status, out.reason) == ("failed", "crashed")
        assert "SIGKILL" in (out.error or "")
        assert child.pid != victim
        again = child.run(_request(tmp_path, "after"))
        assert again.status == "ok"
    finally:
        child.close()


def test_timeout_kills_and_respawns(tmp_path: Path) -> None:
    child = GmatChild()
    try:
        first = child.pid
        out = child.run(_request(tmp_path, "slow", TOF=86400.0 * 30), timeout=0.5)
        assert (out.status, out.reason) == ("failed", "timeout")
        assert "timeout=0.5" in (out.error or "")
        assert child.pid != first
        assert child.run(_request(tmp_path, "next")).status == "ok"
    finally:
        child.close()
    assert child.proc is None


def test_a_child_that_closed_its_pipe_but_lingers_is_reaped_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child whose pipe hit EOF while it lives on (a hung exit) is killed, not waited on."""
    import subprocess
    import sys
    import time

    from xsweep.gmat import child as child_module

    lingers = "import os, time; os.close(1); time.sleep(120)"
    real_popen = subprocess.Popen

    def popen(args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        return real_popen([sys.executable, "-c", lingers], **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(child_module.subprocess, "Popen", popen)
    child = GmatChild(wait=False)
    t0 = time.monotonic()
    try:
        out = child.run(_request(tmp_path, "never"))
    finally:
        child.close()
    assert (out.status, out.reason) == ("failed", "crashed")
    assert "SIGKILL" in (out.error or "")  # killed after the bounded wait
    assert time.monotonic() - t0 < 60  # the child would have lived 120 s


def _last_altitude(frames: dict[str, pd.DataFrame]) -> float:
    return float(frames["RF"]["Sat.Earth.Altitude"].iloc[-1])


def test_a_child_is_taken_over_only_as_it_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the pool checks before a sweep of this process takes over another's child."""
    from xsweep.core.hooks import resolve
    from xsweep.gmat.requests import DeriveRequest

    fresh = GmatChild()
    try:
        assert fresh.reusable
        monkeypatch.setenv("XSWEEP_TEST_CHANGED", "1")
        assert not fresh.reusable  # started under another environment
        monkeypatch.delenv("XSWEEP_TEST_CHANGED")
        first = _request(tmp_path, "a")
        assert fresh.run(first).status == "ok"
        assert fresh.reusable
        builtin = resolve(xs.derived.final("RF", ["Sat.Earth.Altitude"]))
        outputs = {"RF": "report-RF.parquet"}
        assert [
            r.status for r in fresh.derive(DeriveRequest(first.out_dir, outputs, {}, builtin))
        ] == ["ok"]
        assert fresh.reusable  # a built-in recipe is xsweep's own code
        fresh.derive(DeriveRequest(first.out_dir, outputs, {}, resolve(_last_altitude)))
        assert not fresh.reusable  # its module may be edited before the next sweep
    finally:
        fresh.close()
    cut = GmatChild()
    try:
        long = _request(tmp_path, "b", TOF=86400 * 20)
        assert cut._exchange(long, timeout=0.05) is None  # its reply is still to come
        assert not cut.reusable
    finally:
        cut.close()
