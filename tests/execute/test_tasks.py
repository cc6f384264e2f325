"""Task bodies (_tasks) on a LocalCluster whose workers own warm GMAT children."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import dask
import pytest
from distributed import Client, LocalCluster

import xsweep as xs
from _helpers import MISSIONS
from xsweep.execute.cluster import QUIET_CLUSTER
from xsweep.execute.worker import GmatChildPlugin, execute_run
from xsweep.gmat.child import RunRequest

pytestmark = [pytest.mark.gmat, pytest.mark.slow]


@pytest.fixture(scope="module")
def client() -> Client:
    with (
        dask.config.set(QUIET_CLUSTER),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as c,
    ):
        c.register_plugin(GmatChildPlugin())
        yield c


def test_tasks_run_on_warm_children(client: Client, tmp_path: Path) -> None:
    requests = [
        RunRequest(
            str(MISSIONS / "leo_report.script"),
            {"Sat.SMA": 7000.0 + 50 * i, "TOF": 60},
            str(tmp_path / f"run-{i:06d}"),
        )
        for i in range(8)
    ]
    futures = [
        client.submit(execute_run, r, key=f"warm-{i}", pure=False) for i, r in enumerate(requests)
    ]
    outcomes = client.gather(futures)
    assert [o.status for o in outcomes] == ["ok"] * 8
    assert all((tmp_path / f"run-{i:06d}" / "report-RF.parquet").is_file() for i in range(8))
    worker_pids = set(client.run(os.getpid).values())
    child_pids = {o.pid for o in outcomes}
    assert not child_pids & worker_pids  # GMAT ran in the children, not the workers
    assert 1 <= len(child_pids) <= 2  # one warm child per worker, reused
    # (The keys a sweep gives its runs are checked on a real sweep in test_sweep.py.)


def test_process_isolation_and_retries(client: Client, tmp_path: Path) -> None:
    request = RunRequest(str(MISSIONS / "leo_report.script"), {"TOF": 60}, str(tmp_path / "p"))
    a = client.submit(execute_run, request, isolation="process", key="gmat-run-a").result()
    b = client.submit(execute_run, request, isolation="process", key="gmat-run-b").result()
    assert (a.status, b.status) == ("ok", "ok")
    assert a.pid != b.pid  # a fresh interpreter per run
    assert a.extra["attempts"] == 1


def test_closing_the_cluster_leaves_no_gmat_children(tmp_path: Path) -> None:
    request = RunRequest(str(MISSIONS / "leo_report.script"), {"TOF": 60}, str(tmp_path / "r"))
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        c.register_plugin(GmatChildPlugin())
        pid = c.submit(execute_run, request, key="warm-0").result().pid
        os.kill(pid, 0)  # alive while the worker is
    assert not _alive_after(pid, seconds=5.0)


def _alive_after(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        time.sleep(0.1)
    return True


def test_a_full_disk_is_returned_not_raised_and_crosses_processes(tmp_path: Path) -> None:
    import errno
    import pickle

    import xsweep as xs
    from _helpers import fill, tmpfs
    from xsweep.execute.worker import MIN_FREE_BYTES, check_space

    with tmpfs(tmp_path / "fs", f"{4 * MIN_FREE_BYTES}") as fs:
        run_dir = fs / "sweep" / "runs" / "run-000003"  # not made yet: its parents are looked at
        assert check_space(str(run_dir)) is None
        fill(fs, leave=MIN_FREE_BYTES // 2)
        full = check_space(str(run_dir))
        assert isinstance(full, xs.DiskFullError)
        assert isinstance(full, OSError)
        assert full.errno == errno.ENOSPC
        assert full.path == fs / "sweep"
        assert "run-000003" in full.reason
        again = pickle.loads(pickle.dumps(full))  # as a Dask task's result travels
        assert (type(again), again.path, again.reason, again.errno, str(again)) == (
            xs.DiskFullError,
            full.path,
            full.reason,
            errno.ENOSPC,
            str(full),
        )


@pytest.mark.gmat
def test_the_planning_child_runs_the_first_workers_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One GMAT child boots for a one-worker sweep on the embedded cluster, not two.

    It stays warm for the next sweep of the process, which boots none; the pool stops it
    once it has been idle for its while.
    """
    from xsweep.gmat import child as child_module, pool

    pool.close_spares()  # from the sweeps this process ran before
    started: list[int] = []
    original = child_module.GmatChild.start

    def counting(self: Any, *, wait: bool = True) -> None:
        original(self, wait=wait)
        started.append(self.pid)

    monkeypatch.setattr(child_module.GmatChild, "start", counting)
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0]})
    sweep = xs.run(MISSIONS / "leo_report.script", space, out=tmp_path / "s", workers=1,
                   progress=False)  # fmt: skip
    assert sweep.counts["ok"] == 2
    assert len(started) == 1
    assert {r.outcome.pid for r in sweep.manifest.runs.values()} == set(started)
    assert [c.pid for spares in pool._SPARES.values() for c in spares] == started
    again = xs.run(MISSIONS / "leo_report.script", space, out=tmp_path / "t", workers=1,
                   progress=False)  # fmt: skip
    assert len(started) == 1  # no child booted: the first sweep's ran it
    assert {r.outcome.pid for r in again.manifest.runs.values()} == set(started)
    (kept,) = [c for spares in pool._SPARES.values() for c in spares]
    pool.offer_child(pool.take_child(kept.engine, kept.gmat_root), idle=0.2)  # type: ignore[arg-type]
    proc = kept.proc
    assert proc is not None
    proc.wait(timeout=30)  # stopped by the pool's expiry, not by this test
    assert pool._SPARES == {} or all(not s for s in pool._SPARES.values())
