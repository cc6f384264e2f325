"""The scale model: xsweep's orchestration at 10^4..10^6 runs, GMAT stood in for.

Every run copies one real run's outputs (``xsweep.testing.engines.CannedRuns``), so what is
measured is the rest: the client loop, the Dask scheduler and workers, the
manifest and the live store. Each case runs in a fresh interpreter::

    python benchmarks/scale.py --n 10000 100000 [--runs-per-task 1 10 auto] [--json out.json]
    python benchmarks/scale.py --from out.json [more.json ...] --plot scale.png

and prints, per case: runs/s, client CPU per run (the embedded cluster's
scheduler and worker threads live in the client process, and the CPU of the
store's writer process, a child from 10^4 runs on, is added: it is all of
xsweep's CPU outside GMAT), client RSS before ``xs.run``, as the first runs are
recorded (the cluster up, Dask and Zarr imported) and at its peak, manifest fsyncs per
run, and the time per run inside the manifest writer and the store's block
writes: the parts that could saturate first.
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

# One case, in a fresh interpreter: argv = [n, runs_per_task, workers, workdir].
_CASE = r"""
import json, os, sys, threading, time
from pathlib import Path
import psutil
n, rpt, workers, work = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
rpt = rpt if rpt == "auto" else int(rpt)
mission = sys.argv[5]
import xsweep as xs
from xsweep.record import manifest as _manifest
from xsweep.testing.engines import CannedRuns
from xsweep.store import blocks

canned = CannedRuns.record(mission, {"TOF": 60.0}, work)

spent = {"manifest": [0, 0.0]}
lock = threading.Lock()
def timed(cls, name, key):
    inner = getattr(cls, name)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            with lock:
                spent[key][0] += 1
                spent[key][1] += time.perf_counter() - t0
    setattr(cls, name, wrapper)
timed(_manifest.ManifestWriter, "_write", "manifest")  # one fsync per call
writers = []  # the store's writers: each times its blocks (on a thread or in its process)
init = blocks.BlockWriter.__init__
def capture(self, *args, **kwargs):
    init(self, *args, **kwargs)
    writers.append(self)
blocks.BlockWriter.__init__ = capture

me = psutil.Process()
# RSS as the first runs are recorded: the cluster is up, Dask's and Zarr's modules are
# imported (patching the dispatcher instead would import them before base_rss).
at_runs = []
write = _manifest.ManifestWriter._write
def first_write(self, *records):
    if not at_runs:
        at_runs.append(me.memory_info().rss)
    return write(self, *records)
_manifest.ManifestWriter._write = first_write
peak, stop = [0], threading.Event()
def sample():
    while not stop.wait(0.1):
        peak[0] = max(peak[0], me.memory_info().rss)
sampler = threading.Thread(target=sample, daemon=True)
space = xs.monte_carlo(n, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1).merge(
    xs.grid({"TOF": [60.0]}))
base_rss = me.memory_info().rss
cpu0 = sum(me.cpu_times()[:4])  # with reaped children: the store's writer process
sampler.start()
t0 = time.perf_counter()
sweep = xs.run(mission, space, out=work / "sweep", workers=workers, runs_per_task=rpt,
               progress=False, cluster_kwargs={"plugins": {canned}})
wall = time.perf_counter() - t0
stop.set()
cpu = sum(me.cpu_times()[:4]) - cpu0
assert sweep.counts == {"ok": n, "failed": 0, "pending": 0}, sweep.counts
print(json.dumps({
    "n": n, "runs_per_task": rpt, "workers": workers, "wall_s": wall,
    "runs_per_s": n / wall, "client_cpu_ms_per_run": 1000 * cpu / n,
    "rss_start_mb": base_rss / 2**20, "rss_runs_mb": at_runs[0] / 2**20,
    "rss_peak_mb": peak[0] / 2**20,
    "manifest_writes": spent["manifest"][0], "fsyncs_per_run": spent["manifest"][0] / n,
    "manifest_ms_per_run": 1000 * spent["manifest"][1] / n,
    "store_blocks": sum(w.written for w in writers),
    "store_ms_per_run": 1000 * sum(w.busy_s for w in writers) / n,
}))
"""


def run_case(n: int, runs_per_task: int | str, workers: int, mission: Path) -> dict[str, Any]:
    """Run one case of the model in a fresh interpreter and return its figures."""
    with tempfile.TemporaryDirectory(prefix="xsweep-scale-") as work:
        args = [str(n), str(runs_per_task), str(workers), work, str(mission)]
        proc = subprocess.run(
            [sys.executable, "-c", _CASE, *args],
            capture_output=True,
            text=True,
            timeout=4 * 3600,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"case n={n} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _table(rows: list[dict[str, Any]]) -> str:
    head = ("| runs | runs/task | runs/s | client CPU ms/run "
            "| client RSS MB (start -> runs -> peak) "
            "| fsyncs/run | manifest ms/run | store ms/run |")  # fmt: skip
    lines = [head, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['runs_per_task']} | {r['runs_per_s']:,.0f} | "
            f"{r['client_cpu_ms_per_run']:.2f} | {r['rss_start_mb']:.0f} -> "
            f"{_mb(r.get('rss_runs_mb'))} -> {r['rss_peak_mb']:.0f} | {r['fsyncs_per_run']:.2f} | "
            f"{r['manifest_ms_per_run']:.3f} | {r['store_ms_per_run']:.3f} |"
        )
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"  # saved figures from before it was kept


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Plot throughput, client CPU per run and client RSS growth against N, per batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    panels = [
        ("runs_per_s", "runs/s"),
        ("client_cpu_ms_per_run", "client CPU, ms per run"),
        ("rss_growth_mb", "client RSS growth, MB"),
    ]
    for rpt in dict.fromkeys(str(r["runs_per_task"]) for r in rows):
        mine = sorted((r for r in rows if str(r["runs_per_task"]) == rpt), key=lambda r: r["n"])
        ns = [r["n"] for r in mine]
        for ax, (key, _) in zip(axes, panels, strict=True):
            ys = [r["rss_peak_mb"] - r["rss_start_mb"] if key == "rss_growth_mb" else r[key]
                  for r in mine]  # fmt: skip
            ax.plot(ns, ys, marker="o", label=f"{rpt} per task")
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("runs in the sweep (N)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    fig.suptitle("Scale model: xsweep's orchestration with GMAT stood in for (2 cores)")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _per_task(text: str) -> int | str:
    return text if text == "auto" else int(text)


def main(argv: list[str] | None = None) -> int:
    """Run the model's cases and print their table (Markdown), optionally as JSON too."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10_000], help="runs per case")
    parser.add_argument(
        "--runs-per-task", type=_per_task, nargs="+", default=[1], help="batch sizes, or auto"
    )
    parser.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    parser.add_argument("--mission", type=Path, default=MISSION, help="the template's mission")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--plot", type=Path, help="plot the figures against N (PNG)")
    parser.add_argument(
        "--from", dest="saved", type=Path, nargs="+", help="tabulate (and plot) saved --json files"
    )
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    if args.saved:
        for saved in args.saved:
            rows.extend(json.loads(saved.read_text()))
    else:
        for n in args.n:
            for rpt in args.runs_per_task:
                rows.append(run_case(n, rpt, args.workers, args.mission))
                print(_table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
    print(_table(rows))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    if args.plot is not None:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
