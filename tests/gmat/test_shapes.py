"""Real-world script shapes, each swept and opened; outputs judged one by one.

``tests/data/missions/shapes/`` holds small missions with the patterns real
scripts use (see each file's comment). Every one sweeps with every run ok, and
every output it writes opens from the store. An output GMAT never writes is
``absent`` and one gmat-run cannot parse is ``unparsed`` (its raw file kept):
neither fails the run, and the other outputs are stored as usual.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import xsweep as xs
from _helpers import DATA, xsweep_command
from xsweep.gmat.outputs import VARIANTS_FLAG

pytestmark = pytest.mark.gmat

SHAPES = DATA / "missions" / "shapes"
SPACE = {"Sat.SMA": [7000.0, 7050.0]}
# shape -> (outputs in the store, {output: problem status})
EXPECTED: dict[str, tuple[set[str], dict[str, str]]] = {
    "ephemeris_formats": (
        {"reports/RF", "ephemerides/EphSTK", "ephemerides/EphOEM", "ephemerides/EphSPK"},
        {},
    ),
    "nested_target": ({"reports/RF", "solver/DC", "solver/Inner"}, {}),
    "no_headers": (set(), {"reports/RF": "unparsed"}),
    "repeated_vary": ({"reports/RF", "solver/DC"}, {}),
    "report_command": ({"reports/RF"}, {}),
    "string_columns": ({"reports/RF"}, {}),
    "two_solvers": ({"reports/RF", "solver/DC", "solver/DC2"}, {}),
    "unwritten_report": ({"reports/RF", "solver/DC"}, {"reports/Unused": "absent"}),
    "write_command": ({"reports/RF", "reports/Notes"}, {}),
}


def test_every_shape_has_a_mission() -> None:
    assert sorted(p.stem for p in SHAPES.glob("*.script")) == sorted(EXPECTED)


@pytest.mark.parametrize("shape", sorted(EXPECTED))
def test_a_shape_sweeps_ok_and_opens(shape: str, client: Any, tmp_path: Path) -> None:
    stored, problems = EXPECTED[shape]
    out = tmp_path / "sweep"
    sweep = xs.run(SHAPES / f"{shape}.script", xs.grid(SPACE), out=out, client=client)
    assert sweep.counts == {"ok": 2, "failed": 0, "pending": 0}, sweep.failed()
    assert sweep.output_counts["unparsed"] == 2 * list(problems.values()).count("unparsed")
    assert sweep.output_counts["absent"] == 2 * list(problems.values()).count("absent")
    for group in sorted(stored):
        ds = xs.open_sweep(out, group=group)
        assert ds.xsweep.to_dataframe().shape[0] >= 2, group
    status = xs.open_sweep(out, group=sorted(stored)[0]) if stored else xs.open_sweep(out)
    table = status.xsweep.output_status()
    assert set(table["output"].values) == stored | set(problems)
    for name in table["output"].values:
        assert set(table.sel(output=name).values.ravel()) == {problems.get(name, "written")}


def test_a_repeated_vary_keeps_a_column_per_vary(client: Any, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    xs.run(SHAPES / "repeated_vary.script", xs.grid(SPACE), out=out, client=client)
    ds = xs.open_sweep(out, group="solver/DC")
    assert {"TOI.Element1", "TOI.Element1#2"} <= set(ds.data_vars)
    frame = xs.Sweep(out).read(0, "DC")
    assert frame.attrs["n_variables"] == 2
    assert frame.attrs["xsweep_variant"]
    # The first Vary's value moves the orbit up, the second circularises: not one column twice.
    assert not np.array_equal(frame["TOI.Element1"], frame["TOI.Element1#2"])


def test_an_unwritten_report_is_absent_and_the_solver_stored(client: Any, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    sweep = xs.run(SHAPES / "unwritten_report.script", xs.grid(SPACE), out=out, client=client)
    problems = sweep.output_problems()
    assert (
        problems[["kind", "name", "status"]].values.tolist() == [["report", "Unused", "absent"]] * 2
    )
    assert problems["raw"].isna().all()
    assert int(xs.open_sweep(out, group="solver/DC")["iteration"].notnull().sum()) > 0
    shown = subprocess.run(
        xsweep_command("show", str(out)), capture_output=True, text=True, timeout=60, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "2 ok, 0 failed, 0 pending; 2 outputs absent" in shown.stdout
    assert "report Unused: absent in 2 runs: GMAT did not write unused.txt" in shown.stdout
    info = json.loads(
        subprocess.run(
            xsweep_command("show", str(out), "--json"),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    )
    assert info["output_problems"][0]["runs"] == 2


def test_an_unparsed_output_keeps_its_raw_file_and_reparses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    # gmat-run's own verdict: it refuses a solver log that names a variable twice.
    monkeypatch.setenv(VARIANTS_FLAG, "0")
    sweep = xs.run(
        SHAPES / "repeated_vary.script", xs.grid(SPACE), out=out, workers=2, progress=False
    )
    assert sweep.counts["ok"] == 2
    problems = sweep.output_problems()
    assert problems["status"].tolist() == ["unparsed", "unparsed"]
    assert problems["error"].str.contains("header declares 2 variables").all()
    for raw in problems["raw"]:
        assert "*** Targeter Text File" in (out / raw).read_text()  # GMAT's file, as it wrote it
    assert "reports/RF" in xs.open_sweep(out).attrs["xsweep_groups"]
    assert "solver/DC" not in xs.open_sweep(out).attrs["xsweep_groups"]
    assert set(xs.open_sweep(out)["output_problems"].values.tolist()) == {"solver/DC=unparsed"}

    monkeypatch.delenv(VARIANTS_FLAG)  # the fixed parser
    again = xs.resume(out, reparse=True, workers=1, progress=False)
    assert again.output_counts == {"unparsed": 0, "absent": 0}
    assert again.counts["ok"] == 2
    ds = xs.open_sweep(out, group="solver/DC")
    assert int(ds["TOI.Element1#2"].notnull().sum()) > 0
    assert set(ds.xsweep.output_status().sel(output="solver/DC").values.ravel()) == {"written"}
    assert set(xs.open_sweep(out)["output_problems"].values.tolist()) == {""}
