"""Script variants: one sweep over several versions of a mission, on a ``script`` dim."""

from __future__ import annotations

import hashlib
import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import MISSIONS, xsweep_command
from xsweep.gmat.closure import script_sha256

SCRIPT = MISSIONS / "leo_report.script"
ALT = "Sat.Earth.Altitude"
RF2 = """Create ReportFile RF2;
RF2.Filename = 'rf2.txt';
RF2.Add = {Sat.UTCGregorian, Sat.VX};
RF2.WriteHeaders = true;

Create Variable TOF;"""


def _variants(where: Path) -> dict[str, Path]:
    """The mission, one with another eccentricity, and one with a second report."""
    text = SCRIPT.read_text()
    ecc = where / "ecc.script"
    ecc.write_text(text.replace("Sat.ECC = 0.001;", "Sat.ECC = 0.02;"))
    rf2 = where / "rf2.script"
    rf2.write_text(text.replace("Create Variable TOF;", RF2))
    return {"base": SCRIPT, "ecc": ecc, "rf2": rf2}


def _space() -> xs.Space:
    return xs.Space(xs.grid({"Sat.SMA": [7000.0, 7200.0], "TOF": [120]}))


def _lines(out: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def _digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((out / "runs").rglob("*")) if p.is_file()}  # fmt: skip


@pytest.fixture(scope="module")
def variant_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """Two variants run together (base, ecc); rf2 is added later by a test that copies it."""
    where = tmp_path_factory.mktemp("variants")
    scripts = _variants(where)
    out = where / "s"
    xs.run({k: scripts[k] for k in ("base", "ecc")}, _space(), out=out, workers=2,
           progress=False)  # fmt: skip
    return out, scripts


@pytest.mark.gmat
def test_two_variants_have_a_script_dim_whose_values_differ_where_the_scripts_differ(
    variant_sweep: tuple[Path, dict[str, Path]],
) -> None:
    out, scripts = variant_sweep
    assert xs.Sweep(out).counts == {"ok": 4, "failed": 0, "pending": 0}
    header = _lines(out)[0]
    recorded = header["scripts"]
    assert isinstance(recorded, dict)
    assert list(recorded) == ["base", "ecc"]
    for name in ("base", "ecc"):  # each variant's copy and canonical hash
        copy = out / recorded[name]["file"]
        assert copy.parent == out / "variants" / name
        assert recorded[name]["sha256"] == script_sha256(copy) == script_sha256(scripts[name])
    runs = [r for r in _lines(out)[1:] if r.get("kind") == "run"]
    by_variant = {r["labels"]["script"]: r["script_sha256"] for r in runs}  # type: ignore[index]
    assert by_variant == {n: recorded[n]["sha256"] for n in ("base", "ecc")}

    ds = xs.open_sweep(out)
    assert ds["script"].values.tolist() == ["base", "ecc"]
    assert ds[ALT].dims[0] == "script"
    base = ds[ALT].sel(script="base").isel(step=-1).values
    ecc = ds[ALT].sel(script="ecc").isel(step=-1).values
    assert np.all(np.isfinite(base))
    assert np.all(np.isfinite(ecc))
    assert np.all(np.abs(base - ecc) > 1.0)  # a 0.02 eccentricity moves the altitude by km
    start = ds[ALT].isel(step=0)  # both start at perigee of their own orbit: differ too
    assert float(abs(start.sel(script="base") - start.sel(script="ecc")).min()) > 1.0
    frame = xs.Sweep(out).runs()
    assert frame["script"].tolist() == ["base", "base", "ecc", "ecc"]  # variant-major run ids


@pytest.mark.gmat
def test_a_variant_added_later_runs_only_its_own_runs_and_its_new_output_is_flagged(
    variant_sweep: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    import shutil

    src, scripts = variant_sweep
    out = tmp_path / "s"
    shutil.copytree(src, out)
    before, lines_before = _digests(out), (out / "manifest.jsonl").read_bytes()
    first = xs.open_sweep(out).load()
    proc = subprocess.run(xsweep_command("extend", str(out), "--script", f"rf2={scripts['rf2']}",
                                         "--workers", "2", "--no-progress"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = _lines(out)
    assert (out / "manifest.jsonl").read_bytes().startswith(lines_before)  # appended only
    kinds = [line.get("kind", "header") for line in lines]
    extension = lines[kinds.index("extend")]
    assert list(extension["scripts"]) == ["rf2"]  # type: ignore[arg-type]
    ran = [r["run_id"] for r in lines[kinds.index("extend") + 1 :] if r["kind"] == "run"]
    assert sorted(ran) == [4, 5]  # type: ignore[type-var]
    after = _digests(out)
    assert {k: after[k] for k in before} == before

    tree = xs.open_sweep(out)
    assert tree["/"]["script"].values.tolist() == ["base", "ecc", "rf2"]
    rf = tree["reports/RF"].to_dataset()
    for name in ("base", "ecc"):  # the old variants' values are as they were
        assert rf[ALT].sel(script=name).load().values.tobytes() == (
            first[ALT].sel(script=name).values.tobytes()
        )
    vx = tree["reports/RF2"].to_dataset()["Sat.VX"].isel(step=0)
    assert np.all(np.isfinite(vx.sel(script="rf2").values))
    assert np.all(np.isnan(vx.sel(script=["base", "ecc"]).values))  # lacked, not an error
    problems = tree["/"].to_dataset()["output_problems"]
    assert set(problems.sel(script=["base", "ecc"]).values.ravel()) == {"reports/RF2=not-in-script"}
    assert set(problems.sel(script="rf2").values.ravel()) == {""}
    status = tree["/"].to_dataset().xsweep.output_status()
    assert set(status.sel(output="reports/RF2", script="base").values.ravel()) == {"not-in-script"}
    assert set(status.sel(output="reports/RF2", script="rf2").values.ravel()) == {"written"}

    again = xs.resume(out, workers=1, progress=False)  # nothing to do; every variant unchanged
    assert again.counts == {"ok": 6, "failed": 0, "pending": 0}
    bundle = xs.archive(out, out=tmp_path / "s.zip")
    assert xs.verify(bundle).ok
    zipped = xs.open_sweep(bundle)
    assert (
        zipped["reports/RF2"]
        .to_dataset()["Sat.VX"]
        .load()
        .equals(tree["reports/RF2"].to_dataset()["Sat.VX"].load())
    )
    shown = subprocess.run(xsweep_command("show", str(out)), capture_output=True, text=True,
                           timeout=120)  # fmt: skip
    assert "script     rf2: rf2.script sha256" in shown.stdout


def test_drift_is_checked_and_reported_per_variant(
    variant_sweep: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    import shutil

    src, scripts = variant_sweep
    out = tmp_path / "s"
    shutil.copytree(src, out)
    copy = out / "variants" / "ecc" / "ecc.script"
    copy.write_text(copy.read_text().replace("Sat.ECC = 0.02;", "Sat.ECC = 0.03;"))
    with pytest.raises(xs.ScriptDriftError, match="script variant 'ecc'"):
        xs.resume(out, workers=1, progress=False)
    with pytest.raises(xs.ConfigError, match=r"pass script=\{name: path\}"):
        xs.resume(out, script=SCRIPT, workers=1, progress=False)
    with pytest.raises(xs.ConfigError, match="not variants of this sweep"):
        xs.resume(out, script={"nope": SCRIPT}, workers=1, progress=False)
    with pytest.raises(xs.ConfigError, match="baseline= names the script of a sweep of one"):
        xs.extend(out, scripts={"more": SCRIPT}, baseline="b", script={"ecc": scripts["ecc"]},
                  workers=1, progress=False)  # fmt: skip
    # The original file, given for the variant, has the recorded hash: no drift.
    sweep = xs.resume(out, script={"ecc": scripts["ecc"]}, workers=1, progress=False)
    assert sweep.counts["ok"] == 4


def test_every_variant_is_checked_before_anything_runs(tmp_path: Path) -> None:
    bad = tmp_path / "bad.script"
    text = SCRIPT.read_text().replace("Create Variable TOF;\nTOF = 600;", "")
    bad.write_text(text.replace("Sat.ElapsedSecs = TOF", "Sat.ElapsedSecs = 600"))
    out = tmp_path / "s"
    with pytest.raises(xs.FieldError, match="script variant 'bad'"):
        xs.run({"good": SCRIPT, "bad": bad}, _space(), out=out, workers=1, progress=False)
    assert not (out / "manifest.jsonl").exists()
    with pytest.raises(xs.ConfigError, match="script variant name"):
        xs.run({"no/slash": SCRIPT}, _space(), out=out, workers=1, progress=False)
    space = xs.grid({"Sat.SMA": [7000.0]}).assign_coords(script=("script", ["x"]))
    with pytest.raises(xs.SpaceError, match="already has a 'script'"):
        xs.run({"a": SCRIPT}, space, out=out, workers=1, progress=False)
    proc = subprocess.run(xsweep_command("run", str(SCRIPT), "--script", f"a={SCRIPT}",
                                         "--grid", "TOF=60", "--out", str(out)),
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2
    assert "give the mission SCRIPT, or script variants" in proc.stderr


@pytest.mark.gmat
def test_a_sweep_of_one_script_grows_a_variant_and_keeps_its_runs(tmp_path: Path) -> None:
    where = tmp_path
    scripts = _variants(where)
    out = where / "s"
    proc = subprocess.run(xsweep_command("run", str(SCRIPT), "--grid", "Sat.SMA=7000,7200",
                                         "--grid", "TOF=120", "--out", str(out), "--workers",
                                         "2", "--no-progress"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    first = xs.open_sweep(out).load()
    before, lines_before = _digests(out), (out / "manifest.jsonl").read_bytes()
    with pytest.raises(xs.ConfigError, match="script variant name 'no/slash'"):
        xs.extend(out, scripts={"ecc": scripts["ecc"]}, baseline="no/slash", progress=False)
    with pytest.raises(xs.ConfigError, match=r"already has script variants \['ecc'\]"):
        xs.extend(out, scripts={"ecc": scripts["ecc"]}, baseline="ecc", progress=False)
    sweep = xs.extend(out, scripts={"ecc": scripts["ecc"]}, workers=2, progress=False)
    assert sweep.counts == {"ok": 4, "failed": 0, "pending": 0}
    assert (out / "manifest.jsonl").read_bytes().startswith(lines_before)
    after = _digests(out)
    assert {k: after[k] for k in before} == before
    extension = next(r for r in _lines(out) if r.get("kind") == "extend")
    assert extension["baseline"] == "leo_report"  # the script file's stem
    ds = xs.open_sweep(out)  # the store was rebuilt with the new dim
    assert ds["script"].values.tolist() == ["leo_report", "ecc"]
    assert ds[ALT].sel(script="leo_report").load().values.tobytes() == first[ALT].values.tobytes()
    assert np.all(np.isfinite(ds[ALT].sel(script="ecc").isel(step=-1).values))
    assert xs.Sweep(out).runs()["script"].tolist() == ["leo_report"] * 2 + ["ecc"] * 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = xs.resume(out, workers=1, progress=False)
    assert again.counts["ok"] == 4
