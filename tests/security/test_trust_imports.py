"""A gmat-sweep sweep brought across is data: its paths, numbers and recipes are checked."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS

pytestmark = pytest.mark.gmat
DRAG = MISSIONS / "leo_drag.script"


def _gmat_sweep_dir(where: Path, real_sweep: Path, paths: list[str], **header: object) -> Path:
    """A gmat-sweep output directory of one ok run per recorded output path."""
    where.mkdir()
    text = DRAG.read_bytes().decode().rstrip("\n") + "\n"
    rows = [[7000.0 + i] for i in range(len(paths))]
    head = {"schema_version": 1, "script_sha256": hashlib.sha256(text.encode()).hexdigest(),
            "gmat_sweep_version": "0.6.0", "sweep_seed": None, "run_count": len(paths),
            "parameter_spec": {"_kind": "explicit", "columns": ["Sat.SMA"], "rows": rows},
            **header}  # fmt: skip
    lines = [json.dumps(head)]
    for run_id, path in enumerate(paths):
        lines.append(json.dumps({
            "run_id": run_id, "overrides": {"Sat.SMA": 7000.0 + run_id}, "status": "ok",
            "output_paths": {"report__RF": path}, "started_at": "2026-01-01T00:00:00+00:00",
            "ended_at": "2026-01-01T00:00:01+00:00", "duration_s": 1.0, "stderr": None,
            "log_path": None}))  # fmt: skip
        (where / f"run-{run_id}").mkdir()
    shutil.copy(
        real_sweep / "runs/run-000001/report-RF.parquet", where / "run-0/report__RF.parquet"
    )
    (where / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    return where


def test_an_imported_sweep_follows_no_path_out_of_its_source(
    real_sweep: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.parquet"
    shutil.copy(real_sweep / "runs/run-000001/report-RF.parquet", secret)
    src = _gmat_sweep_dir(tmp_path / "gs", real_sweep, [
        "run-0/report__RF.parquet",  # its own file: brought across
        "../secret.parquet",  # out of the source by its relative path
        str(secret),  # an absolute path elsewhere: only the name is taken, in run-2/
        "run-3/report__RF.parquet",  # a symlink out of the source
    ])  # fmt: skip
    os.symlink(secret, src / "run-3/report__RF.parquet")
    (src / "run-2" / "secret.parquet").symlink_to(secret)
    sweep = xs.import_sweep(src, out=tmp_path / "x", script=DRAG)
    runs = sweep.runs()
    assert runs["status"].tolist() == ["ok", "failed", "failed", "failed"]
    assert runs["error"].iloc[1:].str.contains("without readable files").all()
    inode = os.stat(secret).st_ino
    for path in (tmp_path / "x").rglob("*"):
        if path.is_file():
            assert os.stat(path).st_ino != inode, path
            assert not path.is_symlink(), path


def test_an_imported_sweeps_claims_are_bounded_and_its_recipes_never_run(
    real_sweep: Path, tmp_path: Path
) -> None:
    claims = {
        "a run count of 10^12": {"run_count": 10**12},
        "a Monte Carlo of 10^12 draws": {"parameter_spec": {
            "_kind": "monte_carlo", "n": 10**12, "seed": 1,
            "perturb": {"Sat.SMA": ["normal", 7000.0, 1.0]}}},
        "a scipy 'distribution' that is not one": {"parameter_spec": {
            "_kind": "monte_carlo", "n": 1, "seed": 1,
            "perturb": {"Sat.SMA": {"name": "rv_histogram", "args": ["__import__('os')"]}}}},
        "a grid of 10^6 x 10^6 runs in a few bytes": {"parameter_spec": {
            "_kind": "grid", "Sat.SMA": list(range(10**3)), "Sat.ECC": list(range(10**3)),
            "Sat.INC": list(range(10**3)), "Sat.RAAN": list(range(10**3))}},
    }  # fmt: skip
    for number, (what, header) in enumerate(claims.items()):
        src = _gmat_sweep_dir(tmp_path / f"gs{number}", real_sweep, ["run-0/report__RF.parquet"],
                              **header)  # fmt: skip
        tracemalloc.start()
        with pytest.warns(UserWarning, match="recorded runs as explicit samples"):
            sweep = xs.import_sweep(src, out=tmp_path / f"x{number}", script=DRAG,
                                    consolidate=False)  # fmt: skip
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 64 * 2**20, what
        assert sweep.manifest.n_runs == 1, what  # the one recorded run, nothing sized by a claim


def test_a_gmat_sweep_archive_with_a_member_out_of_it_is_refused(
    real_sweep: Path, tmp_path: Path
) -> None:
    src = _gmat_sweep_dir(tmp_path / "gs", real_sweep, ["runs/run-0/report__RF.parquet"])
    bundle = tmp_path / "gs.zip"
    members = {"manifest.jsonl": (src / "manifest.jsonl").read_bytes(),
               "script/leo_drag.script": DRAG.read_bytes(),
               "../escaped.parquet": (src / "run-0/report__RF.parquet").read_bytes()}  # fmt: skip
    listed = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in members.items())
    with zipfile.ZipFile(bundle, "w") as zf:
        for name, data in {**members, "MANIFEST.hash": listed.encode()}.items():
            zf.writestr(name, data)
    with pytest.raises(xs.BundleError, match=r"unsafe: \.\./escaped\.parquet"):
        xs.import_sweep(bundle, out=tmp_path / "x")
    assert not (tmp_path / "escaped.parquet").exists()
    assert not (tmp_path / "x").exists()
