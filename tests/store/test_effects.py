"""A dim along which nothing changes is flagged: a sweep that silently varied nothing."""

from __future__ import annotations

from pathlib import Path

import xsweep as xs
from _helpers import MISSIONS
from xsweep.cli.main import main

REPORT = MISSIONS / "leo_report.script"  # two-body: the drag coefficient reaches nothing


def test_a_field_no_output_depends_on_is_flagged_everywhere(tmp_path: Path, capsys: object) -> None:
    out = tmp_path / "cd"
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0], "Sat.Cd": [1.8, 2.2, 2.6]})
    sweep = xs.run(REPORT, space, out=out, workers=2, progress=False)
    assert sweep.counts["ok"] == 6
    assert sweep.no_effect_dims() == {"Sat.Cd": 3}
    assert "warning  Sat.Cd: no output changes across its 3 values" in repr(sweep)
    assert "Sat.Cd: no output changes across its 3 values" in sweep._repr_html_()
    assert xs.open_sweep(out).attrs["no_effect"] == {"Sat.Cd": 3}
    assert main(["show", str(out)]) == 0
    assert "warning    Sat.Cd: no output changes" in capsys.readouterr().out  # type: ignore[attr-defined]
    # Every output digest is the run's own: the SMA changes them, so SMA is not flagged.
    digests = {r.outcome.outputs[0].digest for r in sweep.manifest.runs.values()}
    assert len(digests) == 2


def test_a_sweep_whose_every_dim_matters_is_not_flagged(tmp_path: Path) -> None:
    out = tmp_path / "ok"
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0], "TOF": [60, 120]})
    sweep = xs.run(REPORT, space, out=out, workers=1, progress=False)
    assert sweep.no_effect_dims() == {}
    assert "no_effect" not in xs.open_sweep(out).attrs
    assert "warning" not in repr(sweep)
