"""Force-model fields take effect: a swept value is the run of the script hand-edited to it."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xsweep as xs
from _helpers import MISSIONS

DRAG = MISSIONS / "leo_drag.script"  # FM: J2 (degree 2, order 0), exponential drag, SRP off


def _hand_edited(tmp_path: Path, edits: dict[str, str]) -> Path:
    """The script with each ``FM.<field> = ...;`` line's value replaced, as an analyst would."""
    text = DRAG.read_text()
    for path, value in edits.items():
        text, n = re.subn(rf"^{re.escape(path)} = .*;$", f"{path} = {value};", text, flags=re.M)
        assert n == 1, path
    edited = tmp_path / f"edited-{len(list(tmp_path.glob('edited-*')))}.script"
    edited.write_text(text)
    return edited


def _report(path: Path) -> pd.DataFrame:
    return xs.read_output(path)


@pytest.mark.parametrize(
    "edits",
    [
        {"FM.GravityField.Earth.Degree": "8", "FM.GravityField.Earth.Order": "8"},
        {"FM.Drag.AtmosphereModel": "JacchiaRoberts"},
        {"FM.SRP": "On"},
    ],
    ids=["gravity", "atmosphere", "srp"],
)
def test_a_force_model_override_is_the_hand_edited_run_bit_for_bit(
    tmp_path: Path, edits: dict[str, str]
) -> None:
    values = {k: int(v) if v.isdigit() else v for k, v in edits.items()}
    base = xs.run_mission(DRAG, {"TOF": 3600}, out_dir=tmp_path / "base")
    swept = xs.run_mission(DRAG, {"TOF": 3600, **values}, out_dir=tmp_path / "swept")
    hand = xs.run_mission(_hand_edited(tmp_path, edits), {"TOF": 3600}, out_dir=tmp_path / "hand")
    assert base.status == swept.status == hand.status == "ok"
    a, b, c = (_report(o.outputs[0].path if Path(o.outputs[0].path).is_absolute()
                       else d / o.outputs[0].path)
               for o, d in ((base, tmp_path / "base"), (swept, tmp_path / "swept"),
                            (hand, tmp_path / "hand")))  # fmt: skip
    pd.testing.assert_frame_equal(b, c, check_exact=True)  # the same run as the hand edit
    assert not a["Sat.X"].equals(b["Sat.X"])  # and not the script's own value


def test_a_gravity_degree_sweep_changes_the_final_state(tmp_path: Path) -> None:
    space = xs.grid({"FM.GravityField.Earth.Degree": [2, 4, 8, 16]})
    space = space.merge(xs.fixed({"FM.GravityField.Earth.Order": 2, "TOF": 21600}))
    sweep = xs.run(DRAG, space, out=tmp_path / "deg", workers=2, progress=False)
    assert sweep.counts == {"ok": 4, "failed": 0, "pending": 0}
    final = xs.open_sweep(sweep.path).xsweep.final()
    x = final["Sat.X"].values
    assert len(np.unique(x)) == 4  # every degree flies a different orbit
    # Toward the high-degree answer: the gaps to degree 16 shrink as the degree grows.
    gaps = np.abs(x[:3] - x[3])
    assert gaps[0] > gaps[2]
    # The plan still refuses a value of the wrong kind before any run.
    with pytest.raises(xs.FieldTypeError, match="Degree"):
        xs.run(DRAG, xs.grid({"FM.GravityField.Earth.Degree": ["high"]}), out=tmp_path / "bad")
