"""Epochs in every form an analyst has them: converted to the script's DateFormat, or refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS

REPORT = MISSIONS / "leo_report.script"  # Sat.DateFormat = UTCGregorian


def test_every_form_of_an_epoch_flies_from_that_epoch(tmp_path: Path) -> None:
    forms = {
        "datetime64": np.datetime64("2026-03-01T06:00:00"),
        "iso": "2026-03-01T06:00:00",
        "gregorian": "01 Mar 2026 06:00:00.000",
        # GMAT's day count from 1941-01-05 12:00: 31101 days on is 2026-03-01 12:00.
        "modjulian": 31100.75,
    }
    for name, epoch in forms.items():
        space = xr.merge(
            [xs.grid({"Sat.SMA": [7000.0]}), xs.fixed({"Sat.Epoch": epoch, "TOF": 60})]
        )
        sweep = xs.run(REPORT, space, out=tmp_path / name, workers=1, progress=False)
        assert sweep.counts["ok"] == 1, (name, sweep.failed())
        first = xs.open_sweep(sweep.path)["time"].isel(step=0).values.ravel()[0]
        assert first == np.datetime64("2026-03-01T06:00:00", "ns"), name


def test_a_string_that_is_no_epoch_is_refused_with_the_forms() -> None:
    with pytest.raises(xs.SpaceError, match=r"'next tuesday' is not an epoch.*ISO string"):
        xs.grid({"Sat.Epoch": ["01 Jan 2026 00:00:00.000", "next tuesday"]})
    with pytest.raises(xs.SpaceError, match="ModJulian day count"):
        xs.fixed({"Sat.Epoch": "2026-13-45"})


def test_the_cli_takes_epochs_as_typed(tmp_path: Path) -> None:
    from xsweep.cli.main import main

    # GMAT's day counts (31042 is 2026-01-01 12:00) and its Gregorian text, commas inside.
    for name, spec, first in [
        ("mjd", "Sat.Epoch=31042,31042.5", "2026-01-01T12:00"),
        ("text", "Sat.Epoch=01 Jan 2026 00:00:00.000,'02 Jan 2026 00:00:00.000'",
         "2026-01-01T00:00"),
    ]:  # fmt: skip
        out = tmp_path / name
        args = ["run", str(REPORT), "--grid", spec, "--fixed", "TOF=60", "--out", str(out),
                "--workers", "1", "--no-progress"]  # fmt: skip
        assert main(args) == 0, name
        ds = xs.open_sweep(out)
        typed = [v.strip("'") for v in spec.split("=", 1)[1].split(",")]
        assert [str(v) for v in ds["Sat.Epoch"].values] == typed  # the text, no quotes
        runs = xs.Sweep(out).manifest.runs
        assert [runs[i].overrides["Sat.Epoch"] for i in (0, 1)] == typed
        assert ds["time"].isel(step=0).values[0] == np.datetime64(first, "ns")
