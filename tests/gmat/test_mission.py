"""run_mission on real GMAT: every example mission, outputs, failures, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gmat_run import Results

import xsweep as xs
from _helpers import DATA, MISSIONS, run_python
from xsweep.gmat.engine import get_engine
from xsweep.gmat.outputs import convert_results, json_attrs, write_parquet

pytestmark = pytest.mark.gmat

# mission -> the outputs GMAT must produce, as (kind, name)
EXPECTED = {
    "leo_report": {("report", "RF")},
    "leo_drag": {("report", "RF")},
    "ephemeris": {("report", "RF"), ("ephemeris", "EphSTK"), ("ephemeris", "EphOEM")},
    "hohmann": {("report", "RF"), ("solver", "DC")},
    "finite_burn": {("report", "RF")},
    "two_spacecraft": {("report", "RF")},
}


def _gmat_run_direct(script: Path, work: Path) -> Results:
    """Run ``script`` through gmat-run's own Mission on the same engine, no xsweep."""
    mission = get_engine().load(script)
    return mission.run(working_dir=work, overwrite=True)


def _attrs(frame: pd.DataFrame) -> dict[str, object]:
    attrs: dict[str, object] = json.loads(json_attrs(frame.attrs))
    header = attrs.get("file_header")
    if isinstance(header, dict):
        header.pop("CREATION_DATE", None)  # an OEM header holds its file's creation time
    return attrs


def _as_read_back(frame: pd.DataFrame) -> pd.DataFrame:
    """gmat-run's frame with object text columns as pandas reads Parquet strings back."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.astype(dict.fromkeys(text, pd.StringDtype(na_value=np.nan))) if text else frame


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_output_matches_gmat_run(name: str, tmp_path: Path) -> None:
    script = MISSIONS / f"{name}.script"
    outcome = xs.run_mission(script, out_dir=tmp_path / "xs")
    assert outcome.status == "ok", outcome.error
    assert {(o.kind, o.name) for o in outcome.outputs} == EXPECTED[name]
    assert (tmp_path / "xs" / "gmat.log").read_text().strip()
    direct = _gmat_run_direct(script, tmp_path / "direct")
    views = {
        "report": direct.reports,
        "ephemeris": direct.ephemerides,
        "solver": direct.solver_runs,
        "contact": direct.contacts,
    }
    for out in outcome.outputs:
        ours = xs.read_output(tmp_path / "xs" / out.path)
        theirs = views[out.kind][out.name]
        assert out.rows == len(ours) > 0
        pd.testing.assert_frame_equal(ours, _as_read_back(theirs), check_exact=True)
        assert _attrs(ours) == _attrs(theirs)
    # no scratch directory or temporary file is left behind
    leftovers = [p.name for p in (tmp_path / "xs").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_ephemeris_formats_and_headers(tmp_path: Path) -> None:
    outcome = xs.run_mission(MISSIONS / "ephemeris.script", out_dir=tmp_path)
    stk = xs.read_output(tmp_path / outcome.output("ephemeris", "EphSTK").path)
    oem = xs.read_output(tmp_path / outcome.output("ephemeris", "EphOEM").path)
    assert stk.attrs["file_header"]["version"].startswith("stk.v.")
    assert oem.attrs["file_header"]["CCSDS_OEM_VERS"]
    # the two formats describe the same trajectory
    np.testing.assert_allclose(
        stk[["X", "Y", "Z"]].to_numpy(), oem[["X", "Y", "Z"]].to_numpy(), rtol=1e-9
    )
    assert "source_path" not in oem.attrs


def test_solver_log_records_convergence(tmp_path: Path) -> None:
    outcome = xs.run_mission(MISSIONS / "hohmann.script", {"TargetRMAG": 8500}, out_dir=tmp_path)
    solver = xs.read_output(tmp_path / outcome.output("solver", "DC").path)
    assert solver.attrs["converged"] is True
    assert solver.attrs["solver_type"] == "DifferentialCorrector"
    final = solver.iloc[-1]
    assert abs(final["Sat.Earth.RMAG"] - 8500) <= 0.1


def test_overrides_change_the_result(tmp_path: Path) -> None:
    base = xs.run_mission(MISSIONS / "leo_report.script", out_dir=tmp_path / "a")
    high = xs.run_mission(
        MISSIONS / "leo_report.script", {"Sat.SMA": 7500, "TOF": 120.0}, out_dir=tmp_path / "b"
    )
    a = xs.read_output(tmp_path / "a" / base.outputs[0].path)
    b = xs.read_output(tmp_path / "b" / high.outputs[0].path)
    assert b["Sat.ElapsedSecs"].iloc[-1] == pytest.approx(120.0)
    assert a["Sat.ElapsedSecs"].iloc[-1] == pytest.approx(600.0)
    assert b["Sat.Earth.Altitude"].iloc[0] - a["Sat.Earth.Altitude"].iloc[0] == pytest.approx(
        500 * (1 - 0.001), rel=1e-6
    )


def test_numpy_and_datetime_overrides(tmp_path: Path) -> None:
    epoch = np.datetime64("2026-03-01T06:30:00.250")
    outcome = xs.run_mission(
        MISSIONS / "leo_report.script",
        {"Sat.SMA": np.float64(7200.0), "Sat.Epoch": epoch, "TOF": np.int64(60)},
        out_dir=tmp_path,
    )
    report = xs.read_output(tmp_path / outcome.outputs[0].path)
    assert report["Sat.UTCGregorian"].iloc[0] == pd.Timestamp(epoch)


def test_no_state_leaks_between_runs(tmp_path: Path) -> None:
    """Run A with overrides, then B without: B equals a run in a fresh process."""
    script = MISSIONS / "leo_report.script"
    xs.run_mission(script, {"Sat.SMA": 7400, "Sat.INC": 97.0, "TOF": 300}, out_dir=tmp_path / "A")
    b = xs.run_mission(script, out_dir=tmp_path / "B")
    run_python(
        f"import xsweep as xs; xs.run_mission({str(script)!r}, out_dir={str(tmp_path / 'C')!r})"
    )
    pd.testing.assert_frame_equal(
        xs.read_output(tmp_path / "B" / b.outputs[0].path),
        xs.read_output(tmp_path / "C" / "report-RF.parquet"),
        check_exact=True,
    )


def test_runtime_failure_is_a_failed_outcome(tmp_path: Path) -> None:
    outcome = xs.run_mission(MISSIONS / "leo_drag.script", {"Sat.SMA": 6200}, out_dir=tmp_path)
    assert outcome.status == "failed"
    assert outcome.reason == "gmat-error"
    assert "inside central body" in (outcome.error or "")
    assert outcome.outputs == ()
    assert "inside central body" in (tmp_path / "gmat.log").read_text()
    ok = xs.run_mission(MISSIONS / "leo_drag.script", {"Sat.SMA": 7000}, out_dir=tmp_path / "ok")
    assert ok.status == "ok"


@pytest.mark.parametrize(
    ("override", "field"),
    [({"Sat.DryMass": -5.0}, "DryMass"), ({"Prop.Accuracy": -1.0}, "Accuracy")],
)
def test_value_gmat_refuses_is_a_failed_outcome(
    tmp_path: Path, override: dict[str, float], field: str
) -> None:
    """A well-typed value GMAT's own setter rejects fails the run, not the caller."""
    outcome = xs.run_mission(MISSIONS / "leo_report.script", override, out_dir=tmp_path)
    assert outcome.status == "failed"
    assert outcome.reason == "gmat-error"
    assert f'field "{field}"' in (outcome.error or "")
    assert outcome.outputs == ()


def test_keep_raw_keeps_gmat_files(tmp_path: Path) -> None:
    xs.run_mission(MISSIONS / "leo_report.script", out_dir=tmp_path, keep_raw=True)
    assert (tmp_path / "gmat" / "leo_report.txt").is_file()


# --- bad input -------------------------------------------------------------------


def test_missing_script(tmp_path: Path) -> None:
    with pytest.raises(xs.ScriptNotFoundError, match="not found") as info:
        xs.run_mission(tmp_path / "nope.script", out_dir=tmp_path / "out")
    assert isinstance(info.value, FileNotFoundError)
    assert not (tmp_path / "out").exists()


def test_unparseable_script_carries_gmat_reason(tmp_path: Path) -> None:
    with pytest.raises(xs.ScriptLoadError) as info:
        xs.run_mission(DATA / "unparseable.script", out_dir=tmp_path / "out")
    text = str(info.value)
    assert 'field name "Bogus" on object "Sat" is not permitted' in text
    assert '"Propagatr" is an unknown object type' in text
    assert not isinstance(info.value, xs.UnsupportedFeatureError)
    assert not (tmp_path / "out").exists()


def test_plugin_types_name_the_desktop_route(tmp_path: Path) -> None:
    with pytest.raises(xs.UnsupportedFeatureError) as info:
        xs.run_mission(DATA / "ground_station.script", out_dir=tmp_path / "out")
    assert info.value.types == ("GroundStation", "ContactLocator")
    assert "engine='desktop'" in str(info.value)


@pytest.mark.parametrize(
    ("override", "error", "fragment", "suggestion"),
    [
        ({"Sat.SMAA": 7000}, xs.FieldError, "unknown field 'SMAA'", "SMA"),
        ({"Sta.SMA": 7000}, xs.FieldError, "unknown object 'Sta'", "Sat"),
        ({"tof": 60}, xs.FieldError, "unknown object 'tof'", "TOF"),
        ({"Sat": 60}, xs.FieldError, "is a Spacecraft, not a Variable", None),
        ({"Sat.SMA": "high"}, xs.FieldTypeError, "expected a real number", None),
        ({"Sat.Epoch": "tomorrow"}, xs.FieldTypeError, "not an epoch; give a numpy", None),
        ({"Sat.Epoch": True}, xs.FieldTypeError, "ISO string", None),
    ],
)
def test_bad_overrides(
    tmp_path: Path,
    override: dict[str, object],
    error: type[Exception],
    fragment: str,
    suggestion: str | None,
) -> None:
    with pytest.raises(error, match=fragment) as info:
        xs.run_mission(MISSIONS / "leo_report.script", override, out_dir=tmp_path)
    assert isinstance(info.value, xs.ConfigError)
    if suggestion is not None:
        assert suggestion in info.value.suggestions  # type: ignore[attr-defined]
    assert not list(tmp_path.glob("*.parquet"))


def test_desktop_engine_route(tmp_path: Path) -> None:
    """A desktop install found by gmat-run (GMAT_ROOT) runs the same mission.

    The install here is a minimal GMAT layout whose bin/gmatpy re-exports the
    wheel's engine, so gmat-run's own locate/bootstrap path is exercised.
    """
    root = tmp_path / "gmat-R2026a"
    (root / "bin" / "gmatpy").mkdir(parents=True)
    (root / "api").mkdir()
    (root / "api" / "load_gmat.py").write_text("")
    (root / "bin" / "api_startup_file.txt").write_text("")
    (root / "bin" / "gmat_startup_file.txt").write_text("# GMAT R2026a\n")
    (root / "bin" / "gmatpy" / "__init__.py").write_text(
        "from importlib.metadata import distribution\n"
        "__path__.append(str(distribution('gmatpy').locate_file('gmatpy')))\n"
        "from ._native.gmat_py import *\n"
        "from . import _runtime\n"
        "def Setup(path=None):\n"
        "    return _runtime.engine()\n"
    )
    out = run_python(
        "import xsweep as xs\n"
        f"o = xs.run_mission({str(MISSIONS / 'leo_report.script')!r}, {{'TOF': 60}},"
        f" out_dir={str(tmp_path / 'out')!r}, engine='desktop')\n"
        "e = xs.get_engine('desktop')\n"
        "print(o.status, e.info.kind, e.info.gmat_version)\n",
        env={"GMAT_ROOT": str(root)},
    )
    assert out.split() == ["ok", "desktop", "R2026a"]
    direct = tmp_path / "direct"
    xs.run_mission(MISSIONS / "leo_report.script", {"TOF": 60}, out_dir=direct)
    pd.testing.assert_frame_equal(
        xs.read_output(tmp_path / "out" / "report-RF.parquet"),
        xs.read_output(direct / "report-RF.parquet"),
    )


def test_desktop_engine_not_found_is_clear(tmp_path: Path) -> None:
    out = run_python(
        "import xsweep as xs\n"
        "try:\n"
        f"    xs.get_engine('desktop', gmat_root={str(tmp_path)!r})\n"
        "except xs.EngineError as e:\n"
        "    print('EngineError:', e)\n"
    )
    assert "EngineError: no desktop GMAT install found" in out
    assert "missing bin/ directory" in out


def test_one_engine_per_process() -> None:
    get_engine("embedded")
    with pytest.raises(xs.EngineError, match="cannot load a second engine"):
        get_engine("desktop")


# --- contact outputs (desktop GMAT only): the conversion path on GMAT's formats ---


@pytest.mark.parametrize("fixture", ["contact_legacy.txt", "contact_range.txt"])
def test_contact_reports_convert_like_gmat_run(tmp_path: Path, fixture: str) -> None:
    results = Results(output_dir=tmp_path, log="", contact_paths={"CL": DATA / fixture})
    (out,) = convert_results(results, tmp_path)
    assert (out.kind, out.name, out.path) == ("contact", "CL", "contact-CL.parquet")
    ours = xs.read_output(tmp_path / out.path)
    pd.testing.assert_frame_equal(ours, _as_read_back(results.contacts["CL"]), check_exact=True)
    assert ours.attrs["target"] == "Sat"
    assert out.rows == len(ours)


def test_parquet_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report-RF.parquet"
    write_parquet(pd.DataFrame({"x": [1.0, 2.0]}), target)

    def boom(*args: object, **kwargs: object) -> None:
        Path(args[1]).write_bytes(b"PAR1 half")  # type: ignore[arg-type]
        raise OSError("disk full")

    monkeypatch.setattr("xsweep.gmat.outputs.pq.write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        write_parquet(pd.DataFrame({"x": [9.0]}), target)
    assert pd.read_parquet(target)["x"].tolist() == [1.0, 2.0]
    assert [p.name for p in tmp_path.iterdir()] == ["report-RF.parquet"]
