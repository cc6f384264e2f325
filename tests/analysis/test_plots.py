"""The plot helpers on ``ds.xsweep.plot``, rendered to PNG from real sweeps with failed runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS
from xsweep.analysis.plots import COLORS

mpl.use("Agg")
import matplotlib.pyplot as plt

pytestmark = pytest.mark.gmat

RED = np.array(mpl.colors.to_rgb(COLORS["failed"]))


@pytest.fixture(scope="module")
def mc(tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    """40 Monte Carlo samples x 2 inclinations; the samples below the Earth's radius fail."""
    space = xr.merge(
        [
            xs.monte_carlo(40, {"Sat.SMA": ("uniform", 6250.0, 7200.0)}, seed=11),
            xs.grid({"Sat.INC": [28.5, 98.0], "TOF": [1200]}),
        ]
    )
    out = tmp_path_factory.mktemp("plots") / "mc"
    xs.run(MISSIONS / "leo_drag.script", space, out=out, workers=2, progress=False)
    return xs.open_sweep(out)


def _red_pixels(fig: Any, path: Path) -> int:
    """Count the pixels drawn in the failed-run red, in the figure saved as PNG."""
    fig.savefig(path, dpi=60)
    image = plt.imread(path)[..., :3]
    return int((np.abs(image - RED).max(axis=-1) < 0.08).sum())


def _failed_runs(ds: xr.Dataset) -> int:
    return int((ds["status"] == 2).sum())


def _legend_text(ax: Any) -> str:
    legend = ax.get_legend()
    return " ".join(t.get_text() for t in legend.get_texts()) if legend else ""


def test_the_fixture_has_failed_and_ok_runs(mc: xr.Dataset) -> None:
    counts = mc.xsweep.status
    assert counts["failed"] > 0
    assert counts["ok"] > 0


def test_band_counts_the_failed_runs(mc: xr.Dataset, tmp_path: Path) -> None:
    ax = mc.xsweep.plot.band("Sat.Earth.Altitude", over="sample", step=60)
    assert len(ax.collections) == 2  # one band per inclination
    assert f"{_failed_runs(mc)} of 80 runs failed (not in band)" in _legend_text(ax)
    assert _red_pixels(ax.figure, tmp_path / "band.png") > 0
    line = ax.get_lines()[0].get_ydata()
    assert np.isfinite(line).all()  # the median of the ok runs, failures skipped
    plt.close("all")


def test_heatmap_crosses_out_failed_cells(drag_sweep: xs.Sweep, tmp_path: Path) -> None:
    ds = drag_sweep.open()
    ax = ds.xsweep.plot.heatmap("Sat.Earth.Altitude", x="Sat.SMA", y="TOF")
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    assert len(crosses) == 1
    assert list(crosses[0].get_xdata()) == [6200.0, 6200.0]  # both TOFs at 6200 km failed
    assert "2 of 6 runs failed" in _legend_text(ax)
    assert _red_pixels(ax.figure, tmp_path / "heat.png") > 0
    with pytest.raises(xs.ConfigError, match="not a dim"):
        ds.xsweep.plot.heatmap("Sat.Earth.Altitude", x="Sat.SMA", y="Sat.INC")
    plt.close("all")


def test_status_over_a_grid_and_over_monte_carlo_inputs(
    drag_sweep: xs.Sweep, mc: xr.Dataset, tmp_path: Path
) -> None:
    ax = drag_sweep.open().xsweep.plot.status()
    assert "failed: 2" in _legend_text(ax)
    assert "ok: 4" in _legend_text(ax)
    assert _red_pixels(ax.figure, tmp_path / "grid.png") > 0
    ax = mc.xsweep.plot.status(x="Sat.SMA", y="Sat.INC")
    reds = [c for c in ax.collections if np.allclose(c.get_facecolor()[0][:3], RED)]
    assert sum(len(c.get_offsets()) for c in reds) == _failed_runs(mc)
    sma = mc["Sat.SMA"].broadcast_like(mc["status"])
    # the low orbits fail (inside the Earth, or too deep in its atmosphere), at both inclinations
    assert float(sma.where(mc["status"] == 2).max()) < float(sma.where(mc["status"] == 1).min())
    assert _red_pixels(ax.figure, tmp_path / "mc.png") > 0
    plt.close("all")


def test_scatter_ticks_failed_inputs_on_the_axis(mc: xr.Dataset, tmp_path: Path) -> None:
    ax = mc.xsweep.plot.scatter("Sat.SMA", "Sat.Earth.Altitude", hue="Sat.INC")
    ticks = [ln for ln in ax.get_lines() if ln.get_marker() == "|"]
    assert len(ticks) == 1
    assert len(ticks[0].get_xdata()) == _failed_runs(mc)
    ok_sma = mc["Sat.SMA"].broadcast_like(mc["status"]).where(mc["status"] == 1)
    assert (np.asarray(ticks[0].get_xdata()) < float(ok_sma.min())).all()
    assert _red_pixels(ax.figure, tmp_path / "scatter.png") > 0
    plt.close("all")


def test_corner_marks_failed_runs_in_every_panel_kind(mc: xr.Dataset, tmp_path: Path) -> None:
    fig = mc.xsweep.plot.corner(["Sat.SMA", "Sat.INC", "Sat.Earth.Altitude"])
    assert len([a for a in fig.axes if a.get_visible()]) == 6
    assert f"{_failed_runs(mc)} failed (red)" in fig._suptitle.get_text()
    sma_inc = fig.axes[3]  # row 1 (Sat.INC), column 0 (Sat.SMA): both inputs
    crosses = [ln for ln in sma_inc.get_lines() if ln.get_marker() == "x"]
    assert len(crosses[0].get_xdata()) == _failed_runs(mc)
    assert _red_pixels(fig, tmp_path / "corner.png") > 0
    plt.close("all")


def test_convergence_says_how_many_runs_it_did_not_count(mc: xr.Dataset, tmp_path: Path) -> None:
    ax = mc.sel({"Sat.INC": 28.5}).xsweep.plot.convergence("Sat.Earth.Altitude")
    assert f"{_failed_runs(mc) // 2} of 40 runs failed (not counted)" in _legend_text(ax)
    assert _red_pixels(ax.figure, tmp_path / "conv.png") > 0
    with pytest.raises(xs.ConfigError, match="select the other dims"):
        mc.xsweep.plot.convergence("Sat.Earth.Altitude")
    plt.close("all")


def test_without_matplotlib_the_error_says_what_to_install(
    mc: xr.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(xs.ConfigError, match=r"pip install 'gmat-xsweep\[plot\]'"):
        mc.xsweep.plot.status()
