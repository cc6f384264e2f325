"""The examples run as a new user would run them, in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from _helpers import ROOT

pytestmark = [pytest.mark.gmat, pytest.mark.slow]


def test_quickstart_runs_a_real_sweep() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=ROOT,
    )
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("GMAT engine: embedded R2026a")
    assert "6 runs, 6 ok, 0 failed, 0 pending" in lines[0]
    rows = [line.split() for line in lines[2:8]]
    assert [r[3] for r in rows] == ["ok"] * 6
    altitudes = [float(r[4]) for r in rows]
    # Higher orbits end higher: one line per (SMA, INC) in C order.
    assert altitudes[0] < altitudes[2] < altitudes[4]
    assert "Dask dashboard at http" in proc.stderr
