"""The big-node model: achieved runs/s against the ideal at 16..128 workers, on 2 cores.

Every worker's child is a real process that sleeps for the run's duration and
then links one real run's files into place (``xsweep.testing.node.SleepingRuns``):
the children cost almost no CPU, so the ceiling is xsweep's and Dask's
orchestration, as on a node where GMAT has cores of its own. Each case runs in
a fresh interpreter with the defaults (``runs_per_task="auto"``); process workers are
up to 8 processes, each relaying to its share of the children (threads)::

    python benchmarks/node.py [--workers 16 64 128] [--durations 0.02 0.05 0.2]
                              [--modes threads processes] [--json out.json] [--plot node.png]
    python benchmarks/node.py --from out.json --plot node.png

``--modes bare`` measures the model's floor on this machine: each worker is a bare
thread driving its own sleeping child, with no Dask, no manifest and no store (what no
orchestrator can beat). The cases print the ideal rate (workers / mean sleep, from the
sweep's own sleeps), the achieved steady rate (between 10 % and 90 % of the runs' ends) and
their ratio, the whole call's rate (start-up included), CPU per run at steady
state (between 20 % and 80 % of the runs recorded) of the client process (with
thread workers: the scheduler, the workers and the client loop; with process
workers: the client and the scheduler), of the other processes (the store's
writer, worker processes) and of the sleeping children, and the client's peak
RSS. On 2 cores all of them share the machine, so the ratio falls once their
CPU per run times the ideal rate nears 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MISSION = HERE / "missions" / "leo_day.script"
SECONDS_OF_RUNS = 5.0  # each case's length at the ideal rate: a steady state, then the tail
# The sweeps live on tmpfs where there is one: the model measures orchestration, not the
# disk's cost of creating a file (~0.85 ms of CPU each on these VMs' disks, 0.03 on tmpfs).
SHM = Path("/dev/shm")

# One case, in a fresh interpreter: argv = [workers, duration, sigma, n, mode, workdir, mission].
_CASE = r"""
import json, os, sys, threading, time
import psutil
w, d, sigma, n, mode, work, mission, rpt = sys.argv[1:9]
w, d, sigma, n = int(w), float(d), float(sigma), int(n)
rpt = rpt if rpt == "auto" else int(rpt)
import xsweep as xs
from xsweep.testing.node import Durations, SleepingRuns, ideal_rate, steady_rate

stand = SleepingRuns.record(mission, {"TOF": 60.0}, work, durations=Durations(d, sigma, seed=1))
space = xs.monte_carlo(n, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1).merge(
    xs.fixed({"TOF": 60.0}))
me = psutil.Process()
samples, peak, stop = [], [0], threading.Event()
manifest = os.path.join(work, "sweep", "manifest.jsonl")
def sample():  # (time, runs recorded, CPU of: this process, sleepers, other descendants)
    fh, lines, kids = None, 0, {}
    while not stop.wait(0.2):
        peak[0] = max(peak[0], me.memory_info().rss)
        if fh is None and os.path.exists(manifest):
            fh = open(manifest, "rb")
        if fh is not None:
            lines += fh.read().count(b"\n")
        for p in me.children(recursive=True):
            try:
                kind = "sleepers" if "xsweep.testing.sleeper" in " ".join(p.cmdline()) else "other"
                kids[p.pid] = (kind, sum(p.cpu_times()[:2]))
            except psutil.Error:
                pass
        cpu = {"client": sum(me.cpu_times()[:2]), "sleepers": 0.0, "other": 0.0}
        for kind, seconds in kids.values():
            cpu[kind] += seconds
        samples.append((time.perf_counter(), lines - 1, cpu))
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
t0 = time.perf_counter()
# Process workers: up to 8 of them, each relaying to w / 8 children (one thread each).
procs = min(w, 8)
kwargs = ({"workers": procs, "cluster_kwargs": {"plugins": {stand}, "processes": True,
          "threads_per_worker": w // procs}, "cluster_timeout": 600.0}
          if mode == "processes" else {"workers": w, "cluster_kwargs": {"plugins": {stand}}})
sweep = xs.run(mission, space, out=work + "/sweep", progress=False, runs_per_task=rpt, **kwargs)
wall = time.perf_counter() - t0
stop.set()
sampler.join()
assert sweep.counts == {"ok": n, "failed": 0, "pending": 0}, sweep.counts
outcomes = [r.outcome for r in sweep.manifest.runs.values()]
ideal, steady = ideal_rate(outcomes, w), steady_rate(outcomes)
# CPU per run at steady state: between the samples that saw 20 % and 80 % of the runs.
a = next(x for x in samples if x[1] >= 0.2 * n)
b = next((x for x in samples if x[1] >= 0.8 * n), samples[-1])
per_run = {k: 1000 * (b[2][k] - a[2][k]) / max(b[1] - a[1], 1) for k in a[2]}
print(json.dumps({
    "workers": w, "duration_s": d, "sigma": sigma, "mode": mode, "n": n, "runs_per_task": rpt,
    "ideal_runs_per_s": ideal, "steady_runs_per_s": steady, "ratio": steady / ideal,
    "call_runs_per_s": n / wall, "client_cpu_ms_per_run": per_run["client"],
    "other_cpu_ms_per_run": per_run["other"], "sleeper_cpu_ms_per_run": per_run["sleepers"],
    "rss_peak_mb": max(peak[0], me.memory_info().rss) / 2**20,
}))
"""

# The model's floor, argv as _CASE's: each of w threads drives its own sleeping child
# directly (what a worker's relay does), with no Dask, no manifest and no store. What
# this reaches is the most any orchestrator could on this machine.
_BARE = r"""
import json, os, sys, threading, time
import psutil
w, d, sigma, n, mode, work, mission, rpt = sys.argv[1:9]
w, d, sigma, n = int(w), float(d), float(sigma), int(n)
from xsweep.gmat.requests import RunRequest
from xsweep.testing.node import Durations, SleepingRuns, ideal_rate, steady_rate
stand = SleepingRuns.record(mission, {"TOF": 60.0}, work, durations=Durations(d, sigma, seed=1))
children = [stand.new_child(wait=False) for _ in range(w)]
for child in children:
    child.wait_ready()
me, kids = psutil.Process(), [psutil.Process(c.pid) for c in children]
outcomes, lock = [], threading.Lock()
def relay(k):
    for i in range(k, n, w):
        out = children[k].run(RunRequest(mission, {"TOF": 60.0}, f"{work}/runs/run-{i:06d}"))
        with lock:
            outcomes.append(out)
def cpu():
    return sum(me.cpu_times()[:2]), sum(sum(p.cpu_times()[:2]) for p in kids)
threads = [threading.Thread(target=relay, args=(k,)) for k in range(w)]
(c0, k0), t0 = cpu(), time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - t0
c1, k1 = cpu()
for child in children:
    child.close()
ideal, steady = ideal_rate(outcomes, w), steady_rate(outcomes)
print(json.dumps({
    "workers": w, "duration_s": d, "sigma": sigma, "mode": mode, "n": n, "runs_per_task": "-",
    "ideal_runs_per_s": ideal, "steady_runs_per_s": steady, "ratio": steady / ideal,
    "call_runs_per_s": n / wall, "client_cpu_ms_per_run": 1000 * (c1 - c0) / n,
    "other_cpu_ms_per_run": 0.0, "sleeper_cpu_ms_per_run": 1000 * (k1 - k0) / n,
    "rss_peak_mb": me.memory_info().rss / 2**20,
}))
"""


def run_case(
    workers: int,
    duration: float,
    sigma: float,
    mode: str,
    n: int,
    where: Path | None,
    runs_per_task: str = "auto",
) -> dict[str, Any]:
    """Run one case of the model in a fresh interpreter and return its figures."""
    with tempfile.TemporaryDirectory(prefix="xsweep-node-", dir=where) as work:
        args = [str(workers), str(duration), str(sigma), str(n), mode, work, str(MISSION)]
        args.append(runs_per_task)
        proc = subprocess.run(
            [sys.executable, "-c", _BARE if mode == "bare" else _CASE, *args],
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"case {workers} x {duration} s ({mode}) failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def table(rows: list[dict[str, Any]]) -> str:
    """Return the figures as a Markdown table."""
    head = ("| workers | run | workers as | runs/task | ideal runs/s | achieved | ratio "
            "| whole call | CPU ms/run: client | other processes | sleeping children "
            "| client peak RSS MB |")  # fmt: skip
    lines = [head, "| ---: | ---: | --- | --- |" + " ---: |" * 8]
    for r in rows:
        run = f"{1000 * r['duration_s']:g} ms" + (f" (sigma {r['sigma']:g})" if r["sigma"] else "")
        lines.append(
            f"| {r['workers']} | {run} | {r['mode']} | {r.get('runs_per_task', 'auto')} | "
            f"{r['ideal_runs_per_s']:,.0f} | "
            f"{r['steady_runs_per_s']:,.0f} | **{r['ratio']:.2f}** | "
            f"{r['call_runs_per_s']:,.0f} | {r['client_cpu_ms_per_run']:.2f} | "
            f"{r['other_cpu_ms_per_run']:.2f} | {r['sleeper_cpu_ms_per_run']:.2f} | "
            f"{r['rss_peak_mb']:.0f} |"
        )
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Plot achieved/ideal against workers, one line per run duration and worker kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")

    def key(r: dict[str, Any]) -> tuple[float, float, str, str]:
        return r["duration_s"], r["sigma"], r["mode"], str(r.get("runs_per_task", "auto"))

    colours = {d: f"C{i}" for i, d in enumerate(sorted({r["duration_s"] for r in rows}))}
    for case in dict.fromkeys(map(key, rows)):
        duration, sigma, mode, per_task = case
        mine = sorted((r for r in rows if key(r) == case), key=lambda r: r["workers"])
        style = ("-" if mode == "threads" else "--") if per_task == "auto" else ":"
        style = "-." if mode == "bare" else style
        kind = "floor: no Dask, manifest or store" if mode == "bare" else mode
        label = f"{1000 * duration:g} ms runs, {kind}" + (f", sigma {sigma:g}" if sigma else "")
        label += "" if per_task in ("auto", "-") else f", runs_per_task={per_task}"
        ax.plot([r["workers"] for r in mine], [r["ratio"] for r in mine], style, marker="o",
                color=colours[duration], label=label)  # fmt: skip
    ax.axhline(0.9, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("workers (each with a sleeping child)")
    ax.set_ylabel("achieved / ideal runs/s")
    ax.set_ylim(0, 1.05)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Big-node model: xsweep's orchestration on 2 cores")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the model's cases and print their table (Markdown), optionally as JSON too."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--durations", type=float, nargs="+", default=[0.02, 0.05, 0.2],
                        help="seconds each run sleeps (the median, with --sigma)")  # fmt: skip
    parser.add_argument("--sigma", type=float, default=0.0,
                        help="log-normal spread of the durations (0: fixed)")  # fmt: skip
    parser.add_argument("--modes", nargs="+", choices=["threads", "processes", "bare"],
                        default=["threads", "processes"],
                        help="bare: the model's floor, relay threads driving the children "
                        "with no Dask, manifest or store")  # fmt: skip
    parser.add_argument("--runs-per-task", default="auto",
                        help="the sweep's runs_per_task (default: auto, the default; 1: one "
                        "run a task, the default before it)")  # fmt: skip
    parser.add_argument("--n", type=int, help="runs per case (default: ~5 s at the ideal rate)")
    parser.add_argument("--dir", type=Path, default=SHM if SHM.is_dir() else None,
                        help="where the sweeps are written (default: /dev/shm)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--plot", type=Path, help="plot achieved/ideal against workers (PNG)")
    parser.add_argument("--from", dest="saved", type=Path, nargs="+", help="saved --json files")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    if args.saved:
        for saved in args.saved:
            rows.extend(json.loads(saved.read_text()))
    else:
        for mode in args.modes:
            for duration in args.durations:
                for workers in args.workers:
                    n = args.n or max(1000, int(SECONDS_OF_RUNS * workers / duration))
                    rows.append(run_case(workers, duration, args.sigma, mode, n, args.dir,
                                         args.runs_per_task))  # fmt: skip
                    print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
