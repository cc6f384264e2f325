"""``run(..., wait=False)``: the plan is checked before it returns, the runs go on behind it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import MISSIONS, ROOT

REPORT = MISSIONS / "leo_report.script"


def test_wait_false_returns_at_once_and_wait_gives_the_finished_sweep(tmp_path: Path) -> None:
    space = xs.grid({"Sat.SMA": np.linspace(7000.0, 7400.0, 12)}).merge(xs.fixed({"TOF": 86400}))
    sweep = xs.run(REPORT, space, out=tmp_path / "bg", workers=2, wait=False)
    assert isinstance(sweep, xs.Sweep)
    assert not sweep.done  # 12 day-long runs: not all done when the plan is written
    assert sweep.counts["pending"] > 0
    with pytest.raises(TimeoutError, match="still running"):
        sweep.wait(timeout=0.01)
    assert sweep.wait(timeout=300) is sweep
    assert sweep.done
    assert sweep.counts == {"ok": 12, "failed": 0, "pending": 0}
    assert xs.open_sweep(sweep.path)["status"].values.tolist() == [1] * 12


def test_a_bad_plan_raises_from_the_call_itself(tmp_path: Path) -> None:
    with pytest.raises(xs.FieldError, match="SMAA"):
        xs.run(REPORT, xs.grid({"Sat.SMAA": [7000.0]}), out=tmp_path / "bad", wait=False)
    assert not (tmp_path / "bad" / "manifest.jsonl").exists()


def test_stop_records_what_finished_and_resume_completes(tmp_path: Path) -> None:
    space = xs.grid({"Sat.SMA": np.linspace(7000.0, 7400.0, 40)}).merge(xs.fixed({"TOF": 86400}))
    sweep = xs.run(REPORT, space, out=tmp_path / "st", workers=1, wait=False)
    deadline = time.monotonic() + 120
    while sweep.counts["ok"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    sweep.stop()
    assert sweep.done
    counts = sweep.counts
    assert counts["ok"] >= 2
    assert counts["pending"] > 0
    assert xs.resume(sweep.path, workers=2, progress=False).counts["ok"] == 40


def test_in_a_notebook_the_card_refreshes_until_the_sweep_ends(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "nb"
    code = (
        "import xsweep as xs\n"
        f"space = xs.grid({{'Sat.SMA': [7000.0, 7100.0, 7200.0, 7300.0]}})\n"
        f"sweep = xs.run({str(REPORT)!r}, space, out={str(out)!r}, workers=2, wait=False)\n"
        "sweep.wait(timeout=300).counts"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()  # fmt: skip
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    cards = [o for o in outputs if o.output_type == "display_data"]
    assert len(cards) == 1  # one card, updated in place
    html = cards[0].data["text/html"]
    assert "<b>xsweep.Sweep</b>" in html
    assert "<span class='ok'>4 ok</span>" in html, html  # its last refresh: every run done
    assert "'ok': 4" in outputs[-1].data["text/plain"]
