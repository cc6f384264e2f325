"""The sequential designs from the command line, and their plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import DATA, MISSIONS
from xsweep.cli.main import main

LIMIT = DATA / "missions" / "limit_state.script"


def test_adapt_and_probability_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "limit_y.py").write_text(
        "def y(outputs, params):\n    return {'y_final': float(outputs['RF']['y'].iloc[-1])}\n"
    )
    monkeypatch.chdir(tmp_path)  # --derive limit_y:y imports it from here
    edge = tmp_path / "edge"
    argv = ["adapt", str(MISSIONS / "leo_drag.script"), "--bound", "Sat.SMA=6300:6700",
            "--goal", "8", "--batch", "4", "--fixed", "TOF=600", "--workers", "2",
            "--no-progress", "--out", str(edge)]  # fmt: skip
    assert main(argv) == 0  # failed runs are the boundary's other side: not an error here
    assert xs.Sweep(edge).counts["failed"] > 0
    assert main([*argv[:5], "12", *argv[6:]]) == 0  # a larger goal goes on
    ds = xs.open_sweep(edge)
    assert ds.sizes["sample"] == 12
    assert main(["show", str(edge)]) == 1  # show says: some runs failed
    assert "space      sample=12: 12 runs" in capsys.readouterr().out
    rare = ["probability", str(LIMIT), "--perturb", "a=normal:0:1", "--perturb", "b=normal:0:1",
            "--event", "y_final > 2.5", "--method", "monte-carlo", "--n", "50", "--seed", "2",
            "--derive", "limit_y:y", "--workers", "2", "--no-progress",
            "--out", str(tmp_path / "rare")]  # fmt: skip
    assert main(rare) == 0
    printed = capsys.readouterr().out
    y = xs.open_sweep(tmp_path / "rare")["y_final"].values
    assert f"P(y_final > 2.5) = {(y > 2.5).mean():.4g}" in printed
    assert main([*rare[:6], "--event", "y_final ~ 2", *rare[8:]]) == 2
    assert "expected VALUE<THRESHOLD" in capsys.readouterr().err


def test_the_contour_plot_draws_scattered_samples_and_their_boundary(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    plane = {"x1": (-np.pi, np.pi), "x2": (0.0, np.pi / 2)}
    xs.adapt(DATA / "missions" / "ishigami.script", plane, out=tmp_path / "a", value="y_final",
             threshold=3.5, goal=40, batch=20, derive=[xs.derived.final(columns=["y"])],
             workers=2, progress=False)  # fmt: skip
    ds = xs.open_sweep(tmp_path / "a")
    ax = ds.xsweep.plot.contour("x1", "x2", "y_final", level=3.5)
    assert len(ax.collections) >= 2  # the filled contours and the level set
    ax = ds.xsweep.plot.contour("x1", "x2")  # no failed run: one class, no boundary line
    assert ax.get_xlabel() == "x1"
