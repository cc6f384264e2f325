"""Adaptive sampling (xs.adapt): boundaries of real missions, found with fewer runs, resumed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import DATA, MISSIONS, cut_off
from xsweep.sequential.adaptive import crossings

DRAG = MISSIONS / "leo_drag.script"
ISHIGAMI = DATA / "missions" / "ishigami.script"  # y = sin(x1) + 7 sin(x2)^2 (x3 = 0)
SMA = {"Sat.SMA": (6300.0, 6700.0)}
PLANE = {"x1": (-np.pi, np.pi), "x2": (0.0, np.pi / 2)}
Y = [xs.derived.final(columns=["y"])]  # the derived value "y_final"


def test_the_ok_failed_boundary_of_a_real_mission_with_5x_fewer_runs_than_a_grid(
    tmp_path: Path,
) -> None:
    # Below about 6490 km the drag takes the spacecraft into the Earth within 600 s:
    # GMAT refuses, the run fails. The failed runs are data for the boundary.
    sweep = xs.adapt(DRAG, SMA, out=tmp_path / "a", goal=14, batch=4, workers=2, progress=False)
    assert sweep.manifest.n_runs == 14
    assert sweep.counts["failed"] > 0
    runs = sweep.runs().sort_values("Sat.SMA")
    ok = (runs["status"] == "ok").to_numpy()
    assert not ok[0]
    assert ok[-1]
    assert (np.diff(ok.astype(int)) >= 0).all()  # one boundary
    found = crossings(sweep, SMA)
    assert len(found) == 1
    grid = xs.run(DRAG, xs.grid({"Sat.SMA": np.linspace(6300.0, 6700.0, 70)}),
                  out=tmp_path / "g", workers=2, progress=False)  # fmt: skip
    reference = crossings(grid, SMA)
    assert len(reference) == 1
    # Five times the runs on a grid locate it less tightly than the adaptive runs.
    assert grid.manifest.n_runs >= 5 * sweep.manifest.n_runs
    assert found["gap"].iloc[0] <= reference["gap"].iloc[0]
    assert (
        abs(found["Sat.SMA"].iloc[0] - reference["Sat.SMA"].iloc[0])
        <= 400 * (found["gap"].iloc[0] + reference["gap"].iloc[0]) / 2
    )
    ds = xs.open_sweep(tmp_path / "a")
    assert ds.sizes["sample"] == 14


def test_a_level_set_in_two_fields_is_located_along_its_length(tmp_path: Path) -> None:
    sweep = xs.adapt(ISHIGAMI, PLANE, out=tmp_path / "a", value="y_final", threshold=3.5,
                     goal=300, batch=30, derive=Y, workers=2, progress=False)  # fmt: skip
    found = crossings(sweep, PLANE, value="y_final", threshold=3.5)
    tolerance = found["gap"].max()
    # A square grid of five times the runs has a step of 1 / (sqrt(1500) - 1) of the
    # bounds, and an edge crossing the contour is at least one step long: the adaptive
    # runs locate it more tightly. (benchmarks/adaptive.py runs such grids side by side.)
    assert tolerance < 1 / (np.sqrt(5 * sweep.manifest.n_runs) - 1)
    # The contour, sin(x1) + 7 sin(x2)^2 = 3.5, is within the tolerance of a crossing
    # all along (distances in units of the bounds, as the gaps).
    x1 = np.linspace(-np.pi, np.pi, 60)
    x2 = np.arcsin(np.sqrt((3.5 - np.sin(x1)) / 7))
    contour = np.column_stack([(x1 + np.pi) / (2 * np.pi), x2 / (np.pi / 2)])
    middles = np.column_stack([(found["x1"] + np.pi) / (2 * np.pi), found["x2"] / (np.pi / 2)])
    nearest = np.linalg.norm(contour[:, None] - middles[None], axis=2).min(axis=1)
    assert nearest.max() <= tolerance


def test_a_loop_cut_off_mid_batch_goes_on_to_the_same_points(tmp_path: Path) -> None:
    options = {"value": "y_final", "threshold": 3.5, "goal": 40, "batch": 8, "derive": Y,
               "workers": 2, "progress": False}  # fmt: skip
    whole = xs.adapt(ISHIGAMI, PLANE, out=tmp_path / "whole", **options)
    cut = Path(shutil.copytree(tmp_path / "whole", tmp_path / "cut"))
    # What a kill in the fourth batch (runs 24-31) leaves: its extension line and 3 of
    # its runs recorded, no fifth batch.
    cut_off(cut, 27, 32)
    assert xs.Sweep(cut).counts["pending"] == 5
    resumed = xs.adapt(ISHIGAMI, PLANE, out=cut, **options)
    assert resumed.counts["pending"] == 0

    def points(sweep: xs.Sweep) -> list[tuple[float, float]]:
        runs = sweep.runs().sort_index()
        return list(zip(runs["x1"], runs["x2"], strict=True))

    assert len(points(resumed)) == 40
    assert points(resumed) == points(whole)


def test_bad_arguments_are_refused_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(xs.ConfigError, match="low < high"):
        xs.adapt(DRAG, {"Sat.SMA": (7000.0, 6000.0)}, out=tmp_path / "a")
    with pytest.raises(xs.ConfigError, match="goal must be"):
        xs.adapt(DRAG, SMA, out=tmp_path / "a", goal=0)
    with pytest.raises(xs.ConfigError, match="batch must be"):
        xs.adapt(DRAG, SMA, out=tmp_path / "a", batch=0)
    assert not (tmp_path / "a").exists()
    with pytest.raises(xs.ConfigError, match="not a derived value"):
        xs.adapt(ISHIGAMI, {"x1": (0.0, 1.0)}, out=tmp_path / "b", value="y_final", goal=4,
                 workers=1, progress=False)  # fmt: skip
