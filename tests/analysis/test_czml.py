"""``xs.to_czml``: a real ephemeris sweep as one CZML document, checked against a schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

import xsweep as xs
from _helpers import DATA, MISSIONS

pytestmark = pytest.mark.gmat

SCHEMA = json.loads((DATA / "czml.schema.json").read_text())
EPHEMERIS = """
Create EphemerisFile Eph;
Eph.Spacecraft = Sat;
Eph.Filename = 'sat.oem';
Eph.FileFormat = CCSDS-OEM;
Eph.EpochFormat = UTCGregorian;
Eph.CoordinateSystem = EarthMJ2000Eq;
Eph.StepSize = 60;
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> xs.Sweep:
    """The drag mission with an OEM ephemeris: 3 SMAs x 2 inclinations; 6200 km fails."""
    here = tmp_path_factory.mktemp("czml")
    text = (MISSIONS / "leo_drag.script").read_text()
    script = here / "drag_eph.script"
    script.write_text(text.replace("BeginMissionSequence", EPHEMERIS + "\nBeginMissionSequence"))
    space = xs.grid({"Sat.SMA": [6200.0, 7000.0, 7100.0], "Sat.INC": [28.5, 98.0],
                     "TOF": [1800]})  # fmt: skip
    return xs.run(script, space, out=here / "s", workers=2, progress=False)


def test_every_ok_run_is_one_object_named_by_its_parameters(
    sweep: xs.Sweep, tmp_path: Path
) -> None:
    assert sweep.counts == {"ok": 4, "failed": 2, "pending": 0}
    out = tmp_path / "sweep.czml"
    doc = xs.to_czml(sweep.path, out=out)
    data = json.loads(out.read_text())
    assert data == doc.to_dict()
    jsonschema.validate(data, SCHEMA)
    names = [p["name"] for p in data[1:]]
    assert names == [
        "run 2: Sat.SMA=7000, Sat.INC=28.5, TOF=1800",
        "run 3: Sat.SMA=7000, Sat.INC=98, TOF=1800",
        "run 4: Sat.SMA=7100, Sat.INC=28.5, TOF=1800",
        "run 5: Sat.SMA=7100, Sat.INC=98, TOF=1800",
    ]
    # The positions are the runs' own ephemerides: seconds after the epoch, then metres.
    for packet in data[1:]:
        run_id = int(packet["name"].split(":")[0].removeprefix("run "))
        eph = sweep.read(run_id, "Eph")
        samples = np.asarray(packet["position"]["cartesian"]).reshape(-1, 4)
        assert len(samples) == len(eph)
        t = (eph["Epoch"] - eph["Epoch"].iloc[0]).dt.total_seconds().to_numpy()
        np.testing.assert_allclose(samples[:, 0], t, atol=1e-3)
        np.testing.assert_allclose(samples[:, 1:], eph[["X", "Y", "Z"]].to_numpy() * 1000.0)
        assert packet["position"]["referenceFrame"] == "INERTIAL"
        start = pd.Timestamp(packet["position"]["epoch"]).tz_localize(None)
        assert abs(start - eph["Epoch"].iloc[0]) < pd.Timedelta(milliseconds=1)


def test_a_label_selection_picks_the_runs_and_failed_ones_are_named(sweep: xs.Sweep) -> None:
    ds = sweep.open()
    inclined = ds.sel({"Sat.INC": 98.0})
    with pytest.warns(UserWarning, match=r"runs \[1\] are not ok"):
        doc = xs.to_czml(sweep, runs=inclined)
    names = [p["name"] for p in doc.to_dict()[1:]]
    assert [n.split(":")[0] for n in names] == ["run 3", "run 5"]
    one = xs.to_czml(sweep, runs=4, output="Eph").to_dict()
    assert [p["name"].split(":")[0] for p in one[1:]] == ["run 4"]
    failed = pytest.warns(UserWarning, match="not ok")
    with pytest.raises(xs.ConfigError, match="none of the runs"), failed:
        xs.to_czml(sweep, runs=[0, 1])
    with pytest.raises(xs.ConfigError, match="no ephemeris 'Nope'"):
        xs.to_czml(sweep, runs=[2], output="Nope")


def test_without_gmat_czml_the_error_says_what_to_install(
    sweep: xs.Sweep, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gmat_czml", None)
    with pytest.raises(xs.ConfigError, match=r"pip install 'gmat-xsweep\[czml\]'"):
        xs.to_czml(sweep)
