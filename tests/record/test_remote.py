"""Sweeps on a real S3 server (SeaweedFS, tests/objstore.py) run by a shared-nothing cluster.

The scheduler and each worker are their own processes, each started in its own
working directory; the sweep's only common place is the bucket. The client runs
in a subprocess where it is killed, and resumes from yet another directory with
the URL alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import xarray as xr
from distributed import Client

import xsweep as xs
from _helpers import MISSIONS, ROOT, separate_cluster
from xsweep.record.bucket import Remote
from xsweep.testing.seaweed import S3Server

REPORT = MISSIONS / "leo_report.script"
MC = ["monte-carlo", str(REPORT), "--n", "120", "--perturb", "Sat.SMA=normal:7000:5",
      "--seed", "7", "--grid", "TOF=3000", "--no-progress"]  # fmt: skip

pytestmark = [pytest.mark.gmat, pytest.mark.slow]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with separate_cluster(tmp_path_factory.mktemp("cluster"), own_dirs=True) as running:
        yield running


def _options(s3: S3Server) -> list[str]:
    return [f"--storage-option={k}={v}" for k, v in s3.storage_options.items()]


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``xsweep ARGS`` as a client on its own machine would run it: its own cwd and TMPDIR."""
    tmp = cwd / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "xsweep", *args], cwd=cwd, text=True, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "TMPDIR": str(tmp), **(env or {})},
    )  # fmt: skip


def _lines(url: str, s3: S3Server) -> dict[int, str]:
    """The last manifest line of every recorded run, as the bucket holds it."""
    out = {}
    for line in Remote(url, s3.storage_options).manifest_bytes().decode().splitlines():
        record = json.loads(line)
        if record.get("kind") == "run":
            out[int(record["run_id"])] = line
    return out


def _wait_for_parts(
    url: str, s3: S3Server, n: int, proc: subprocess.Popen[str], timeout: float = 120
) -> None:
    """Wait until the bucket holds ``n`` group commits of the session ``proc`` runs."""
    remote = Remote(url, s3.storage_options)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if remote.has_manifest() and len(remote.parts()[1]) >= n:
            return
        if proc.poll() is not None:
            _, err = proc.communicate(timeout=60)
            raise AssertionError(f"the sweep ended ({proc.returncode}): {err}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    raise AssertionError(f"{url} never got {n} manifest parts; the sweep said: {err}")


def _start_mc(
    s3: S3Server, cluster: dict[str, Any], cwd: Path, name: str, *, parts: int
) -> tuple[str, subprocess.Popen[str]]:
    """Start the Monte Carlo sweep on the bucket by the CLI; return once ``parts`` are in."""
    url = f"s3://{s3.bucket()}/sweeps/{name}"
    run = _cli(*MC, "--out", url, "--scheduler", cluster["address"], *_options(s3), cwd=cwd)
    _wait_for_parts(url, s3, parts, run)
    return url, run


def _data(opened: xr.Dataset) -> xr.Dataset:
    return opened.drop_vars(["duration_s"]).load().drop_attrs()


@pytest.fixture(scope="module")
def swept(
    s3: S3Server, cluster: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path]:
    """One sweep on the bucket and the same sweep on local disk, both by the cluster."""
    space = xs.grid({"Sat.SMA": [7000.0 + 50 * i for i in range(8)], "TOF": [86400.0]})
    url = f"s3://{s3.bucket()}/sweeps/day"
    kw: dict[str, Any] = {"client": cluster["address"], "progress": False}
    xs.run(REPORT, space, out=url, storage_options=s3.storage_options, **kw)
    local = tmp_path_factory.mktemp("local") / "day"
    xs.run(REPORT, space, out=local, **kw)
    return url, local


def test_a_sweep_on_s3_by_shared_nothing_workers_equals_the_same_sweep_on_disk(
    swept: tuple[str, Path], s3: S3Server, cluster: dict[str, Any]
) -> None:
    url, local = swept
    sweep = xs.Sweep(url, storage_options=s3.storage_options)
    assert sweep.counts == {"ok": 8, "failed": 0, "pending": 0}
    with Client(cluster["address"]) as c:
        cwds = c.run(os.getcwd)
    assert len(set(cwds.values())) == 2
    assert str(ROOT) not in cwds.values()
    records = sweep.manifest.runs.values()
    assert len({r.outcome.pid for r in records}) == 2  # both workers ran some
    opened = xs.open_sweep(url, storage_options=s3.storage_options)
    xr.testing.assert_equal(_data(opened), _data(xs.open_sweep(local)))
    keys = s3.fs().find(url)
    assert sum(k.endswith("report-RF.parquet") for k in keys) == 8
    assert not [k for k in keys if "/manifest.d/0" in k]  # compacted at the end


def test_a_label_selection_reads_one_chunk_of_the_bucket(
    swept: tuple[str, Path], s3: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zarr.storage import FsspecStore

    reads: list[tuple[str, Any, int]] = []
    get = FsspecStore.get

    async def logged(self: Any, key: str, prototype: Any, byte_range: Any = None) -> Any:
        buf = await get(self, key, prototype, byte_range)
        reads.append((key, byte_range, 0 if buf is None else len(buf)))
        return buf

    monkeypatch.setattr(FsspecStore, "get", logged)
    url, _ = swept
    var = opened = xs.open_sweep(url, storage_options=s3.storage_options)["Sat.Earth.Altitude"]

    def data_bytes(select: Any) -> tuple[int, int]:
        import dask

        reads.clear()
        # Here, in this process: a suite's distributed Client (another test's) would be the
        # default scheduler, and its workers' reads would not pass through this patch.
        with dask.config.set(scheduler="synchronous"):
            select()
        chunks = [r for r in reads if "Sat.Earth.Altitude/c" in r[0]]
        return sum(r[2] for r in chunks), len(chunks)

    one, n_one = data_bytes(lambda: var.sel({"Sat.SMA": 7150.0, "TOF": 86400.0}).values)
    index = [r for r in reads if type(r[1]).__name__ == "SuffixByteRequest"]
    assert len(index) == 1, reads  # the shard's index, then one chunk's range
    assert n_one == 2, reads
    every, _ = data_bytes(lambda: opened.values)
    n_chunks = -(-var.sizes["Sat.SMA"] // var.encoding["chunks"][0])
    assert n_chunks >= 2  # else one chunk is the whole variable
    assert one - index[0][2] <= 1.5 * every / n_chunks, (one, every, reads)


def test_show_and_archive_from_the_bucket_by_the_cli(
    swept: tuple[str, Path], s3: S3Server, tmp_path: Path
) -> None:
    url, local = swept
    show = _cli("show", url, "--json", *_options(s3), cwd=tmp_path)
    out, err = show.communicate(timeout=120)
    assert show.returncode == 0, err
    assert json.loads(out)["counts"] == {"ok": 8, "failed": 0, "pending": 0}
    zipped = tmp_path / "day.zip"
    packed = _cli("archive", url, "--out", str(zipped), *_options(s3), cwd=tmp_path)
    _, err = packed.communicate(timeout=120)
    assert packed.returncode == 0, err
    assert xs.verify(zipped).ok
    xr.testing.assert_equal(_data(xs.open_sweep(zipped)), _data(xs.open_sweep(local)))
    assert not list((tmp_path / "tmp").iterdir())  # the staging copy went with the session


def test_a_killed_client_resumes_from_another_directory_with_the_url_alone(
    s3: S3Server, cluster: dict[str, Any], tmp_path: Path
) -> None:
    url = f"s3://{s3.bucket()}/sweeps/mc"
    run = _cli(*MC, "--out", url, "--scheduler", cluster["address"], *_options(s3),
               cwd=tmp_path / "first")  # fmt: skip
    _wait_for_parts(url, s3, 6, run)
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)
    before = _lines(url, s3)
    ok_before = {rid: line for rid, line in before.items() if json.loads(line)["status"] == "ok"}
    assert 0 < len(ok_before) < 120
    resume = _cli("resume", url, "--scheduler", cluster["address"], "--no-progress",
                  *_options(s3), cwd=tmp_path / "second")  # fmt: skip
    _, err = resume.communicate(timeout=300)
    assert resume.returncode == 0, err
    assert xs.Sweep(url, storage_options=s3.storage_options).counts["ok"] == 120
    after = _lines(url, s3)
    rerun = [rid for rid, line in ok_before.items() if after[rid] != line]
    assert not rerun, f"resume reran ok runs {rerun}"
    ds = xs.open_sweep(url, storage_options=s3.storage_options)
    assert int((ds["status"] == 1).sum()) == 120  # flag 1: ok, in the store too


def test_a_killed_worker_loses_no_run(
    s3: S3Server, cluster: dict[str, Any], tmp_path: Path
) -> None:
    url, run = _start_mc(s3, cluster, tmp_path, "worker", parts=4)
    with Client(cluster["address"]) as c:
        victim = next(iter(c.run(os.getpid).values()))
        os.kill(victim, signal.SIGKILL)  # its nanny starts another
        _, err = run.communicate(timeout=300)
        c.wait_for_workers(2, timeout=60)
    assert run.returncode == 0, err
    assert xs.Sweep(url, storage_options=s3.storage_options).counts["ok"] == 120


def test_the_object_store_restarted_mid_sweep_loses_no_ok_run(
    s3: S3Server, cluster: dict[str, Any], tmp_path: Path
) -> None:
    url, run = _start_mc(s3, cluster, tmp_path, "restart", parts=3)
    s3.stop()
    seen = time.monotonic()
    time.sleep(2.0)
    s3.start()
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    assert time.monotonic() - seen > 2.0
    sweep = xs.Sweep(url, storage_options=s3.storage_options)
    assert sweep.counts == {"ok": 120, "failed": 0, "pending": 0}
    keys = set(s3.fs().find(url))
    missing = [
        o.path
        for rec in sweep.manifest.runs.values()
        for o in rec.outcome.outputs
        if f"{url[5:]}/{o.path}" not in keys
    ]
    assert not missing


def test_the_example_runs_on_s3_with_credentials_from_the_environment(
    s3: S3Server, tmp_path: Path
) -> None:
    url = f"s3://{s3.bucket()}/sweeps/orbit"
    opts = s3.storage_options
    env = {
        "XSWEEP_EXAMPLE_URL": url,
        "AWS_ACCESS_KEY_ID": opts["key"],
        "AWS_SECRET_ACCESS_KEY": opts["secret"],
        "AWS_ENDPOINT_URL": opts["endpoint_url"],
    }
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "object_store.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, **env},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert xs.Sweep(url, storage_options=opts).counts == {"ok": 6, "failed": 0, "pending": 0}
    assert xs.verify(tmp_path / "orbit.zip").ok
