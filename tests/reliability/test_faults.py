"""Faults during a sweep and corruption at rest: nothing finished is lost, resume completes.

Each case runs the same 160-run sweep (``_harness.space``), injects its fault,
and ends with ``assert_recovers``: manifest parseable, every finished run's
outputs byte-identical to before the fault, ``resume`` completes, and the
store's data equals the uninterrupted reference sweep's (timings aside).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
import xarray as xr
from _harness import (
    N_RUNS,
    SWEEP,
    assert_recovers,
    cli,
    finished,
    store_data,
    wait_for_lines,
)
from distributed import Client

import xsweep as xs
from _helpers import fill, separate_cluster, tmpfs

pytestmark = [pytest.mark.gmat, pytest.mark.slow, pytest.mark.reliability]


@pytest.fixture(scope="module")
def reference(client: Client, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted sweep every case is compared with."""
    out = tmp_path_factory.mktemp("reference") / "sweep"
    proc = cli(*SWEEP, "--out", str(out), "--scheduler", client.scheduler.address)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    assert xs.Sweep(out).counts["ok"] == N_RUNS
    return out


@pytest.fixture(scope="module")
def finished_copy(reference: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine copy of the reference, for the corruption cases to copy from."""
    out = tmp_path_factory.mktemp("pristine") / "sweep"
    shutil.copytree(reference, out)
    return out


def _start(out: Path, *extra: str) -> subprocess.Popen[str]:
    return cli(*SWEEP, "--out", str(out), *extra)


# --- faults during a sweep ------------------------------------------------------------


def _gmat_children(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    children = [
        p
        for p in psutil.Process(proc.pid).children(recursive=True)
        if "xsweep.gmat.child" in " ".join(p.cmdline())
    ]
    assert children, "no GMAT child found"
    return children


def test_sigkill_a_gmat_child_mid_run(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = _start(out, "--workers", "2")
    wait_for_lines(out / "manifest.jsonl", 40)
    children = _gmat_children(proc)
    children[0].send_signal(signal.SIGKILL)
    code = proc.wait(timeout=300)
    crashed = xs.Sweep(out).failed()
    # The run the child was running is recorded as crashed (or, between runs, none is).
    assert code in (0, 1)
    assert set(crashed["reason"]) <= {"crashed"}
    assert len(crashed) <= 1
    before = finished(out)
    assert_recovers(out, before, reference, case="SIGKILL a GMAT child mid-run")


def test_a_run_that_hangs_past_its_timeout(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = _start(out, "--workers", "2", "--timeout", "3")
    wait_for_lines(out / "manifest.jsonl", 40)
    (victim, *_) = _gmat_children(proc)
    victim.suspend()  # SIGSTOP: the run hangs, as on a stuck file system
    code = proc.wait(timeout=300)
    _, err = proc.communicate(timeout=60)
    assert code == 1, err
    failed = xs.Sweep(out).failed()
    assert list(failed["reason"]) == ["timeout"]
    assert "timeout=3.0" in failed["error"].iloc[0]
    assert xs.Sweep(out).counts["ok"] == N_RUNS - 1  # the other runs went on meanwhile
    assert not victim.is_running()  # killed, not left stopped
    outcome = assert_recovers(out, finished(out), reference, case="a run hangs past its timeout")
    assert outcome.rerun_by_resume == 1


@pytest.mark.parametrize("allowed_failures", [3, 0], ids=["rescheduled", "given-up"])
def test_sigkill_a_dask_worker_mid_run(
    reference: Path, tmp_path: Path, allowed_failures: int
) -> None:
    """Dask reschedules a lost task (by default 3 times); past that it is a crashed run."""
    out = tmp_path / "sweep"
    config = {"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures)}
    with separate_cluster(tmp_path, env=config) as cluster, Client(cluster["address"]) as c:
        proc = _start(out, "--scheduler", cluster["address"])
        wait_for_lines(out / "manifest.jsonl", 40)
        pids = c.run(os.getpid)
        victim = next(iter(pids.values()))
        os.kill(victim, signal.SIGKILL)  # the worker process; its nanny restarts it
        code = proc.wait(timeout=300)
        assert code in (0, 1), proc.stderr.read() if proc.stderr else ""
        assert victim not in c.run(os.getpid).values()  # it died; its nanny started another
        failed = xs.Sweep(out).failed()
        if allowed_failures:
            assert failed.empty
        else:
            # The task it was running, and the one the scheduler had queued on it (at the
            # default worker-saturation of 1.1 a one-thread worker holds two tasks): short
            # runs are fused into tasks of consecutive runs, so at most two stretches of
            # consecutive run ids.
            assert set(failed["reason"]) <= {"crashed"}
            assert failed["error"].str.contains("workers running it died").all()
            ids = sorted(failed.index)
            stretches = 1 + sum(b != a + 1 for a, b in itertools.pairwise(ids))
            assert 1 <= stretches <= 2, ids
        before = finished(out)
        assert_recovers(
            out,
            before,
            reference,
            case=f"SIGKILL a Dask worker mid-run ({allowed_failures} retries)",
            client=cluster["address"],
            notes={"recorded_crashed": len(failed)},
        )


def _assert_aborted(proc: subprocess.Popen[str], out: Path, error: str, timeout: float) -> None:
    """The CLI stopped on its own: exit 1, one error line, the resume hint, no traceback."""
    code = proc.wait(timeout=timeout)  # a hang fails here
    _, err = proc.communicate(timeout=60)
    assert code == 1, err
    assert f"error: {error}" in err
    assert f"continue with: xsweep resume {out}" in err
    assert "Traceback" not in err


def test_kill_the_scheduler_mid_sweep(reference: Path, tmp_path: Path, client: Client) -> None:
    out = tmp_path / "sweep"
    # The client gives up on a lost scheduler after Dask's connect timeout (30 s by default).
    fast = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "5s"}
    with separate_cluster(tmp_path) as cluster:
        proc = cli(*SWEEP, "--out", str(out), "--scheduler", cluster["address"], env=fast)
        wait_for_lines(out / "manifest.jsonl", 40)
        cluster["scheduler"].send_signal(signal.SIGKILL)
        _assert_aborted(proc, out, "lost the Dask cluster", timeout=120)
    counts = xs.Sweep(out).counts
    assert counts["pending"] > 0
    assert counts["failed"] == 0  # runs cut off by the lost scheduler are pending, not failed
    assert_recovers(
        out, finished(out), reference, case="SIGKILL the Dask scheduler mid-sweep", client=client
    )


def test_a_disk_that_fills_up_mid_sweep(reference: Path, tmp_path: Path) -> None:
    from xsweep.execute.worker import MIN_FREE_BYTES

    whole = sum(p.stat().st_blocks * 512 for p in reference.rglob("*"))
    with tmpfs(tmp_path / "fs", f"{whole * 2 + MIN_FREE_BYTES}") as fs:
        out = fs / "sweep"
        ballast = fill(fs, leave=MIN_FREE_BYTES + whole // 3)  # room for about a third
        proc = _start(out, "--workers", "2")
        _assert_aborted(proc, out, "no space left on the device", timeout=300)
        counts = xs.Sweep(out).counts
        assert counts["failed"] == 0  # cut-off runs are pending, never failed from bad outputs
        assert 0 < counts["ok"] < N_RUNS
        # Still full: resume says so again and loses nothing.
        before = finished(out)
        with pytest.raises(xs.DiskFullError, match="no space left") as caught:
            xs.resume(out, workers=1, progress=False)
        assert caught.value.path == out
        assert xs.Sweep(out).counts["failed"] == 0
        ballast.unlink()
        assert_recovers(
            out,
            before,
            reference,
            case="disk fills up mid-sweep",
            notes={"ok_before_full": counts["ok"]},
        )


def test_sigint_the_client_mid_sweep(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = _start(out, "--workers", "2")
    wait_for_lines(out / "manifest.jsonl", 40)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    assert xs.Sweep(out).counts["pending"] > 0
    assert_recovers(out, finished(out), reference, case="SIGINT the client mid-sweep")


def test_sigkill_the_whole_sweep(reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    proc = _start(out, "--workers", "2")
    wait_for_lines(out / "manifest.jsonl", 40)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert xs.Sweep(out).counts["pending"] > 0
    with pytest.warns(RuntimeWarning, match="taking over the lock"):
        assert_recovers(out, finished(out), reference, case="SIGKILL client, workers, children")


def _marked(out: Path) -> dict[int, str]:
    """Run id -> start time, of every run directory holding a ``done`` marker."""
    found = {}
    for marker in (out / "runs").glob("run-*/done.json"):
        found[int(marker.parent.name[4:])] = json.loads(marker.read_text())["outcome"]["started"]
    return found


def _recorded(out: Path) -> set[int]:
    lines = (out / "manifest.jsonl").read_bytes().splitlines()[1:]
    return {json.loads(x)["run_id"] for x in lines if x.endswith(b"}")}


def test_sigkill_the_client_mid_burst_adopts_finished_runs(reference: Path, tmp_path: Path) -> None:
    """Killed while a task's runs are done but their lines unwritten: resume adopts them."""
    out = tmp_path / "sweep"
    proc = _start(out, "--workers", "2", "--runs-per-task", "20")  # outcomes come in bursts
    wait_for_lines(out / "manifest.jsonl", 20)
    deadline = time.monotonic() + 60
    while not _marked(out).keys() - _recorded(out):  # a burst is under way
        assert time.monotonic() < deadline, "no run finished ahead of its manifest line"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    recorded, marked = _recorded(out), _marked(out)
    unrecorded = {r: t for r, t in marked.items() if r not in recorded}
    assert unrecorded, "the kill came after every finished run's line"
    before = finished(out)
    with pytest.warns(RuntimeWarning, match="taking over the lock"):
        assert_recovers(out, before, reference, case="SIGKILL the client mid-burst",
                        notes={"adopted_by_resume": len(unrecorded)})  # fmt: skip
    runs = xs.Sweep(out).manifest.runs
    # Adopted, not rerun: each keeps the outcome its GMAT child wrote before the kill.
    assert {r: runs[r].outcome.started for r in unrecorded} == unrecorded
    assert all(runs[r].status == "ok" for r in unrecorded)


# --- corruption at rest -----------------------------------------------------------------


def _copy(src: Path, tmp_path: Path) -> Path:
    out = tmp_path / "sweep"
    shutil.copytree(src, out)
    return out


def test_torn_final_manifest_line(
    finished_copy: Path, reference: Path, tmp_path: Path, client: Client
) -> None:
    out = _copy(finished_copy, tmp_path)
    manifest = out / "manifest.jsonl"
    data = manifest.read_bytes()
    cut = data.rstrip(b"\n").rfind(b"\n") + 1
    manifest.write_bytes(data[: cut + 40])  # the last record, torn mid-line
    with pytest.warns(RuntimeWarning, match="torn final line"):
        before = finished(out)
    with pytest.warns(RuntimeWarning, match="torn final line"):
        outcome = assert_recovers(
            out, before, reference, case="torn final manifest line", client=client
        )
    assert outcome.rerun_by_resume == 1


def test_corrupt_middle_line_is_refused_and_nothing_changes(
    finished_copy: Path, tmp_path: Path
) -> None:
    out = _copy(finished_copy, tmp_path)
    manifest = out / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    lines[10] = b'{"kind": "run", "run_id": 9, garbage\n'
    manifest.write_bytes(b"".join(lines))
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(xs.ManifestCorruptError, match="line 11"):
        xs.resume(out, progress=False, workers=1)
    with pytest.raises(xs.ManifestCorruptError, match="line 11"):
        xs.Sweep(out).counts  # noqa: B018
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_damaged_parquet_is_rerun(
    finished_copy: Path, reference: Path, tmp_path: Path, damage: str, client: Client
) -> None:
    out = _copy(finished_copy, tmp_path)
    victim = out / "runs" / "run-000017" / "report-RF.parquet"
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:100])
    else:
        victim.unlink()
    before = {p: h for p, h in finished(out).items() if out / p != victim}
    with pytest.warns(UserWarning, match="run-000017"):
        outcome = assert_recovers(
            out, before, reference, case=f"{damage}d per-run Parquet", client=client
        )
    assert outcome.rerun_by_resume == 1


def test_deleted_store_is_rebuilt(finished_copy: Path, reference: Path, tmp_path: Path) -> None:
    out = _copy(finished_copy, tmp_path)
    shutil.rmtree(out / "sweep.zarr")
    with pytest.raises(xs.StoreError, match="consolidate"):
        xs.open_sweep(out)
    xs.consolidate(out)
    mine, theirs = store_data(out), store_data(reference)
    assert mine.keys() == theirs.keys()
    for key in theirs:
        xr.testing.assert_identical(mine[key], theirs[key])
