"""Shared material of the security tests: one real sweep with a failed run, and its bundle.

Tests that change a sweep copy it (or extract the bundle) first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS


@pytest.fixture(scope="session")
def real_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 3-run sweep of the drag mission: 6200 km is inside the Earth, so run 0 fails."""
    out = tmp_path_factory.mktemp("trust") / "sweep"
    space = xs.grid({"Sat.SMA": [6200.0, 7000.0, 7100.0], "TOF": [60]})
    sweep = xs.run(MISSIONS / "leo_drag.script", space, out=out, workers=1, progress=False)
    assert sweep.counts == {"ok": 2, "failed": 1, "pending": 0}
    return out


@pytest.fixture(scope="session")
def real_bundle(real_sweep: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return xs.archive(real_sweep, out=tmp_path_factory.mktemp("bundle") / "sweep.zip")


@pytest.fixture
def sweep_copy(real_sweep: Path, tmp_path: Path) -> Path:
    """A copy of the real sweep a test may change."""
    return Path(shutil.copytree(real_sweep, tmp_path / "copy"))
