"""A swept field the mission sequence sets is refused before any run, naming the command."""

from __future__ import annotations

from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.cli.main import main

HOHMANN = MISSIONS / "hohmann.script"


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_varied_field_is_refused_with_its_command_and_line(tmp_path: Path) -> None:
    line = _line(HOHMANN, "Vary DC(TOI.Element1")
    with pytest.raises(
        xs.FieldError,
        match=rf"TOI.Element1 is set by 'Vary DC\(TOI.Element1 "
        rf"= 0.5, \.\.\.\)' at line {line}: the swept value would be overwritten",
    ):
        xs.run(HOHMANN, xs.grid({"TOI.Element1": [0.5, 1.0]}), out=tmp_path / "h")
    assert not (tmp_path / "h" / "manifest.jsonl").exists()
    # A field the sequence only reads is swept as usual.
    sweep = xs.run(HOHMANN, xs.grid({"TargetRMAG": [8000.0]}), out=tmp_path / "ok",
                   workers=1, progress=False)  # fmt: skip
    assert sweep.counts["ok"] == 1


def test_an_assignment_before_the_first_propagate_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "assigns.script"
    text = (MISSIONS / "leo_report.script").read_text()
    script.write_text(text.replace("BeginMissionSequence;", "BeginMissionSequence;\nTOF = 700;"))
    line = _line(script, "TOF = 700;")
    with pytest.raises(xs.FieldError, match=rf"TOF is set by 'TOF = 700' at line {line}"):
        xs.run(script, xs.grid({"TOF": [60, 120]}), out=tmp_path / "a")
    # The CLI says the same, and takes the opt-in.
    args = ["run", str(script), "--grid", "TOF=60,120", "--out", str(tmp_path / "c"),
            "--workers", "1", "--no-progress"]  # fmt: skip
    assert main(args) == 2
    assert main([*args, "--allow-overwritten"]) == 0


def test_allowed_a_vary_that_starts_from_the_field_changes_the_result(tmp_path: Path) -> None:
    """The opt-in is for a value the sequence starts from: a Vary's initial guess."""
    script = tmp_path / "guess.script"
    script.write_text(HOHMANN.read_text().replace(
        "Vary DC(TOI.Element1 = 0.5,", "Vary DC(TOI.Element1 = TOI.Element1,"))  # fmt: skip
    space = xs.grid({"TOI.Element1": [0.3, 1.5]})
    with pytest.raises(xs.FieldError, match="allow_overwritten=True"):
        xs.run(script, space, out=tmp_path / "refused")
    sweep = xs.run(script, space, out=tmp_path / "g", workers=1, progress=False,
                   allow_overwritten=True)  # fmt: skip
    assert sweep.counts["ok"] == 2
    solver = xs.open_sweep(sweep.path, group="DC").xsweep.to_dataframe()
    iterations = solver.groupby(level="run_id").size().tolist()
    assert iterations[0] != iterations[1]  # the solver started from each swept guess
