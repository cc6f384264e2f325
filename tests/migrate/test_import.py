"""xs.import_sweep on real gmat-sweep 0.6.0 sweeps of a real mission (conftest's gs_sweeps)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.migrate.spaces import RUN_ID_COORD

GS = pytest.importorskip("gmat_sweep")
DRAG = MISSIONS / "leo_drag.script"


def _gs_frame(src: Path) -> pd.DataFrame:
    return GS.lazy_multiindex(GS.Manifest.load(src / "manifest.jsonl"), src)


def _same_frame(gs: pd.DataFrame, ours: pd.DataFrame) -> None:
    """Assert xsweep's frame holds gmat-sweep's, value for value (NaN and NaT alike)."""
    assert ours.index.names == gs.index.names
    # An ok run whose output has no rows (GMAT wrote an empty ephemeris) is one NaN row
    # here and no row in gmat-sweep's frame.
    extra = set(ours.index.unique("run_id")) - set(gs.index.unique("run_id"))
    for run in extra:
        part = ours.xs(run, level="run_id")
        assert part["__status"].tolist() == ["ok"], run
        assert part[[c for c in gs.columns if c != "__status"]].isna().all(axis=None), run
    mine = ours.drop(index=list(extra), level="run_id")[gs.columns]
    pd.testing.assert_index_equal(mine.index, gs.index, exact=False)
    plain = [f.astype(object).where(f.notna(), None) for f in (gs, mine)]
    pd.testing.assert_frame_equal(plain[1], plain[0], check_dtype=False)


def _import(src: Path, out: Path, **kw: object) -> xs.Sweep:
    with pytest.warns(UserWarning, match="postprocess hook 'gs_hook:post'"):
        return xs.import_sweep(src, out=out, **kw)  # type: ignore[arg-type]


def test_a_gmat_sweep_grid_comes_across_with_its_frame_labels_and_failures(
    gs_sweeps: Path, tmp_path: Path
) -> None:
    src = gs_sweeps / "grid"
    before = (src / "manifest.jsonl").read_bytes()
    sweep = _import(src, tmp_path / "x", script=DRAG)
    assert (src / "manifest.jsonl").read_bytes() == before  # read, never written
    assert sweep.counts == {"ok": 3, "failed": 3, "pending": 0}
    ds = xs.open_sweep(sweep.path)
    assert list(ds["Sat.ECC"].values) == [0.001, 0.002]  # gmat-sweep's order: keys sorted
    assert list(ds["Sat.SMA"].values) == [7000.0, 6200.0, 7100.0]
    _same_frame(_gs_frame(src), ds.xsweep.to_dataframe())
    # Label selection reads gmat-sweep's own numbers, through a hard link of its file.
    run = ds.sel({"Sat.SMA": 7000.0, "Sat.ECC": 0.002})
    mine = sweep.path / f"runs/run-{int(run['run_id']):06d}/report-RF.parquet"
    theirs = src / f"run-{int(run['run_id'])}/report__RF.parquet"
    assert os.stat(mine).st_ino == os.stat(theirs).st_ino
    alt = pd.read_parquet(theirs)["Sat.Earth.Altitude"].to_numpy()
    np.testing.assert_array_equal(run["Sat.Earth.Altitude"].values[: len(alt)], alt)
    runs = sweep.runs()
    failed = runs[runs["status"] == "failed"]
    assert sorted(failed["reason"]) == ["exception", "gmat-error", "gmat-error"]
    assert failed["error"].tolist().count("RuntimeError: the hook refused this run") == 1
    inside = failed[failed["reason"] == "gmat-error"]["error"]
    assert inside.str.startswith("Atmosphere model exception").all()  # GMAT's own message
    traceback = sweep.manifest.runs[int(inside.index[0])].outcome.extra["gmat_sweep"]["stderr"]
    assert "GmatRunError" in traceback
    # The hook's extra output came along, named in the run's record.
    rec = sweep.manifest.runs[0]
    note = rec.outcome.extra["gmat_sweep"]["extra_outputs"]["note"]
    assert json.loads((sweep.path / note).read_text()) == {"Sat.ECC": 0.001, "Sat.SMA": 7000.0}
    assert xs.Sweep(sweep.path).manifest.header["imported"]["from"] == "gmat-sweep"


def test_an_imported_sweep_resumes_gmat_sweeps_failed_runs_and_archives(
    gs_sweeps: Path, tmp_path: Path
) -> None:
    sweep = _import(gs_sweeps / "grid", tmp_path / "x", script=DRAG)
    xs.resume(sweep.path, workers=1, progress=False)
    runs = xs.Sweep(sweep.path).runs()
    # The run gmat-sweep's hook failed flies in xsweep; the two inside the Earth fail again.
    hooked = runs[(runs["Sat.SMA"] == 7100.0) & (runs["Sat.ECC"] == 0.002)].iloc[0]
    assert hooked["status"] == "ok"
    inside = runs[runs["Sat.SMA"] == 6200.0]
    assert (inside["status"] == "failed").all()
    assert (inside["reason"] == "gmat-error").all()
    assert all(
        "gmat_sweep" not in xs.Sweep(sweep.path).manifest.runs[i].outcome.extra
        for i in inside.index
    )  # fmt: skip  (rerun by xsweep, not gmat-sweep's record)
    ds = xs.open_sweep(sweep.path)
    assert np.isfinite(ds["Sat.X"].sel({"Sat.SMA": 7100.0, "Sat.ECC": 0.002})).any()
    bundle = xs.archive(sweep.path, out=tmp_path / "x.zip")
    assert xs.verify(bundle).ok
    xr_zip = xs.open_sweep(bundle)
    np.testing.assert_array_equal(xr_zip["Sat.X"].values, ds["Sat.X"].values)


def test_a_gmat_sweep_archive_imports_with_its_own_script_after_its_hashes(
    gs_sweeps: Path, tmp_path: Path
) -> None:
    from_zip = _import(gs_sweeps / "grid.zip", tmp_path / "z")
    from_dir = _import(gs_sweeps / "grid", tmp_path / "d", script=DRAG)
    a = xs.open_sweep(from_zip.path).xsweep.to_dataframe()
    pd.testing.assert_frame_equal(a, xs.open_sweep(from_dir.path).xsweep.to_dataframe())
    # The bundled worker logs came along as the runs' logs.
    assert (from_zip.path / from_zip.manifest.runs[1].outcome.log).is_file()  # type: ignore[operator]
    # A member altered after archiving: refused before anything is read or written.
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(gs_sweeps / "grid.zip") as zin, zipfile.ZipFile(bad, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "runs/run-0/report__RF.parquet":
                data = data.replace(b"Sat.X", b"Sat.Q")
            zout.writestr(info, data)
    with pytest.raises(xs.BundleError, match=r"altered: runs/run-0/report__RF\.parquet"):
        xs.import_sweep(bad, out=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_a_seeded_monte_carlo_extends_bit_equal_with_gmat_sweeps_own_extension(
    gs_sweeps: Path, tmp_path: Path
) -> None:
    sweep = xs.import_sweep(gs_sweeps / "mc_ok", out=tmp_path / "x", script=DRAG)
    assert "seeded Monte Carlo" in sweep.manifest.header["imported"]["space"]
    xs.extend(sweep.path, 3, workers=1, progress=False)
    theirs = GS.Manifest.load(gs_sweeps / "mc_extended" / "manifest.jsonl").entries
    ds = xs.open_sweep(sweep.path)
    for name in ("Sat.SMA", "Sat.ECC"):
        drawn = np.array([e.overrides[name] for e in sorted(theirs, key=lambda e: e.run_id)])
        assert ds[name].values.tobytes() == drawn.tobytes()  # bit for bit, all 9 runs
    ours = xs.Sweep(sweep.path).runs()["status"]  # the same runs fly or fail in both tools
    assert ours.tolist() == [e.status for e in sorted(theirs, key=lambda e: e.run_id)]
    # Failed runs of a seeded Monte Carlo keep their reason; the recipe is still gmat-sweep's.
    failing = xs.import_sweep(gs_sweeps / "mc", out=tmp_path / "f", script=DRAG)
    runs = failing.runs()
    assert (runs["status"] == "failed").sum() == 2
    assert set(runs.loc[runs["status"] == "failed", "reason"]) == {"gmat-error"}
    _same_frame(_gs_frame(gs_sweeps / "mc"), xs.open_sweep(failing.path).xsweep.to_dataframe())


def test_a_latin_hypercube_imports_as_its_samples_and_refuses_to_grow(
    gs_sweeps: Path, tmp_path: Path
) -> None:
    sweep = xs.import_sweep(gs_sweeps / "lhs", out=tmp_path / "x", script=DRAG)
    assert "Latin hypercube" in sweep.manifest.header["imported"]["space"]
    entries = GS.Manifest.load(gs_sweeps / "lhs" / "manifest.jsonl").entries
    runs = sweep.runs()
    for e in entries:
        assert runs.loc[e.run_id, "Sat.SMA"] == e.overrides["Sat.SMA"]
    with pytest.raises(xs.SpaceError, match="extend only a Monte Carlo"):
        xs.extend(sweep.path, 2, workers=1, progress=False)


def test_ephemerides_and_solver_logs_come_across_as_gmat_sweep_reads_them(
    gs_sweeps: Path, tmp_path: Path
) -> None:
    eph = xs.import_sweep(gs_sweeps / "eph", out=tmp_path / "e",
                          script=MISSIONS / "ephemeris.script")  # fmt: skip
    assert eph.manifest.header["imported"]["space"] == "explicit samples"
    manifest = GS.Manifest.load(gs_sweeps / "eph" / "manifest.jsonl")
    for name in ("EphSTK", "EphOEM"):
        theirs = GS.lazy_ephemerides(manifest, gs_sweeps / "eph", name=name)
        _same_frame(
            theirs, xs.open_sweep(eph.path, group=f"ephemerides/{name}").xsweep.to_dataframe()
        )
    _same_frame(GS.lazy_multiindex(manifest, gs_sweeps / "eph"),
                xs.open_sweep(eph.path, group="reports/RF").xsweep.to_dataframe())  # fmt: skip
    solver = xs.import_sweep(gs_sweeps / "solver", out=tmp_path / "s",
                             script=MISSIONS / "hohmann.script")  # fmt: skip
    theirs = GS.lazy_solver_runs(gs_sweeps / "solver" / "manifest.jsonl").xs("DC", level="solver")
    ours = xs.open_sweep(solver.path, group="solver/DC").xsweep.to_dataframe()
    assert len(theirs) > 2  # the targeter iterated
    # Indexed by GMAT's own iteration numbers, as gmat-sweep indexes them.
    mine = ours[theirs.columns].reset_index().astype({"iteration": "int64"})
    pd.testing.assert_frame_equal(mine, theirs.reset_index(), check_dtype=False)


def _edited(src: Path, dst: Path, edit: object) -> Path:
    shutil.copytree(src, dst)
    lines = (dst / "manifest.jsonl").read_text().splitlines(keepends=True)
    (dst / "manifest.jsonl").write_text("".join(edit(lines)))  # type: ignore[operator]
    return dst


def test_a_gmat_sweep_manifest_is_read_as_gmat_sweep_reads_it(
    gs_sweeps: Path, tmp_path: Path
) -> None:
    mc = gs_sweeps / "mc_ok"
    # Last entry of a run wins; a torn last line (a sweep cut off) is dropped.
    late = {**json.loads((mc / "manifest.jsonl").read_text().splitlines()[1]), "status": "failed",
            "stderr": "a later attempt failed", "output_paths": {}}  # fmt: skip
    src = _edited(mc, tmp_path / "a", lambda ls: [*ls, json.dumps(late) + "\n", '{"run_id": 9'])
    sweep = xs.import_sweep(src, out=tmp_path / "xa", script=DRAG)
    assert sweep.manifest.runs[late["run_id"]].outcome.error == "a later attempt failed"
    assert sweep.counts == {"ok": 5, "failed": 1, "pending": 0}

    # Drawn without a seed, a run missing: the recorded runs are the space, renumbered.
    def unseeded(lines: list[str]) -> list[str]:
        header = json.loads(lines[0])
        header["sweep_seed"] = header["parameter_spec"]["seed"] = None
        return [json.dumps(header) + "\n", *(x for x in lines[1:] if '"run_id": 2,' not in x)]

    src = _edited(mc, tmp_path / "b", unseeded)
    with pytest.warns(UserWarning, match="without a seed"):
        sweep = xs.import_sweep(src, out=tmp_path / "xb", script=DRAG)
    ds = xs.open_sweep(sweep.path)
    assert ds[RUN_ID_COORD].values.tolist() == [0, 1, 3, 4, 5]
    # A newer schema, a script that is not the one run, a directory without its script.
    newer = '"schema_version": 2'
    src = _edited(
        mc, tmp_path / "c", lambda ls: [ls[0].replace('"schema_version": 1', newer), *ls[1:]]
    )
    with pytest.raises(xs.ManifestCorruptError, match="schema_version 2"):
        xs.import_sweep(src, out=tmp_path / "xc", script=DRAG)
    other = tmp_path / "other.script"
    other.write_text(DRAG.read_text().replace("Sat.SMA = 7000", "Sat.SMA = 7001"))
    with pytest.raises(xs.ScriptDriftError, match="not the script this sweep ran"):
        xs.import_sweep(mc, out=tmp_path / "xd", script=other)
    crlf = tmp_path / "crlf.script"  # gmat-sweep's canonical hash: line ends do not count
    crlf.write_bytes(b"\xef\xbb\xbf" + DRAG.read_bytes().replace(b"\n", b"\r\n"))
    assert xs.import_sweep(mc, out=tmp_path / "xe", script=crlf).counts["ok"] == 6
    with pytest.raises(xs.ConfigError, match="give script="):
        xs.import_sweep(mc, out=tmp_path / "xf")
    with pytest.raises(xs.ConfigError, match="reads and writes local directories"):
        xs.import_sweep(mc, out="s3://bucket/sweep", script=DRAG)
    assert not (tmp_path / "xf").exists()
    assert not (tmp_path / "xd").exists()


def test_xsweep_import_brings_an_archive_across_on_the_command_line(
    gs_sweeps: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from xsweep.cli.main import main

    with pytest.warns(UserWarning, match="postprocess"):
        code = main(["import", str(gs_sweeps / "grid.zip"), "--out", str(tmp_path / "x")])
    assert code == 0
    assert "6 runs (3 ok, 3 failed); the space is grid" in capsys.readouterr().out
    assert main(["show", str(tmp_path / "x")]) == 1  # runs failed
    shown = capsys.readouterr().out
    assert "imported   from gmat-sweep 0.6.0" in shown
    assert "gmat-error: Atmosphere model exception" in shown
    assert main(["import", str(gs_sweeps / "mc"), "--out", str(tmp_path / "y")]) == 2
    assert "--script on the command line" in capsys.readouterr().err
