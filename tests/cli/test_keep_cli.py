"""The command line of campaigns: --keep, refly, and what show says of them."""

from __future__ import annotations

from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.cli.main import main


def test_the_cli_keeps_summaries_and_reflies_what_a_query_picks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    script = str(MISSIONS / "leo_report.script")
    argv = ["run", script, "--grid", "Sat.SMA=7000:7300:4", "--out", str(out),
            "--keep", "summary,every=3", "--workers", "2", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    assert xs.open_sweep(out)["kept"].values.tolist() == [1, 0, 0, 1]
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert (
        "keep       summaries (failed=True, every=3, seed=0): 2 runs summaries only, 2 in full"
        in shown
    )
    lowest = xs.open_sweep(out, summary=True)["Sat.Earth.Altitude"].sel(stat="min").values
    cut = float(sorted(lowest)[2])  # the two lowest runs (7000 and 7100 km) are below it
    where = f"`Sat.Earth.Altitude.min` < {cut}"
    assert main(["refly", str(out), "--where", where, "--workers", "2", "--no-progress"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == ["  run 0: same as recorded", "  run 1: same as recorded"]
    assert xs.open_sweep(out)["kept"].values.tolist() == [1, 1, 0, 1]
    assert main(["refly", str(out), "--where", "`No.Such.min` < 1"]) == 2
    assert "cannot evaluate" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse's own check: exit 2, one line
        main(["run", str(MISSIONS / "leo_report.script"), "--grid", "Sat.SMA=7000",
              "--out", str(tmp_path / "x"), "--keep", "summary,every=0"])  # fmt: skip
    assert "Keep(every=) is a positive integer" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
