"""Field discovery from the engine (``xs.fields``, ``xsweep fields``) and draws around it."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.cli.main import main
from xsweep.cli.spaces import build_space
from xsweep.gmat.child import GmatChild
from xsweep.gmat.pool import close_spares, offer_child

pytestmark = pytest.mark.gmat

# What the examples sweep, per mission (examples/*.py).
SWEPT = {
    "leo_report": ["Sat.SMA", "Sat.INC", "Sat.ECC", "Sat.TA", "TOF"],
    "leo_drag": ["Sat.SMA", "Sat.Cd", "Sat.DragArea", "Sat.DryMass", "TOF"],
    "groundtrack": ["Sat.Epoch", "TOF"],
    "hohmann_errors": ["Sat.SMA", "ERR.Element1"],
    "leo_state": ["Sat.X", "Sat.Y", "Sat.Z", "Sat.VX", "Sat.VY", "Sat.VZ"],
}
ANGLES = ("INC", "RAAN", "AOP", "TA")
ASSIGNMENT = re.compile(
    r"^\s*(?:GMAT\s+)?(\w+\.[\w.]+)\s*=\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*;", re.M
)


@pytest.fixture(autouse=True, scope="module")
def warm_child() -> Iterator[None]:
    """One GMAT child answers every listing here (xs.fields takes a spare, and gives it back)."""
    offer_child(GmatChild())
    yield
    close_spares()


def _literals(script: Path) -> dict[str, float]:
    """The numbers the script assigns to its resources' fields, before the mission."""
    head = script.read_text().split("BeginMissionSequence")[0]
    return {path: float(text) for path, text in ASSIGNMENT.findall(head)}


def _same(path: str, value: float, expected: float) -> bool:
    """GMAT holds the state in Cartesian form: elements come back converted, angles mod 360."""
    if path.rsplit(".", 1)[-1] in ANGLES:
        return abs((value - expected + 180) % 360 - 180) < 1e-5
    return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("script", sorted(MISSIONS.glob("*.script")), ids=lambda p: p.stem)
def test_every_mission_lists_what_it_sets_with_the_scripts_values(script: Path) -> None:
    df = xs.fields(script)
    assert df.index.is_unique
    assert set(df.columns) == {"object", "type", "field", "value", "gmat_type", "units",
                               "settable", "effect", "builtin"}  # fmt: skip
    assert not df["builtin"].any()  # the script's own objects, by default
    assert df["settable"].all()
    literals = _literals(script)
    assert literals, "the regex found the script's assignments"
    for path, expected in literals.items():
        assert path in df.index, f"{path} missing from xs.fields({script.name})"
        assert _same(path, float(df.loc[path, "value"]), expected), (path, df.loc[path, "value"])
    for path in SWEPT.get(script.stem, []):
        assert path in df.index, f"the examples sweep {path}; xs.fields lists it"


def test_objects_units_variables_and_read_only_fields() -> None:
    df = xs.fields(MISSIONS / "leo_report.script", objects=["Sat", "TOF"])
    assert set(df["object"]) == {"Sat", "TOF"}
    assert df.loc["TOF", ["type", "value"]].tolist() == ["Variable", 600.0]
    assert df.loc["Sat.SMA", "units"] == "km"
    assert df.loc["Sat.INC", "units"] == "deg"
    assert df.loc["Sat.Epoch", "value"] == "01 Jan 2026 12:00:00.000"
    everything = xs.fields(MISSIONS / "leo_report.script", objects="Sat", settable=False)
    assert len(everything) > len(df[df["object"] == "Sat"])
    assert not everything["settable"].all()
    assert not everything.loc["Sat.CartesianX", "settable"]  # GMAT's flag: not in the script
    assert df.loc["Sat.X", "settable"]  # yet a state block writes it (Keplerian or not)
    # the Cartesian state of the script's orbit: at perigee (TA = 0) on the x axis
    assert df.loc["Sat.X", "value"] == pytest.approx(7000.0 * (1 - 0.001), rel=1e-12)
    with pytest.raises(xs.FieldError, match="did you mean 'Sat'"):
        xs.fields(MISSIONS / "leo_report.script", objects="Satt")
    with pytest.raises(xs.ScriptNotFoundError):
        xs.fields(MISSIONS / "nope.script")


def test_the_cli_lists_fields_as_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    script = str(MISSIONS / "leo_drag.script")
    assert main(["fields", script, "--object", "Prop"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Prop (PropSetup)\n")
    assert re.search(r"  Prop\.Accuracy\s+1e-12\n", text)
    assert main(["fields", script, "--object", "Sat", "--json"]) == 0
    rows = {r["path"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["Sat.Cd"]["value"] == 2.2
    assert main(["fields", script, "--object", "Sat.Cd"]) == 2  # an object, not a field
    assert "unknown object 'Sat.Cd'" in capsys.readouterr().err


def test_planning_suggests_settable_fields(tmp_path: Path) -> None:
    settable = set(xs.fields(MISSIONS / "leo_drag.script", objects="Sat")["field"])
    with pytest.raises(xs.FieldError, match="did you mean 'DragArea'") as caught:
        xs.run(MISSIONS / "leo_drag.script", xs.grid({"Sat.DragAria": [15.0]}),
               out=tmp_path / "never", workers=1, progress=False)  # fmt: skip
    assert {s.split(".")[-1] for s in caught.value.suggestions} <= settable
    assert not (tmp_path / "never").exists()


def test_draws_relative_to_the_scripts_values(tmp_path: Path) -> None:
    script = MISSIONS / "leo_drag.script"
    cd = float(xs.fields(script, objects="Sat").loc["Sat.Cd", "value"])
    n = 400
    space = xs.monte_carlo(
        n, {"Sat.SMA": ("normal", xs.nominal, 5.0), "Sat.Cd": ("scale", 0.9, 1.1)},
        seed=4, script=script,
    )  # fmt: skip
    sma = space["Sat.SMA"].values
    assert abs(sma.mean() - 7000.0) < 4 * 5.0 / math.sqrt(n)  # around the script's 7000 km
    assert 4.0 < sma.std() < 6.0
    drawn = space["Sat.Cd"].values
    assert 0.9 * cd <= drawn.min() < drawn.max() <= 1.1 * cd
    # The space holds plain distributions: it rebuilds and extends without the script.
    rebuilt = xs.Space.from_dict(xs.Space(space).to_dict())
    np.testing.assert_array_equal(rebuilt.dataset["Sat.Cd"].values, drawn)
    same = xs.monte_carlo(n, {"Sat.SMA": ("normal", 7000.0, 5.0),
                              "Sat.Cd": ("uniform", 0.9 * cd, 1.1 * cd)}, seed=4)  # fmt: skip
    np.testing.assert_array_equal(same["Sat.SMA"].values, sma)
    np.testing.assert_array_equal(same["Sat.Cd"].values, drawn)
    lhs = xs.latin_hypercube(4, {"TOF": ("scale", 0.5, 1.0)}, seed=1, script=script)
    assert ((lhs["TOF"].values >= 300.0) & (lhs["TOF"].values <= 600.0)).all()

    with pytest.raises(xs.SpaceError, match="pass script="):
        xs.monte_carlo(4, {"Sat.SMA": ("normal", xs.nominal, 5.0)}, seed=1)
    with pytest.raises(xs.SpaceError, match="not a finite number"):
        xs.monte_carlo(4, {"Sat.DateFormat": ("scale", 0.9, 1.1)}, seed=1, script=script)

    # End to end: the runs get the drawn values, and a CLI --perturb says the same.
    small = xs.monte_carlo(3, {"Sat.SMA": ("normal", xs.nominal, 5.0)}, seed=9, script=script)
    sweep = xs.run(script, small.merge(xs.grid({"TOF": [60]})), out=tmp_path / "rel",
                   workers=1, progress=False)  # fmt: skip
    assert sweep.counts["ok"] == 3
    np.testing.assert_array_equal(sweep.runs()["Sat.SMA"].to_numpy(), small["Sat.SMA"].values)
    cli = build_space(perturb=["Sat.SMA=normal:nominal:5"], n=3, seed=9, script=str(script))
    np.testing.assert_array_equal(cli["Sat.SMA"].values, small["Sat.SMA"].values)


def test_the_listing_reads_in_the_scripts_order_and_says_what_takes_effect() -> None:
    script = MISSIONS / "hohmann.script"
    df = xs.fields(script)
    created = re.findall(r"^Create \w+ (\w+);", script.read_text(), re.M)
    assert list(dict.fromkeys(df["object"])) == created  # the script's order, no built-ins
    sat = df[df["object"] == "Sat"].index.tolist()
    assert (
        sat.index("Sat.SMA")
        < sat.index("Sat.DryMass")
        < sat.index("Sat.Cd")
        < sat.index("Sat.NAIFId")
    )  # state, mass, coefficients before bookkeeping
    assert df.loc["Sat.DryMass", "units"] == "kg"
    assert df.loc["Sat.X", "units"] == "km"
    assert df.loc["TOI.Element1", "effect"].startswith("overwritten: Vary DC(TOI.Element1")
    assert df.loc["FM.SRP", "effect"] == "at load"
    assert df.loc["TargetRMAG", "effect"] == "yes"
    everything = xs.fields(script, all=True)
    assert everything["builtin"].any()
    assert "EarthMJ2000Eq" in set(everything["object"])
    assert (everything["effect"] == "read-only").any()


def test_an_array_field_is_listed_with_its_values(tmp_path: Path) -> None:
    """``MixRatio`` (an Rvector gmat-run cannot read) shows as GMAT has it."""
    script = tmp_path / "thruster.script"
    script.write_text(
        "Create Spacecraft Sat;\nCreate ChemicalTank Tank1 Tank2;\n"
        "Create ChemicalThruster Thr;\nThr.Tank = {Tank1, Tank2};\nThr.MixRatio = [ 2 1 ];\n"
        "Sat.Tanks = {Tank1, Tank2};\nSat.Thrusters = {Thr};\nCreate Propagator Prop;\n"
        "BeginMissionSequence;\nPropagate Prop(Sat) {Sat.ElapsedSecs = 60};\n"
    )
    df = xs.fields(script, objects="Thr")
    assert df.loc["Thr.MixRatio", "value"] == [2, 1]
