"""The examples run as a new user would run them, in a fresh interpreter."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
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


PLOTS = [
    "sma_scan",
    "epoch_tof_grid",
    "mc_dispersion",
    "lhs_vs_mc",
    "resume_killed",
    "archive_round_trip",
    "watch_live",
    "hohmann_derive",
    "correlated_dispersion",
    "drag_sensitivity",
    "mc_convergence",
    "ric_dispersion",
    "grid_refine",
    "script_variants",
    "object_store",
    "gravity_degree",
    "campaign",
    "asking_where",
    "importing",
]
# Examples whose default is a user's full study: the suite runs a smaller one.
SMALLER = {"campaign": ["--n", "300"], "asking_where": ["--n", "60"], "importing": ["--n", "10"]}


@pytest.mark.parametrize("name", PLOTS)
def test_example_writes_its_plot(name: str, tmp_path: Path) -> None:
    """Each example runs a real sweep in a fresh interpreter and saves a non-trivial PNG."""
    import matplotlib.image

    argv = [sys.executable, str(ROOT / "examples" / f"{name}.py"), "--out", str(tmp_path)]
    proc = subprocess.run(
        argv + SMALLER.get(name, []), capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    png = tmp_path / f"{name}.png"
    assert proc.stdout.strip().splitlines()[-1] == str(png)
    assert png.stat().st_size > 20_000
    pixels = matplotlib.image.imread(png)[..., :3]
    assert pixels.shape[0] > 300
    assert pixels.shape[1] > 500
    # Not blank: many distinct colours (lines, fills, text), not one background.
    colours = np.unique((pixels.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50


def test_docs_show_every_example_plot() -> None:
    """The docs embed each example's plot, committed under docs/images/."""
    pages = "".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    for name in PLOTS:
        assert (ROOT / "docs" / "images" / f"{name}.png").is_file(), name
        assert f"images/{name}.png" in pages, name


def test_cookbook_snippets_run(tmp_path: Path) -> None:
    """docs/cookbook.md includes these sections; they run and give sensible numbers."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "cookbook.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    selected, grouped, frame = proc.stdout.strip().splitlines()
    assert selected.split()[-3:] == ["7100.0", "2", "3"]
    assert len(grouped.split(",")) == 3
    assert frame.endswith("{'ok': 18}")


def test_the_study_notebook_runs_in_a_kernel_and_shows_its_results() -> None:
    """The committed notebook has no outputs; executed, it shows the study; the docs render it."""
    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "examples" / "study.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip the outputs"
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()  # fmt: skip
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<b>xsweep.Space</b>: 80 runs over sample=40" in h for h in html)
    cards = [h for h in html if "<b>xsweep.Sweep</b>" in h]
    assert cards, "the live card"
    assert re.search(r"\d+ failed</span>", cards[-1])  # low orbits fail
    assert "<td class='failed'>gmat-error</td>" in cards[-1]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # the two plot cells
    assert any("(failed: gmat-error)" in h for h in html)  # a failed run's whole record
    assert "bundle mc.zip: True" in "".join(o.get("text", "") for o in outputs)
    nbformat.write(nb, ROOT / "docs" / "study.ipynb")  # the site renders this executed copy
