"""The manifest: fsynced appends, torn tails, corrupt lines, last-wins, locking."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

import xsweep as xs
from _helpers import fill, tmpfs
from xsweep.core.errors import SweepLockedError
from xsweep.core.paths import LOCK_NAME, MANIFEST_NAME
from xsweep.core.records import RunRecord
from xsweep.gmat.closure import canonical_script_bytes
from xsweep.record.manifest import Manifest, ManifestWriter, write_header
from xsweep.space.spaces import Space


def _line(run_id: int, status: str = "ok") -> dict[str, object]:
    return {
        "run_id": run_id,
        "index": [run_id],
        "status": status,
        "reason": None if status == "ok" else "crashed",
        "outputs": [],
    }


def _record(run_id: int, status: str = "ok", **more: object) -> RunRecord:
    return RunRecord.from_dict({**_line(run_id, status), **more})


_OUT = {"kind": "report", "name": "RF", "path": "runs/run-000000/report-RF.parquet", "rows": 3}


def _lines(header: dict[str, object], *runs: dict[str, object]) -> bytes:
    """A manifest: the header, then runs 0, 1, ... each ``_record`` updated by its dict."""
    head = {"kind": "header", "schema_version": 1, "n_runs": 5, **header}
    recs = [{"kind": "run", **_line(i), **r} for i, r in enumerate(runs)]
    return b"".join(json.dumps(r).encode() + b"\n" for r in [head, *recs])


def _sweep(tmp_path: Path, n_runs: int = 5) -> Path:
    write_header(tmp_path / MANIFEST_NAME, {"sweep_id": "abc", "n_runs": n_runs})
    return tmp_path


def test_append_and_load(tmp_path: Path) -> None:
    d = _sweep(tmp_path)
    with ManifestWriter(d) as writer:
        writer.append(_record(0))
        writer.append(_record(1, "failed"))
        writer.append(_record(1))  # a rerun supersedes the failure
    m = Manifest.load(d / MANIFEST_NAME)
    assert m.header["sweep_id"] == "abc"
    assert m.header["schema_version"] == 1
    assert sorted(m.runs) == [0, 1]
    assert m.runs[1].status == "ok"
    assert m.counts() == {"ok": 2, "failed": 0, "pending": 3}
    assert m.lines == 4


def test_an_append_that_hits_a_full_disk_leaves_no_partial_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "fs", "256k") as fs:
        d = _sweep(fs)
        with ManifestWriter(d) as writer:
            writer.append(_record(0))
            before = (d / MANIFEST_NAME).read_bytes()
            ballast = fill(fs, leave=4096)  # one page: the line below is 3 pages long
            big = _record(1, error="x" * 12_000)
            with pytest.raises(OSError, match="No space left") as caught:
                writer.append(big)
            assert caught.value.errno == errno.ENOSPC
            assert (d / MANIFEST_NAME).read_bytes() == before  # the partial line taken back
            ballast.unlink()
            writer.append(big)  # space freed: the same writer goes on, on a clean line
        m = Manifest.load(d / MANIFEST_NAME)
        assert m.runs[1].outcome.error == "x" * 12_000
        assert m.lines == 3


@given(st.integers(1, 6), st.data())
def test_torn_final_line_is_dropped_and_cut_before_appending(n: int, data: st.DataObject) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        d = _sweep(Path(tmp), n_runs=10)
        with ManifestWriter(d) as w:
            for i in range(n):
                w.append(_record(i))
        path = d / MANIFEST_NAME
        full = path.read_bytes()
        last_line_start = full.rstrip(b"\n").rfind(b"\n") + 1
        cut = data.draw(st.integers(last_line_start + 1, len(full) - 2))
        path.write_bytes(full[:cut])  # power cut mid-write of the last record
        with pytest.warns(RuntimeWarning, match="torn final line"):
            m = Manifest.load(path)
        assert sorted(m.runs) == list(range(n - 1))
        with pytest.warns(RuntimeWarning, match="torn"), ManifestWriter(d) as w:
            w.append(_record(n - 1))
        again = Manifest.load(path)
        assert sorted(again.runs) == list(range(n))


def test_corrupt_middle_line_names_its_number(tmp_path: Path) -> None:
    d = _sweep(tmp_path)
    with ManifestWriter(d) as w:
        for i in range(3):
            w.append(_record(i))
    path = d / MANIFEST_NAME
    lines = path.read_bytes().split(b"\n")
    lines[2] = b'{"kind": "run", "run_id": 1, "stat'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(xs.ManifestCorruptError, match="line 3") as info:
        Manifest.load(path)
    assert info.value.line == 3


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty manifest"),
        (b'{"kind": "run", "run_id": 0, "status": "ok"}\n', "line 1"),
        (b'{"kind": "header", "schema_version": 99}\n', "newer than this xsweep"),
        (
            b'{"kind": "header", "schema_version": 1, "n_runs": 1}\n{"kind": "run", "run_id": -1, '
            b'"status": "ok"}\n{"kind": "run", "run_id": 0, "status": "ok"}\n',
            "line 2",
        ),
        (_lines({}, {}).replace(b'{"kind": "run"', b'[1, 2]\n{"kind": "run"', 1), "line 2"),
        # Found by the reliability suite's manifest fuzzing: each read as a wrong value or
        # crashed a reader before.
        (_lines({"n_runs": 2}, {"run_id": 2}, {}), "beyond the 2 planned runs"),
        (_lines({}, {"outputs": [{**_OUT, "path": "../../etc/passwd"}]}, {}), "inside the sweep"),
        (_lines({}, {"outputs": [{**_OUT, "path": "/etc/passwd"}]}, {}), "inside the sweep"),
        (_lines({}, {"outputs": [{**_OUT, "rows": "many"}]}, {}), "rows"),
        (_lines({}, {"outputs": [{**_OUT, "kind": "movie"}]}, {}), "output kind"),
        (_lines({}, {"outputs": {"a": 1}}, {}), "outputs must be a list"),
        (_lines({}, {"status": "failed", "reason": "bored"}, {}), "reason"),
        (_lines({}, {"reason": "timeout"}, {}), "no failure reason"),
        (_lines({}, {"labels": [1]}, {}), "labels"),
        (_lines({}, {"index": ["a"]}, {}), "index"),
        (_lines({}, {"duration_s": "slow"}, {}), "duration_s"),
        (_lines({"n_runs": -1}, {}, {}), "line 1"),
        (_lines({"n_runs": None}, {}, {}), "needs n_runs"),
    ],
)
def test_bad_manifests(tmp_path: Path, content: bytes, match: str) -> None:
    (tmp_path / MANIFEST_NAME).write_bytes(content)
    with pytest.raises(xs.ManifestCorruptError, match=match):
        Manifest.load(tmp_path / MANIFEST_NAME)


def test_lock_refuses_a_second_live_writer(tmp_path: Path) -> None:
    d = _sweep(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from xsweep.record.manifest import ManifestWriter\n"
            f"w = ManifestWriter({str(d)!r}); w.acquire()\n"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(SweepLockedError, match=f":{holder.pid}"):
            ManifestWriter(d).acquire()
    finally:
        holder.kill()
        holder.wait()
    # the holder died without releasing: its pid stays in the lock file, the OS lock is gone
    assert (d / LOCK_NAME).read_text().strip().endswith(f":{holder.pid}")
    with pytest.warns(RuntimeWarning, match="taking over the lock"), ManifestWriter(d) as w:
        w.append(_record(0))
    assert (d / LOCK_NAME).read_text() == ""  # released cleanly this time
    with ManifestWriter(d):  # no warning after a clean release
        pass


def test_appends_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = _sweep(tmp_path)
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    with ManifestWriter(d) as w:
        before = len(synced)
        w.append(_record(0))
        w.append(_record(1))
        assert len(synced) - before == 2


def test_canonical_script_hash_ignores_bom_and_line_ends() -> None:
    base = b"Create Spacecraft Sat;\nBeginMissionSequence;\n"
    variants = [
        base,
        b"\xef\xbb\xbf" + base,
        base.replace(b"\n", b"\r\n"),
        base + b"\n\n",
        base.rstrip(b"\n"),
    ]
    assert {canonical_script_bytes(v) for v in variants} == {base}
    assert canonical_script_bytes(base.replace(b"Sat", b"Sc")) != base


def test_header_is_json_with_schema(tmp_path: Path) -> None:
    write_header(tmp_path / MANIFEST_NAME, {"sweep_id": "x", "n_runs": 1})
    (line,) = (tmp_path / MANIFEST_NAME).read_text().splitlines()
    assert json.loads(line) == {"kind": "header", "schema_version": 1, "sweep_id": "x", "n_runs": 1}


def test_a_large_space_is_held_as_arrays_and_reads_back_bit_for_bit(tmp_path: Path) -> None:
    """A header of 10^5 drawn points: parsed, its values are arrays, not 2 x 10^5 numbers."""
    drawn = xs.monte_carlo(100_000, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=3)
    epochs = np.array(["2026-01-01", "2026-01-02"], dtype="datetime64[ns]")
    space = Space(drawn.merge(xs.grid({"epoch": epochs})))
    described = space.to_dict()
    path = tmp_path / MANIFEST_NAME
    write_header(path, {"sweep_id": "big", "n_runs": space.n_runs, "space": described})
    assert path.stat().st_size > 1 << 20
    manifest = Manifest.load(path)
    held = manifest.space["variables"]
    assert isinstance(held["Sat.SMA"]["values"], np.ndarray)
    assert isinstance(held["sample"]["values"], np.ndarray)
    assert isinstance(held["epoch"]["values"], list)  # short lists stay lists
    again = Space.from_dict(manifest.space, verify=True)  # every draw redrawn and compared
    assert again.to_dict() == described
    assert json.loads(path.read_text())["space"] == described  # the file is as written


def test_a_ctrl_c_during_fsync_keeps_the_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines written whole stay (a reader may have counted them); the writer says so.

    A background sweep's ``stop()`` lands its KeyboardInterrupt wherever the client is,
    most often in the fsync: taking those lines back made ``counts`` go down.
    """
    d = _sweep(tmp_path)
    with ManifestWriter(d) as w:
        w.append(_record(0))
        real = os.fsync

        def interrupted(fd: int) -> None:
            real(fd)
            raise KeyboardInterrupt

        monkeypatch.setattr(os, "fsync", interrupted)
        with pytest.raises(KeyboardInterrupt):
            w.append_many([_record(1), _record(2)])
        assert w.whole
        monkeypatch.setattr(os, "fsync", real)
    assert sorted(Manifest.load(d / MANIFEST_NAME).runs) == [0, 1, 2]
