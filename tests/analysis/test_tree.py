"""A sweep with several outputs opens as a DataTree, and every helper works on it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS


@pytest.fixture(scope="module")
def hohmann(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real targeting sweep: a report (RF) and a solver log (DC)."""
    out = tmp_path_factory.mktemp("tree") / "h"
    space = xs.grid({"TargetRMAG": [8000.0, 9000.0, 10000.0]})
    xs.run(MISSIONS / "hohmann.script", space, out=out, workers=2, progress=False)
    return out


def test_the_tree_has_the_accessor_on_its_report(hohmann: Path) -> None:
    tree = xs.open_sweep(hohmann)
    assert isinstance(tree, xr.DataTree)
    report = xs.open_sweep(hohmann, group="reports/RF")
    assert tree.xsweep.groups == ["reports/RF", "solver/DC"]
    assert tree.xsweep.group == "reports/RF"
    assert "reports/RF of reports/RF, solver/DC" in repr(tree.xsweep)
    assert tree.xsweep.status == report.xsweep.status == {"ok": 3, "failed": 0, "pending": 0}
    pd.testing.assert_frame_equal(tree.xsweep.runs(), report.xsweep.runs())
    pd.testing.assert_frame_equal(tree.xsweep.to_dataframe(), report.xsweep.to_dataframe())
    pd.testing.assert_frame_equal(xs.to_dataframe(tree), report.xsweep.to_dataframe())
    xr.testing.assert_identical(tree.xsweep.final(), report.xsweep.final())
    xr.testing.assert_identical(xs.final(tree), report.xsweep.final())
    # The solver log by its GMAT name, as open_sweep(group="DC") gives it.
    solver = tree.xsweep.select("DC")
    xr.testing.assert_identical(solver, xs.open_sweep(hohmann, group="DC"))
    assert "iteration" in solver.dims
    assert len(tree.xsweep.select("DC").xsweep.to_dataframe()) > 3


def test_a_tree_error_names_its_groups(hohmann: Path) -> None:
    tree = xs.open_sweep(hohmann)
    with pytest.raises(xs.ConfigError, match=r"names no single output.*'reports/RF', 'solver/DC'"):
        tree.xsweep.select("nope")
    # Two reports: the helpers cannot choose, and say how to.
    two = tree.copy()
    two.dataset = two.to_dataset(inherit=False).assign_attrs(
        xsweep_groups=["reports/A", "reports/B", "solver/DC"]
    )
    with pytest.raises(xs.ConfigError, match=r"group='reports/A'"):
        two.xsweep.final()
    assert "select one" in repr(two.xsweep)
    assert two.xsweep.status["ok"] == 3  # run helpers read the root: no group needed
