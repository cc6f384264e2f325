"""Where a sweep's client CPU goes, thread by thread, and Dask's own floor per task.

Two measurements, each in a fresh interpreter:

- ``sweep``: ``xs.run`` of the benchmark mission on the embedded cluster (its
  defaults: worker threads, one task per run, the live store). A sampler reads
  every thread's CPU time (psutil) and names it (``IO loop`` is the event loop
  of the embedded scheduler and workers, ``MainThread`` the dispatcher); the
  table shows CPU per run from the first ``Dispatcher.run`` on, so the imports
  and the cluster's start are left out. The GMAT children are other processes
  and are not counted.
- ``floor``: the same embedded cluster (2 worker threads, xsweep's Dask settings)
  running ``N`` tasks that do nothing, 4 in flight as the dispatcher keeps
  them: the CPU Dask itself spends per task on this machine.

Usage::

    python benchmarks/client_cpu.py --mission 60s --n 1000
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

_SWEEP = r"""
import collections, json, re, sys, tempfile, threading, time
from pathlib import Path
import psutil
sys.path.insert(0, sys.argv[3])
from benchmarks.compare import run_xsweep
from xsweep.execute import dispatch as _dispatch
n, tof = int(sys.argv[1]), float(sys.argv[2])
me = psutil.Process()
cpu, names, start, stop = {}, {}, {}, threading.Event()
def sample():
    while not stop.wait(0.05):
        for t in threading.enumerate():
            names.setdefault(t.native_id, t.name)
        for th in me.threads():
            cpu[th.id] = th.user_time + th.system_time
sampler = threading.Thread(target=sample, daemon=True, name="sampler")
sampler.start()
dispatch = _dispatch.Dispatcher.run
def run_from(self, *args, **kwargs):
    time.sleep(0.1)  # one more sample: where every thread stood as the runs start
    start.update(cpu)
    return dispatch(self, *args, **kwargs)
_dispatch.Dispatcher.run = run_from
t0 = time.perf_counter()
run_xsweep(n, tof, 2, Path(tempfile.mkdtemp(prefix="xsweep-cpu-")))
wall = time.perf_counter() - t0
stop.set()
sampler.join()
per = collections.Counter()
for tid, total in cpu.items():
    name = re.sub(r"\d+", "#", names.get(tid, "other (native)"))
    per[name] += total - start.get(tid, 0.0)
print(json.dumps({"runs_per_s": n / wall, "ms_per_run": {k: 1000 * v / n for k, v in per.items()}}))
"""

_FLOOR = r"""
import json, sys, time
import dask
from distributed import Client, LocalCluster, as_completed
from xsweep.execute.cluster import QUIET_CLUSTER
n = int(sys.argv[1])
def nothing(i):
    return i
with dask.config.set(QUIET_CLUSTER), LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
) as cluster, Client(cluster) as client:
    done = as_completed()
    submitted = 0
    def submit():
        global submitted
        if submitted < n:
            done.add(client.submit(nothing, submitted, key=f"floor-{submitted}", pure=False))
            submitted += 1
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(4):
        submit()
    for batch in done.batches():
        for future in batch:
            future.release()
            submit()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"tasks_per_s": n / wall, "cpu_ms_per_task": 1000 * cpu / n}))
"""

TOF = {"day": 86400.0, "60s": 60.0}


def _run(code: str, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure the sweep's threads and Dask's floor; print both as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mission", choices=sorted(TOF), default="60s")
    parser.add_argument("--n", type=int, default=1000, help="runs of the sweep, tasks of the floor")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    sweep = _run(_SWEEP, str(args.n), str(TOF[args.mission]), str(HERE.parent))
    floor = _run(_FLOOR, str(args.n))
    rows = sorted(sweep["ms_per_run"].items(), key=lambda kv: -kv[1])
    print(f"\n{args.n} runs of the {args.mission} mission: {sweep['runs_per_s']:.1f} runs/s\n")
    print("| client thread | CPU ms per run |\n| --- | ---: |")
    for name, ms in rows:
        if ms >= 0.005:
            print(f"| {re.sub(r'[|]', '/', name)} | {ms:.2f} |")
    print(f"| **all** | **{sum(sweep['ms_per_run'].values()):.2f}** |")
    print(
        f"\nDask's floor, {args.n} tasks that do nothing: {floor['cpu_ms_per_task']:.2f} ms of "
        f"CPU a task ({floor['tasks_per_s']:.0f} tasks/s)"
    )
    if args.json is not None:
        args.json.write_text(json.dumps({"sweep": sweep, "floor": floor}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
