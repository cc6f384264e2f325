"""Reusing identical runs: ``reuse="content"`` links a run to an ok run with its fingerprint."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS, xsweep_command
from xsweep.plan.reuse import fingerprint

SCRIPT = MISSIONS / "leo_report.script"
ALT = "Sat.Earth.Altitude"


def _space() -> xs.Space:
    return xs.Space(xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0], "TOF": [120]}))


def _runs(out: Path) -> list[dict[str, object]]:
    lines = (out / "manifest.jsonl").read_text().splitlines()[1:]
    return [r for r in map(json.loads, lines) if r.get("kind") == "run"]


def test_a_fingerprint_is_the_script_the_values_and_the_engine() -> None:
    engine = ["embedded", "R2026a", "0.2.1"]
    base = fingerprint("a" * 64, {"Sat.SMA": 7000.0, "TOF": 60}, engine)
    assert base == fingerprint("a" * 64, {"TOF": 60, "Sat.SMA": 7000.0}, engine)  # key order
    assert base != fingerprint("b" * 64, {"Sat.SMA": 7000.0, "TOF": 60}, engine)
    assert base != fingerprint("a" * 64, {"Sat.SMA": 7000.5, "TOF": 60}, engine)
    assert base != fingerprint("a" * 64, {"Sat.SMA": 7000.0, "TOF": 60}, [*engine[:2], "0.3"])


@pytest.mark.gmat
def test_reuse_content_on_a_repeated_space_runs_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, again = tmp_path / "a", tmp_path / "b"
    lowest = xs.derived.minimum(ALT)
    xs.run(SCRIPT, _space(), out=first, workers=2, progress=False, derive=[lowest])
    capsys.readouterr()
    sweep = xs.run(SCRIPT, _space(), out=again, workers=2, reuse="content",
                   reuse_from=[first], derive=[lowest])  # fmt: skip
    assert "3 of 3 runs linked to identical ok runs, not run" in capsys.readouterr().err
    assert sweep.counts == {"ok": 3, "failed": 0, "pending": 0}
    old = {r["run_id"]: r for r in _runs(first)}
    for rec in _runs(again):
        source = old[rec["run_id"]]
        assert rec["extra"]["reused"]["run_id"] == source["run_id"]  # type: ignore[index]
        assert rec["started"] == source["started"]  # the source's outcome: nothing ran again
        for out in rec["outputs"]:  # type: ignore[attr-defined]
            path = again / out["path"]
            assert path.parent.name == f"run-{rec['run_id']:06d}"  # in its own run directory
            twin = first / next(o["path"] for o in source["outputs"] if o["name"] == out["name"])
            assert os.path.samefile(path, twin)  # hard-linked: same bytes, no copy
    a, b = xs.open_sweep(first).load(), xs.open_sweep(again).load()
    assert a[ALT].values.tobytes() == b[ALT].values.tobytes()
    low = f"{ALT}_min"  # the source's derived values travel with the link
    assert a[low].values.tobytes() == b[low].values.tobytes()

    # The linked sweep is whole: it resumes with nothing to do, and archives and verifies.
    assert xs.resume(again, workers=1, progress=False).counts["ok"] == 3
    bundle = xs.archive(again, out=tmp_path / "b.zip")
    assert xs.verify(bundle).ok
    assert xs.open_sweep(bundle)[ALT].load().values.tobytes() == a[ALT].values.tobytes()

    plain = xs.run(SCRIPT, _space(), out=tmp_path / "c", workers=2, progress=False)
    assert all("reused" not in r["extra"] for r in _runs(plain.path))  # type: ignore[operator]


@pytest.mark.gmat
def test_twins_in_one_sweep_run_once_and_a_variant_with_a_known_hash_runs_nothing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "s"
    sweep = xs.run({"x": SCRIPT, "y": SCRIPT}, _space(), out=out, workers=2, progress=False,
                   reuse="content")  # fmt: skip
    assert sweep.counts["ok"] == 6
    reused = {r["run_id"]: r["extra"].get("reused") for r in _runs(out)}  # type: ignore[attr-defined]
    assert [reused[i] for i in range(3)] == [None] * 3  # variant x ran
    assert [reused[i]["run_id"] for i in range(3, 6)] == [0, 1, 2]  # y's twins linked to it
    assert all((out / "runs" / f"run-{i:06d}").is_dir() is False for i in range(3, 6))
    ds = xs.open_sweep(out)
    assert ds[ALT].sel(script="y").values.tobytes() == ds[ALT].sel(script="x").values.tobytes()

    proc = subprocess.run(xsweep_command("extend", str(out), "--script", f"z={SCRIPT}",
                                         "--reuse", "--workers", "1", "--no-progress"),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "3 runs reuse identical ok runs" in proc.stdout or "6 runs reuse" in proc.stdout
    tail = [r for r in _runs(out) if r["run_id"] >= 6]  # type: ignore[operator]
    assert sorted(r["run_id"] for r in tail) == [6, 7, 8]  # type: ignore[type-var]
    assert all(r["extra"]["reused"]["run_id"] in (0, 1, 2) for r in tail)  # type: ignore[index]


def test_bad_reuse_arguments_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "s"
    with pytest.raises(xs.ConfigError, match="reuse must be None or 'content'"):
        xs.run(SCRIPT, _space(), out=out, reuse="always")  # type: ignore[arg-type]
    with pytest.raises(xs.ConfigError, match="needs reuse='content'"):
        xs.run(SCRIPT, _space(), out=out, reuse_from=[tmp_path])
    with pytest.raises(xs.ConfigError, match="is a list of sweep directories"):
        xs.run(SCRIPT, _space(), out=out, reuse="content", reuse_from=str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(xs.ConfigError, match="not a sweep"):
        xs.run(SCRIPT, _space(), out=out, reuse="content", reuse_from=[tmp_path], workers=1,
               progress=False)  # fmt: skip
    assert not (out / "manifest.jsonl").exists() or not _runs(out)
