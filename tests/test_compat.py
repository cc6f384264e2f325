"""A sweep an earlier xsweep wrote opens, resumes and archives: the formats did not move.

``tests/data/v1`` holds a sweep directory and its archive, both written by xsweep at
commit 0bed486 (``make.py`` there says how); nothing in them was made by this version.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import DATA
from xsweep.core.records import RunRecord

OLD = DATA / "v1"


@pytest.fixture
def old_sweep(tmp_path: Path) -> Path:
    copy = tmp_path / "sweep"
    shutil.copytree(OLD / "sweep", copy)
    return copy


def test_every_manifest_line_reads_back_to_the_same_bytes() -> None:
    lines = (OLD / "sweep" / "manifest.jsonl").read_bytes().splitlines()
    runs = [json.loads(line) for line in lines[1:]]
    assert len(runs) == 3
    for line, data in zip(lines[1:], runs, strict=True):
        record = RunRecord.from_dict(data)
        again = json.dumps({"kind": "run", **record.to_dict()}, allow_nan=False)
        assert again.encode() == line


def test_an_old_sweep_opens(old_sweep: Path) -> None:
    sweep = xs.Sweep(old_sweep)
    assert sweep.counts == {"ok": 2, "failed": 1, "pending": 0}
    assert sweep.failed()["reason"].tolist() == ["gmat-error"]
    ds = xs.open_sweep(old_sweep)
    assert ds["status"].values.ravel().tolist() == [2, 1, 1]
    frame = sweep.read(2)
    got = ds["Sat.Earth.Altitude"].sel({"Sat.SMA": 7100.0}).values.ravel()[: len(frame)]
    np.testing.assert_array_equal(got, frame["Sat.Earth.Altitude"].to_numpy())
    bundle = xs.open_sweep(OLD / "sweep.zip")
    assert bundle["status"].values.ravel().tolist() == [2, 1, 1]


def test_archiving_an_old_sweep_gives_the_old_archive(old_sweep: Path, tmp_path: Path) -> None:
    bundle = xs.archive(old_sweep, out=tmp_path / "again.zip")
    assert bundle.read_bytes() == (OLD / "sweep.zip").read_bytes()
    assert xs.verify(OLD / "sweep.zip").ok


@pytest.mark.gmat
def test_an_old_sweep_resumes(old_sweep: Path) -> None:
    before = {p: p.read_bytes() for p in (old_sweep / "runs").rglob("*.parquet")}
    lines = (old_sweep / "manifest.jsonl").read_bytes().splitlines()
    resumed = xs.resume(old_sweep, workers=1, progress=False)
    assert resumed.counts == {"ok": 2, "failed": 1, "pending": 0}  # run 0 fails again
    after = (old_sweep / "manifest.jsonl").read_bytes().splitlines()
    assert after[: len(lines)] == lines  # appended to, never rewritten
    assert [json.loads(line)["run_id"] for line in after[len(lines) :]] == [0]
    assert {p: p.read_bytes() for p in before} == before  # finished runs untouched
    assert xs.open_sweep(old_sweep)["status"].values.ravel().tolist() == [2, 1, 1]
