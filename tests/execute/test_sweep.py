"""Sweeps end to end on real GMAT: plan, Dask execution, manifest, failures, resume, extend."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from distributed import Client, LocalCluster, get_task_stream
from distributed.utils import key_split

import xsweep as xs
from _helpers import DATA, MISSIONS, ROOT, separate_cluster
from xsweep.core.paths import MANIFEST_NAME
from xsweep.execute.worker import GmatChildPlugin, check_plan
from xsweep.gmat.closure import script_sha256
from xsweep.gmat.engine import EngineInfo
from xsweep.record.manifest import Manifest, ManifestWriter

pytestmark = [pytest.mark.gmat, pytest.mark.slow]

REPORT = MISSIONS / "leo_report.script"
DRAG = MISSIONS / "leo_drag.script"
LONG_TOF = 86400 * 100  # ~4 s of GMAT: long enough to kill or time out


def _records(path: Path) -> list[dict]:
    lines = (path / MANIFEST_NAME).read_text().splitlines()
    return [json.loads(line) for line in lines[1:]]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _report(sweep: Path, run_id: int) -> pd.DataFrame:
    return xs.read_output(sweep / f"runs/run-{run_id:06d}/report-RF.parquet")


# --- a sweep and what it records ---------------------------------------------------


def test_grid_sweep_records_every_run(client: Client, tmp_path: Path) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0], "TOF": [60, 600]})
    out = tmp_path / "sweep"
    with get_task_stream(client) as stream:
        sweep = xs.run(REPORT, space, out=out, client=client, progress=False)
    assert sweep.counts == {"ok": 6, "failed": 0, "pending": 0}

    header = Manifest.load(out / MANIFEST_NAME).header
    assert header["schema_version"] == 1
    assert header["n_runs"] == 6
    assert header["script_sha256"] == script_sha256(REPORT)
    assert (out / "mission.script").read_bytes() == REPORT.read_bytes()
    assert header["engine"]["kind"] == "embedded"
    assert header["engine"]["gmat_version"] == "R2026a"
    for package in ("gmat-xsweep", "gmat-run", "gmatpy", "python", "platform"):
        assert header["versions"][package], package
    assert xs.Space.from_dict(header["space"]).runs().equals(xs.Space(space).runs())

    records = sorted(_records(out), key=lambda r: r["run_id"])
    assert [r["run_id"] for r in records] == list(range(6))
    assert records[3]["index"] == [1, 1]
    assert records[3]["overrides"] == {"Sat.SMA": 7100.0, "TOF": 600}
    for rec in records:
        assert rec["status"] == "ok"
        (output,) = rec["outputs"]
        assert output["path"] == f"runs/run-{rec['run_id']:06d}/report-RF.parquet"
        assert (out / output["path"]).is_file()
        assert (out / rec["log"]).is_file()
        assert rec["script_sha256"] == header["script_sha256"]
        assert rec["extra"]["attempts"] == 1
        assert rec["pid"] > 0
        assert rec["host"]

    # The data is what a single run_mission of the same point gives.
    direct = xs.run_mission(REPORT, {"Sat.SMA": 7100.0, "TOF": 600}, out_dir=tmp_path / "direct")
    assert direct.ok
    expected = xs.read_output(tmp_path / "direct" / "report-RF.parquet")
    pd.testing.assert_frame_equal(_report(out, 3), expected)

    keys = {t["key"] for t in stream.data}
    runs = {k for k in keys if key_split(k) == "gmat-run"}
    # gmat-run-<token>-<first run>-<runs>: short runs are fused into tasks by default,
    # and the tasks cover every run once.
    covered = []
    for key in runs:
        first, count = map(int, key.rsplit("-", 2)[1:])
        covered.extend(range(first, first + count))
    assert sorted(covered) == list(range(6))
    # One task checked the plan on a worker's warm GMAT child (no planning child here).
    plans = {k for k in keys if key_split(k) == "xsweep-plan"}
    assert len(plans) == 1
    # The rest wrote the store: one block per leading grid index.
    assert {key_split(k) for k in keys - runs - plans} == {"xsweep-store"}


def test_embedded_cluster_prints_dashboard(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7050.0, 7100.0]})
    sweep = xs.run(
        REPORT,
        space,
        out=tmp_path / "s",
        workers=2,
        cluster_kwargs={"dashboard_address": ":0"},
    )
    assert sweep.counts["ok"] == 3
    err = capsys.readouterr().err
    assert "Dask dashboard at http" in err
    assert "ok=3" in err  # the progress bar counts by status


def test_the_embedded_cluster_starts_no_more_workers_than_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xsweep.execute.cluster import Cluster

    started: list[int] = []
    original = Cluster.start_workers

    def counting(self: Cluster, runs: int | None = None) -> Client:
        dask_client = original(self, runs)
        started.append(len(dask_client.nthreads()))
        return dask_client

    monkeypatch.setattr(Cluster, "start_workers", counting)
    sweep = xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=tmp_path / "s", progress=False)
    assert sweep.counts["ok"] == 1
    assert set(started) == {1}  # not one per core: a second worker would have nothing to run


def test_runs_per_task_batches_runs_but_records_each(client: Client, tmp_path: Path) -> None:
    space = xs.samples({"Sat.SMA": [7000.0, 6200.0, 7100.0, 7200.0, 7300.0], "TOF": [600] * 5})
    with get_task_stream(client) as stream:
        sweep = xs.run(
            DRAG, space, out=tmp_path / "s", client=client, runs_per_task=2, progress=False
        )
    runs = sweep.runs()
    assert runs["status"].tolist() == ["ok", "failed", "ok", "ok", "ok"]
    assert runs.loc[1, "reason"] == "gmat-error"
    keys = sorted(t["key"] for t in stream.data if key_split(t["key"]) == "gmat-run")
    assert [k.rsplit("-", 2)[1:] for k in keys] == [
        ["000000", "2"],
        ["000002", "2"],
        ["000004", "1"],
    ]
    pd.testing.assert_frame_equal(
        _report(tmp_path / "s", 3),
        _report_of_direct_run(tmp_path, DRAG, {"Sat.SMA": 7200.0, "TOF": 600}),
    )
    assert Manifest.load(tmp_path / "s" / MANIFEST_NAME).header["options"]["runs_per_task"] == 2


def _report_of_direct_run(tmp_path: Path, script: Path, overrides: dict) -> pd.DataFrame:
    out = tmp_path / f"direct-{uuid.uuid4().hex[:6]}"
    assert xs.run_mission(script, overrides, out_dir=out).ok
    return xs.read_output(out / "report-RF.parquet")


def test_process_isolation_gives_each_run_a_fresh_interpreter(
    client: Client, tmp_path: Path
) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0]})
    xs.run(REPORT, space, out=tmp_path / "s", client=client, isolation="process", progress=False)
    pids = [r["pid"] for r in _records(tmp_path / "s")]
    assert len(set(pids)) == 3


# --- planning -----------------------------------------------------------------------


@pytest.fixture
def no_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a bad plan must not reach execution")

    monkeypatch.setattr("xsweep.execute.dispatch.Dispatcher.run", fail)


@pytest.mark.usefixtures("no_execution")
def test_bad_plans_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    with pytest.raises(xs.FieldError, match="did you mean 'SMA'"):
        xs.run(REPORT, xs.grid({"Sat.SMAA": [7000.0]}), out=out)
    with pytest.raises(xs.FieldError, match=r"unknown object 'Sta'.*'Sat'"):
        xs.run(REPORT, xs.grid({"Sta.SMA": [7000.0]}), out=out)
    with pytest.raises(xs.FieldTypeError):
        xs.run(REPORT, xs.grid({"Sat.SMA": ["far", "near"]}), out=out)
    with pytest.raises(xs.ScriptNotFoundError):
        xs.run(tmp_path / "nope.script", xs.grid({"Sat.SMA": [7000.0]}), out=out)
    with pytest.raises(xs.ConfigError, match="timeout"):
        xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=out, timeout=-1)
    with pytest.raises(xs.ConfigError, match="isolation"):
        xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=out, isolation="thread")  # type: ignore[arg-type]
    with pytest.raises(xs.ConfigError, match="workers"):
        xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=out, workers=0)
    assert not out.exists()


@pytest.mark.usefixtures("no_execution")
def test_on_a_given_cluster_a_worker_refuses_bad_plans(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("the workers' warm children check the plan, not one started here")

    monkeypatch.setattr("xsweep.execute.api.GmatChild", no_child)
    monkeypatch.setattr("xsweep.plan.checks.GmatChild", no_child)
    out = tmp_path / "sweep"
    with pytest.raises(xs.FieldError, match="did you mean 'SMA'"):
        xs.run(REPORT, xs.grid({"Sat.SMAA": [7000.0]}), out=out, client=client)
    with pytest.raises(xs.FieldTypeError):
        xs.run(REPORT, xs.grid({"Sat.SMA": ["far", "near"]}), out=out, client=client)
    broken = tmp_path / "broken.script"
    shutil.copy(DATA / "unparseable.script", broken)
    with pytest.raises(xs.ScriptLoadError, match=r"could not parse broken\.script") as refused:
        xs.run(broken, xs.grid({"Sat.SMA": [7000.0]}), out=out, client=client)
    assert refused.value.script == broken
    assert not out.exists()


def test_a_worker_that_cannot_see_the_script_checks_a_copy(client: Client, tmp_path: Path) -> None:
    client.register_plugin(GmatChildPlugin())
    elsewhere = str(tmp_path / "not-on-this-disk" / "leo_report.script")
    text = REPORT.read_bytes()

    def check(overrides: dict, script: bytes = text) -> object:
        return client.submit(check_plan, elsewhere, script, overrides, pure=False).result()

    assert isinstance(check({"Sat.SMA": 7100.0, "TOF": 60}), EngineInfo)
    assert isinstance(check({"Sat.SMAA": 7100.0}), xs.FieldError)
    refused = check({}, (DATA / "unparseable.script").read_bytes())
    assert isinstance(refused, xs.ScriptLoadError)
    assert "could not parse leo_report.script" in str(refused)


@pytest.mark.usefixtures("no_execution")
def test_out_must_be_new_or_empty(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(xs.ConfigError, match="not an empty directory"):
        xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=tmp_path / "full")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / MANIFEST_NAME).write_text("{}\n")
    with pytest.raises(xs.ConfigError, match=r"give another output directory"):
        xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=tmp_path / "old")
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


# --- failures are data --------------------------------------------------------------


def test_gmat_errors_and_timeouts_are_recorded_and_the_sweep_goes_on(
    client: Client, tmp_path: Path
) -> None:
    space = xs.samples(
        {
            "Sat.SMA": [7000.0, 6200.0, 7000.0, 7100.0],
            "TOF": [600, 600, LONG_TOF, 600],
        }
    )
    sweep = xs.run(DRAG, space, out=tmp_path / "s", client=client, timeout=1.0, progress=False)
    runs = sweep.runs()
    assert runs["status"].tolist() == ["ok", "failed", "failed", "ok"]
    assert runs.loc[1, "reason"] == "gmat-error"
    assert "inside central body" in runs.loc[1, "error"]
    assert runs.loc[2, "reason"] == "timeout"
    assert "timeout=1.0" in runs.loc[2, "error"]
    assert runs.loc[2, "duration_s"] < 3.0
    failed = sweep.failed()
    assert failed.index.tolist() == [1, 2]
    with pytest.raises(xs.RunFailedError, match="run 1 failed \\(gmat-error\\)"):
        sweep.raise_for_failed()


def _gmat_children() -> list[psutil.Process]:
    """This test process's GMAT children (not another pytest-xdist worker's)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "xsweep.gmat.child" in proc.cmdline():
                found.append(proc)
    return found


@pytest.mark.parametrize("retries", [0, 1])
def test_a_killed_gmat_child_is_a_crashed_run(client: Client, tmp_path: Path, retries: int) -> None:
    # Runs 0-1 are long (~2 s each): one of their GMAT children is killed mid-run.
    space = xs.samples({"Sat.SMA": [7000.0] * 4, "TOF": [LONG_TOF // 2, LONG_TOF // 2, 60, 60]})
    out = tmp_path / "s"
    result: dict[str, xs.Sweep] = {}

    def sweep() -> None:
        result["sweep"] = xs.run(
            REPORT, space, out=out, client=client, retries=retries, progress=False
        )

    thread = threading.Thread(target=sweep)
    thread.start()
    victim = None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline:
        time.sleep(0.1)
        if not (out / MANIFEST_NAME).exists():
            continue  # still planning: leave the planning child alone
        # Busy: mid-run. Idle children take ~0 %; a running one far more, even when the
        # machine's cores are shared with other tests' processes.
        load = {proc: proc.cpu_percent(interval=0.1) for proc in _gmat_children()}
        busiest = max(load, key=lambda proc: load[proc], default=None)
        if busiest is not None and load[busiest] > 20:
            victim = busiest
    assert victim is not None, "no busy GMAT child found"
    victim.kill()
    thread.join(timeout=60)
    runs = result["sweep"].runs()
    if retries == 0:
        assert runs["status"].tolist().count("failed") == 1
        crashed = runs[runs["status"] == "failed"]
        assert crashed["reason"].tolist() == ["crashed"]
        assert "SIGKILL" in crashed["error"].iloc[0]
    else:
        assert runs["status"].tolist() == ["ok"] * 4, runs[["reason", "error", "attempts"]].to_dict(
            "records"
        )
        assert sorted(runs["attempts"].tolist()) == [1, 1, 1, 2]


# --- resume -------------------------------------------------------------------------


def _drop_records(out: Path, keep: set[int]) -> None:
    """Rewrite the manifest as if only ``keep`` had been recorded before a crash."""
    lines = (out / MANIFEST_NAME).read_text().splitlines(keepends=True)
    kept = [lines[0]] + [ln for ln in lines[1:] if json.loads(ln)["run_id"] in keep]
    (out / MANIFEST_NAME).write_text("".join(kept))


def test_resume_runs_only_failed_and_unrecorded_runs(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "s"
    space = xs.grid({"Sat.SMA": [6200.0, 7000.0, 7100.0, 7200.0]})
    xs.run(DRAG, space, out=out, client=client, progress=False)
    _drop_records(out, keep={0, 1, 2})  # run 3 never recorded; run 0 failed
    finished = {i: _digest(out / f"runs/run-{i:06d}/report-RF.parquet") for i in (1, 2)}
    mtimes = {i: (out / f"runs/run-{i:06d}/report-RF.parquet").stat().st_mtime_ns for i in (1, 2)}

    sweep = xs.resume(out, client=client, progress=False)
    reran = [r["run_id"] for r in _records(out)[3:]]
    assert sorted(reran) == [0, 3]
    assert sweep.counts == {"ok": 3, "failed": 1, "pending": 0}
    for i in (1, 2):
        path = out / f"runs/run-{i:06d}/report-RF.parquet"
        assert _digest(path) == finished[i]
        assert path.stat().st_mtime_ns == mtimes[i]

    # A finished sweep has nothing to resume but its failure.
    xs.resume(out, client=client, progress=False)
    assert [r["run_id"] for r in _records(out)[5:]] == [0]


def test_resume_reruns_an_ok_run_whose_parquet_was_damaged(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "s"
    xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0, 7100.0]}), out=out, client=client, progress=False)
    good = _report(out, 1)
    path = out / "runs/run-000001/report-RF.parquet"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="run 1: .*unreadable"):
        xs.resume(out, client=client, progress=False)
    pd.testing.assert_frame_equal(_report(out, 1), good)


def test_script_drift_is_refused_unless_allowed(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "s"
    xs.run(DRAG, xs.grid({"Sat.SMA": [6200.0, 7000.0]}), out=out, client=client, progress=False)
    recorded = script_sha256(out / "mission.script")
    edited = tmp_path / "edited.script"
    edited.write_text(DRAG.read_text().replace("Sat.DryMass = 850", "Sat.DryMass = 851"))
    assert script_sha256(edited) != recorded

    with pytest.raises(xs.ScriptDriftError, match=recorded):
        xs.resume(out, client=client, script=edited, progress=False)
    # Line endings and a BOM are not drift.
    crlf = tmp_path / "crlf.script"
    crlf.write_bytes(b"\xef\xbb\xbf" + DRAG.read_bytes().replace(b"\n", b"\r\n"))
    xs.resume(out, client=client, script=crlf, progress=False)

    with pytest.warns(UserWarning, match="script drift"):
        xs.resume(out, client=client, script=edited, allow_script_drift=True, progress=False)
    last = _records(out)[-1]
    assert last["run_id"] == 0
    assert last["script_sha256"] == script_sha256(edited)
    assert (out / f"mission-{script_sha256(edited)[:12]}.script").is_file()
    assert script_sha256(out / "mission.script") == recorded  # the original stays


def test_a_copied_sweep_resumes_where_it_lands(client: Client, tmp_path: Path) -> None:
    first = tmp_path / "here"
    xs.run(
        REPORT,
        xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0]}),
        out=first,
        client=client,
        progress=False,
    )
    _drop_records(first, keep={0})
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(first, moved)
    shutil.rmtree(first)
    sweep = xs.resume(moved, client=client, progress=False)
    assert sweep.counts == {"ok": 3, "failed": 0, "pending": 0}
    for rec in _records(moved):
        assert (moved / rec["outputs"][0]["path"]).is_file()


def test_a_locked_sweep_is_refused(client: Client, tmp_path: Path) -> None:
    out = tmp_path / "s"
    xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=out, client=client, progress=False)
    with ManifestWriter(out), pytest.raises(xs.SweepLockedError, match=str(os.getpid())):
        xs.resume(out, client=client, progress=False)


# --- extend -------------------------------------------------------------------------


def test_extend_keeps_existing_samples_and_runs_only_new_ones(
    client: Client, tmp_path: Path
) -> None:
    out = tmp_path / "mc"
    space = xs.monte_carlo(3, {"Sat.SMA": ("normal", 7000.0, 20.0)}, seed=11)
    xs.run(REPORT, space, out=out, client=client, progress=False)
    before = {r["run_id"]: r["overrides"]["Sat.SMA"] for r in _records(out)}
    sweep = xs.extend(out, 2, client=client, progress=False)
    assert sweep.counts == {"ok": 5, "failed": 0, "pending": 0}
    records = _records(out)
    assert [r["kind"] for r in records[:3]] == ["run"] * 3
    assert records[3]["kind"] == "extend"
    assert sorted(r["run_id"] for r in records[4:]) == [3, 4]
    after = sweep.space.dataset["Sat.SMA"].values
    assert [after[i] for i in range(3)] == [before[i] for i in range(3)]
    # Monte Carlo draws are prefix-stable: the extended sweep is a 5-sample draw.
    fresh = xs.monte_carlo(5, {"Sat.SMA": ("normal", 7000.0, 20.0)}, seed=11)
    np.testing.assert_array_equal(after, fresh["Sat.SMA"].values)
    # Rebuilding the extended space from the manifest is bit-equal.
    xs.resume(out, client=client, progress=False)
    assert len(_records(out)) == 6

    grid_out = tmp_path / "grid"
    xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=grid_out, client=client, progress=False)
    with pytest.raises(xs.SpaceError, match="Monte Carlo, Latin hypercube or QMC"):
        xs.extend(grid_out, 2, client=client, progress=False)


# --- an existing scheduler and workers started by hand ------------------------------


def test_a_separately_started_scheduler_and_two_workers(tmp_path: Path) -> None:
    with separate_cluster(tmp_path, workers=2) as cluster:
        address = cluster["address"]
        space = xs.grid({"Sat.SMA": [7000.0 + 25 * i for i in range(8)]})
        sweep = xs.run(REPORT, space, out=tmp_path / "s", client=address, progress=False)
        assert sweep.counts == {"ok": 8, "failed": 0, "pending": 0}
        assert len({r["pid"] for r in _records(tmp_path / "s")}) == 2  # one child per worker
        with Client(address) as c:
            assert len(c.scheduler_info()["workers"]) == 2  # nothing of ours was shut down


# --- Ctrl-C -------------------------------------------------------------------------

_SWEEP_SCRIPT = """
import sys
import xsweep as xs

if __name__ == "__main__":  # Dask's spawned workers re-import the main module
    space = xs.grid({"Sat.SMA": [7000.0 + 5 * i for i in range(60)], "TOF": [86400]})
    xs.run(sys.argv[1], space, out=sys.argv[2], workers=2, progress=False,
           cluster_kwargs={"dashboard_address": ":0"})
"""


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("XSWEEP_TEST_MARK") == marker:
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_ctrl_c_keeps_finished_runs_and_resume_completes_bit_equal(tmp_path: Path) -> None:
    script = tmp_path / "sweep.py"
    script.write_text(_SWEEP_SCRIPT)
    out = tmp_path / "interrupted"
    marker = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, str(script), str(REPORT), str(out)],
        env={**os.environ, "XSWEEP_TEST_MARK": marker},
        cwd=ROOT,
        start_new_session=True,  # its own process group, as a terminal job would be
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        manifest = out / MANIFEST_NAME
        if manifest.exists() and len(manifest.read_text().splitlines()) > 8:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert b"KeyboardInterrupt" in err

    # No orphans: every process the sweep started is gone.
    deadline = time.monotonic() + 20
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _marked(marker) == []

    recorded = Manifest.load(out / MANIFEST_NAME)
    assert 0 < len(recorded.runs) < 60
    for rec in recorded.runs.values():
        assert rec.status == "ok"
        assert (out / rec.outcome.outputs[0].path).is_file()
    kept = {i: _digest(out / f"runs/run-{i:06d}/report-RF.parquet") for i in recorded.runs}
    # The store shows what the manifest holds, as `xsweep show` does: the recorded runs
    # ok (the interrupted session wrote the block they only partly filled), the rest pending.
    stored = xs.open_sweep(out)["status"].values.ravel()
    assert (stored == 1).sum() == len(recorded.runs)
    assert (stored == 0).sum() == 60 - len(recorded.runs)

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        resumed = xs.resume(out, client=c, progress=False)
        space = xs.grid({"Sat.SMA": [7000.0 + 5 * i for i in range(60)], "TOF": [86400]})
        whole = xs.run(REPORT, space, out=tmp_path / "whole", client=c, progress=False)
    assert resumed.counts == whole.counts == {"ok": 60, "failed": 0, "pending": 0}
    for i, digest in kept.items():
        assert _digest(out / f"runs/run-{i:06d}/report-RF.parquet") == digest
    for i in range(60):
        pd.testing.assert_frame_equal(_report(out, i), _report(tmp_path / "whole", i))
