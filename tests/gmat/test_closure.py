"""A script's closure: #Include'd and side files travel with the sweep, and drift with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import DATA, ROOT, xsweep_command
from xsweep.gmat.closure import resolve

INCLUDE = DATA / "missions" / "include"
SPACE = {"Sat.SMA": [7000.0, 7100.0], "TOF": [300.0]}


@pytest.fixture
def mission(tmp_path: Path) -> Path:
    """A copy of the include mission that a test may change."""
    shutil.copytree(INCLUDE, tmp_path / "mission")
    return tmp_path / "mission" / "main.script"


def _header(sweep_dir: Path) -> dict[str, object]:
    header: dict[str, object] = json.loads(
        (sweep_dir / "manifest.jsonl").read_text().splitlines()[0]
    )
    return header


def test_includes_resolve_from_the_main_script_then_the_working_directory(
    tmp_path: Path,
) -> None:
    main = tmp_path / "a" / "main.script"
    (tmp_path / "a" / "sub").mkdir(parents=True)
    main.write_text("% notes\n#Include 'sub/one.script'\n  #include \"two.script\"\n")
    (tmp_path / "a" / "sub" / "one.script").write_text("#Include 'sub/three.script'\n")
    (tmp_path / "a" / "sub" / "three.script").write_text("% leaf\n")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    (cwd / "two.script").write_text("% found in the working directory\n")
    closure = resolve(main, cwd=cwd)
    assert [m.written for m in closure.members] == [
        "sub/one.script",
        "two.script",
        "sub/three.script",
    ]
    # Laid out as GMAT will look for them from the copy: next to the main script.
    assert sorted(closure.layout()) == [
        "main.script",
        "sub/one.script",
        "sub/three.script",
        "two.script",
    ]
    assert closure.layout()["two.script"] == cwd / "two.script"
    assert closure.members[2].named_in == "sub/one.script, line 1: #Include 'sub/three.script'"


def test_a_parent_directory_include_keeps_its_layout(tmp_path: Path) -> None:
    main = tmp_path / "missions" / "leo" / "main.script"
    main.parent.mkdir(parents=True)
    (tmp_path / "missions" / "common").mkdir()
    (tmp_path / "missions" / "common" / "sat.script").write_text("% shared\n")
    main.write_text("#Include '../common/sat.script'\n")
    closure = resolve(main)
    assert closure.root == tmp_path / "missions"
    assert sorted(closure.layout()) == ["common/sat.script", "leo/main.script"]


def test_the_hash_covers_every_included_file(mission: Path) -> None:
    before = resolve(mission).sha256()
    forces = mission.parent / "parts" / "forces.script"
    forces.write_text(forces.read_text() + "FM.SRP = Off;\n")
    assert resolve(mission).sha256() != before


def test_a_script_without_includes_hashes_as_before() -> None:
    from xsweep.gmat.closure import script_sha256

    plain = ROOT / "examples" / "missions" / "leo_report.script"
    closure = resolve(plain)
    assert closure.members == ()
    assert closure.sha256() == script_sha256(plain)


@pytest.mark.gmat
def test_a_missing_include_is_refused_at_plan_time_naming_the_line(tmp_path: Path) -> None:
    main = tmp_path / "main.script"
    main.write_text(
        (INCLUDE / "main.script").read_text().replace("parts/craft.script", "parts/gone.script")
    )
    out = tmp_path / "sweep"
    with pytest.raises(xs.ScriptNotFoundError) as info:
        xs.run(main, xs.grid(SPACE), out=out, workers=1, progress=False)
    assert info.value.script == tmp_path / "parts" / "gone.script"
    assert info.value.referenced_by == "main.script, line 6: #Include 'parts/gone.script'"
    assert "line 6" in str(info.value)
    assert not out.exists()


@pytest.mark.gmat
def test_a_sweep_with_nested_includes_runs_resumes_and_archives(
    mission: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep"
    sweep = xs.run(mission, xs.grid(SPACE), out=out, workers=2, progress=False)
    assert sweep.counts == {"ok": 2, "failed": 0, "pending": 0}
    header = _header(out)
    script = header["script"]
    assert isinstance(script, dict)
    assert script["file"] == "script/main.script"
    assert [f["file"] for f in script["files"]] == [
        "script/parts/craft.script",
        "script/parts/forces.script",
    ]
    assert (out / "script" / "parts" / "forces.script").read_bytes() == (
        mission.parent / "parts" / "forces.script"
    ).read_bytes()
    assert not (out / "mission.script").exists()
    # The originals can go away: the sweep holds its closure.
    shutil.rmtree(mission.parent)
    lines = (out / "manifest.jsonl").read_text().splitlines(keepends=True)
    (out / "manifest.jsonl").write_text("".join(lines[:-1]))  # as if the last run was cut off
    assert xs.resume(out, workers=1, progress=False).counts["ok"] == 2

    bundle = xs.archive(out, out=tmp_path / "sweep.zip")
    with zipfile.ZipFile(bundle) as zf:
        assert "script/parts/craft.script" in zf.namelist()
    elsewhere = tmp_path / "elsewhere"
    xs.extract(bundle, elsewhere)
    lines = (elsewhere / "manifest.jsonl").read_text().splitlines(keepends=True)
    (elsewhere / "manifest.jsonl").write_text("".join(lines[:-1]))
    assert xs.resume(elsewhere, workers=1, progress=False).counts["ok"] == 2
    assert xs.open_sweep(elsewhere)["Sat.SMA"].sel({"Sat.SMA": 7100.0}).size > 0


@pytest.mark.gmat
def test_a_changed_included_file_is_drift(mission: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    xs.run(mission, xs.grid({"Sat.SMA": [7000.0]}), out=out, workers=1, progress=False)
    forces = mission.parent / "parts" / "forces.script"
    forces.write_text(forces.read_text().replace("FM.SRP = Off;", "FM.SRP = On;"))
    with pytest.raises(xs.ScriptDriftError):
        xs.resume(out, script=mission, workers=1, progress=False)
    with pytest.warns(UserWarning, match="script drift"):
        xs.resume(out, script=mission, allow_script_drift=True, workers=1, progress=False)
    drifted = [p for p in out.glob("script-*") if p.is_dir()]
    assert len(drifted) == 1
    assert "FM.SRP = On;" in (drifted[0] / "parts" / "forces.script").read_text()
    # The sweep's own copy is not drift: it is what the sweep ran.
    assert xs.resume(out, workers=1, progress=False).counts["ok"] == 1


@pytest.mark.gmat
def test_side_files_travel_and_drift(mission: Path, tmp_path: Path) -> None:
    notes = mission.parent / "data" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("inputs the script reads\n")
    out = tmp_path / "sweep"
    proc = subprocess.run(
        [
            *xsweep_command("run", str(mission), "--grid", "Sat.SMA=7000", "--out", str(out)),
            *("--file", "data/notes.txt", "--workers", "1", "--no-progress"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=mission.parent,
        env={**os.environ},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "script" / "data" / "notes.txt").read_text() == notes.read_text()
    script = _header(out)["script"]
    assert isinstance(script, dict)
    assert {"file": "script/data/notes.txt", "named": "data/notes.txt", "in": "files="} in script[
        "files"
    ]
    notes.write_text("changed\n")
    with pytest.raises(xs.ScriptDriftError):
        xs.resume(out, script=mission, workers=1, progress=False)


@pytest.mark.gmat
def test_an_input_file_named_by_relative_path_travels(tmp_path: Path) -> None:
    """A gravity file beside the script: GMAT reads it from the script's directory."""
    import gmatpy

    mission = tmp_path / "mission"
    (mission / "grav").mkdir(parents=True)
    data = Path(gmatpy.__file__).parent / "data" / "gravity" / "earth" / "JGM2.cof"
    shutil.copy(data, mission / "grav" / "JGM2.cof")
    text = (ROOT / "examples" / "missions" / "leo_report.script").read_text()
    (mission / "main.script").write_text(
        text.replace(
            "FM.PointMasses = {Earth};",
            "FM.GravityField.Earth.Degree = 4;\nFM.GravityField.Earth.Order = 4;\n"
            "FM.GravityField.Earth.PotentialFile = 'grav/JGM2.cof';  % beside the script",
        )
    )
    closure = resolve(mission / "main.script")
    assert [(m.written, m.named_in) for m in closure.members] == [
        ("grav/JGM2.cof", "main.script, line 23: PotentialFile")
    ]
    out = tmp_path / "sweep"
    sweep = xs.run(mission / "main.script", xs.grid(SPACE), out=out, workers=1, progress=False)
    assert sweep.counts == {"ok": 2, "failed": 0, "pending": 0}, sweep.failed()
    assert (out / "script" / "grav" / "JGM2.cof").read_bytes() == data.read_bytes()
    # A file GMAT finds in its own data directories is not the sweep's to keep.
    assert resolve(ROOT / "examples" / "missions" / "leo_drag.script").members == ()


@pytest.mark.gmat
def test_a_missing_side_file_is_refused(mission: Path, tmp_path: Path) -> None:
    with pytest.raises(xs.ScriptNotFoundError, match="files="):
        xs.run(
            mission,
            xs.grid({"Sat.SMA": [7000.0]}),
            out=tmp_path / "s",
            files=[tmp_path / "nope.bsp"],
            progress=False,
        )
    assert not (tmp_path / "s").exists()


@pytest.mark.gmat
def test_includes_on_a_cluster_you_pass(client: object, mission: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    sweep = xs.run(mission, xs.grid(SPACE), out=out, client=client, progress=False)
    assert sweep.counts["ok"] == 2
