"""Shared test helpers: paths, and running code in a fresh interpreter."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xsweep as xs

ROOT = Path(__file__).resolve().parents[1]
MISSIONS = ROOT / "examples" / "missions"
DATA = Path(__file__).resolve().parent / "data"


def xsweep_command(*args: str) -> list[str]:
    """The ``xsweep`` command line with ``args``, as this interpreter runs it."""
    return [sys.executable, "-m", "xsweep", *args]


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter (GMAT cannot be re-initialised in one)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def add_contacts(sweep: xs.Sweep, fixtures: dict[int, str]) -> None:
    """Give runs a contact output in gmat-run's parsed form, as desktop GMAT would.

    The embedded engine has no ContactLocator; the fixtures are real GMAT contact
    reports (Legacy and range formats) that gmat-run parses.
    """
    from gmat_run import Results

    from xsweep.gmat.outputs import convert_results

    lines = (sweep.path / "manifest.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for rec in records:
        run_id = rec.get("run_id")
        if rec.get("kind", "run") != "run" or run_id not in fixtures:
            continue
        run_dir = sweep.path / f"runs/run-{run_id:06d}"
        results = Results(output_dir=run_dir, log="", contact_paths={"CL": DATA / fixtures[run_id]})
        (out,) = convert_results(results, run_dir)
        rec["outputs"].append(
            {
                "kind": "contact",
                "name": "CL",
                "path": f"runs/run-{run_id:06d}/{out.path}",
                "rows": out.rows,
            }
        )
    (sweep.path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


@contextlib.contextmanager
def separate_cluster(
    tmp: Path, workers: int = 2, env: dict[str, str] | None = None, own_dirs: bool = False
) -> Iterator[dict[str, Any]]:
    """A scheduler and ``workers`` nanny-managed workers, each its own OS process.

    ``env`` is added to every process's environment (Dask config variables...).
    ``own_dirs``: each process starts in its own working directory under
    ``tmp`` (a worker's Dask local directory too), as on machines sharing no disk.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    sched_file = tmp / "scheduler.json"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": ROOT}

    def where(name: str) -> dict[str, Any]:
        if not own_dirs:
            return quiet
        (tmp / name).mkdir(parents=True, exist_ok=True)
        return {**quiet, "cwd": tmp / name}

    scheduler = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--dashboard-address", ":0", "--scheduler-file", str(sched_file)],
        **where("scheduler"),
    )  # fmt: skip
    procs = [scheduler]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        for i in range(workers):
            local = ["--local-directory", str(tmp / f"worker-{i}")] if own_dirs else []
            cmd = [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                   "1", "--host", "127.0.0.1", "--dashboard-address", ":0", *local]  # fmt: skip
            procs.append(subprocess.Popen(cmd, **where(f"worker-{i}")))
        from distributed import Client

        with Client(address) as c:
            c.wait_for_workers(workers, timeout=60)
        yield {"address": address, "scheduler": scheduler, "procs": procs}
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)


@contextlib.contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted at ``where`` (a real file system that fills up), or a skip.

    Mounting needs root or CAP_SYS_ADMIN; the CI machines run as root.
    """
    import pytest

    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "--lazy", str(where)], check=False, timeout=60)


def fill(where: Path, leave: int) -> Path:
    """Write a ballast file so that about ``leave`` bytes stay free under ``where``."""
    import shutil

    ballast = where / "ballast"
    size = shutil.disk_usage(where).free - leave
    with open(ballast, "wb") as fh:
        for _ in range(size // (1 << 20)):
            fh.write(bytes(1 << 20))
        fh.write(bytes(size % (1 << 20)))
    return ballast


def rewrite_bundle(
    bundle: Path, out: Path, change: dict[str, bytes | None], *, rehash: bool = False
) -> Path:
    """Copy a bundle, replacing (or with None, dropping) members; adding new names too.

    With ``rehash``, ``MANIFEST.hash`` is written anew for the result, as a forger would.
    """
    import hashlib
    import zipfile

    change = dict(change)
    members: dict[str, tuple[Any, bytes]] = {}  # name -> (its ZipInfo, or None if new; bytes)
    with zipfile.ZipFile(bundle) as src:
        for info in src.infolist():
            if info.filename in change:
                data = change.pop(info.filename)
                if data is not None:
                    members[info.filename] = (info, data)
            else:
                members[info.filename] = (info, src.read(info))
    for name, data in change.items():
        assert data is not None
        members[name] = (None, data)
    if rehash:
        listing = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n"
            for name, (_, data) in sorted(members.items())
            if name != "MANIFEST.hash"
        ).encode()
        members["MANIFEST.hash"] = (members.get("MANIFEST.hash", (None, b""))[0], listing)
    with zipfile.ZipFile(out, "w") as dst:
        for name, (info, data) in members.items():
            dst.writestr(info or name, data)
    return out


def cut_off(sweep: Path, recorded_below: int, planned_up_to: int) -> None:
    """Leave a sweep's manifest as a kill mid-batch would: the runs below ``recorded_below``
    recorded, and the growth steps planned up to ``planned_up_to`` runs (later ones unwritten)."""
    lines = (sweep / "manifest.jsonl").read_text().splitlines(keepends=True)
    kept = [x for x in lines if json.loads(x).get("run_id", -1) < recorded_below
            and json.loads(x).get("n_runs", 0) <= planned_up_to]  # fmt: skip
    (sweep / "manifest.jsonl").write_text("".join(kept))
