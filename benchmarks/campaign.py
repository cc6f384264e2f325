"""Campaign figures: what a run costs on disk and in time, keeping everything or summaries.

Each case is a Monte Carlo of the one-day benchmark mission (835 report rows a run) run in a
fresh interpreter, with ``keep="all"`` and with ``keep="summary"`` and an envelope of
every column every minute (``xs.envelope(60.0)``), alternated and repeated (absolute
times on these machines drift; the ratio is the figure)::

    python benchmarks/campaign.py --n 2000 --repeats 2
    python benchmarks/campaign.py --n 100000 --scale      # the scale model: GMAT stood in for
    python benchmarks/campaign.py --n 10000 --columns Sat.Earth.Altitude   # one column's envelope

and prints, per tier (``--keep`` to run one): runs/s, bytes on disk per run (the whole
sweep directory: manifest, per-run files, Zarr), files per run (and under ``runs/``),
manifest bytes per run, the client's peak RSS, and (keeping summaries) the time to open
and load the envelope and to draw it.
``--scale`` runs the scale model (``xsweep.testing.engines.CannedRuns``: every run links
one real run's files, or, keeping summaries, reports its summary), so the orchestration
and the disk are what is measured at 10^5..10^6 runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MISSION = HERE / "missions" / "leo_day.script"

# One case in a fresh interpreter: argv = [n, keep, workdir, mission, scale].
_CASE = r"""
import json, os, resource, sys, time
from pathlib import Path
n, keep, work, mission = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
scale = sys.argv[5] == "1"
columns = json.loads(sys.argv[6]) if len(sys.argv) > 6 else None
import xsweep as xs
extra = {}
if scale:
    from xsweep.testing.engines import CannedRuns
    canned = CannedRuns.record(mission, {"TOF": 86400.0}, work / "template")
    extra["cluster_kwargs"] = {"plugins": {canned}}
space = xs.monte_carlo(n, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1)
space = space.merge(xs.fixed({"TOF": 86400.0}))
out = work / "sweep"
t0 = time.perf_counter()
if keep == "summary":  # with the envelope of every column, every minute
    extra["envelope"] = xs.envelope(60.0, columns=columns)
sweep = xs.run(mission, space, out=out, keep=keep, progress=False, **extra)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before reading the manifest
assert sweep.counts["ok"] == n, sweep.counts
size = files = run_files = 0
for root, _, names in os.walk(out):
    for name in names:
        files += 1
        run_files += root.startswith(str(out / "runs"))
        size += os.lstat(os.path.join(root, name)).st_size
opened = {}
if keep == "summary":  # what reading the envelope costs, however many runs it holds
    import matplotlib
    matplotlib.use("Agg")
    t1 = time.perf_counter()
    env = xs.open_sweep(out, envelope=True).load()
    t2 = time.perf_counter()
    env.xsweep.plot.band("Sat.Earth.Altitude").figure.savefig(work / "band.png")
    opened = {"open_envelope_s": t2 - t1, "plot_envelope_s": time.perf_counter() - t2}
print(json.dumps({**opened, "keep": keep, "n": n, "wall_s": wall, "runs_per_s": n / wall,
                  "bytes_per_run": size / n, "files_per_run": files / n,
                  "run_files_per_run": run_files / n,
                  "manifest_bytes_per_run": (out / "manifest.jsonl").stat().st_size / n,
                  "peak_rss_mib": peak}))
"""


def run_case(n: int, keep: str, scale: bool, columns: list[str] | None = None) -> dict[str, Any]:
    """Run one case in a fresh interpreter; return its figures."""
    argv = [str(n), keep, "", str(MISSION), "1" if scale else "0", json.dumps(columns)]
    with tempfile.TemporaryDirectory(prefix="xsweep-campaign-") as work:
        argv[2] = work
        proc = subprocess.run(
            [sys.executable, "-c", _CASE, *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=6 * 3600,
        )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Run the cases and print the table (and ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--scale", action="store_true", help="the scale model (CannedRuns)")
    parser.add_argument("--json", type=Path, help="write every case's figures here")
    parser.add_argument("--keep", nargs="+", default=["all", "summary"], help="the tiers")
    parser.add_argument("--columns", nargs="+", help="the envelope's columns (default: all)")
    args = parser.parse_args()
    cases: list[dict[str, Any]] = []
    for n in args.n:
        for _ in range(args.repeats):
            for keep in args.keep:  # alternated: the machine's drift hits both
                cases.append({**run_case(n, keep, args.scale, args.columns), "scale": args.scale})
                print(json.dumps(cases[-1]), file=sys.stderr)
    keys = ("runs_per_s", "bytes_per_run", "files_per_run", "run_files_per_run",
            "manifest_bytes_per_run", "peak_rss_mib")  # fmt: skip
    print(f"{'n':>8} {'keep':>8} " + " ".join(f"{k:>22}" for k in keys))
    for n in args.n:
        medians = {}
        for keep in args.keep:
            mine = [c for c in cases if c["n"] == n and c["keep"] == keep]
            medians[keep] = {k: statistics.median(c[k] for c in mine) for k in keys}
            print(f"{n:>8} {keep:>8} " + " ".join(f"{medians[keep][k]:>22.2f}" for k in keys))
            if keep == "summary":
                opened = {k: statistics.median(c[k] for c in mine)
                          for k in ("open_envelope_s", "plot_envelope_s")}  # fmt: skip
                print(f"{n:>8} envelope: open and load {opened['open_envelope_s']:.2f} s, "
                      f"plot {opened['plot_envelope_s']:.2f} s")  # fmt: skip
        if len(medians) < 2:
            continue
        ratio = medians["all"]["bytes_per_run"] / medians["summary"]["bytes_per_run"]
        speed = medians["summary"]["runs_per_s"] / medians["all"]["runs_per_s"]
        print(f"{n:>8} all/summary disk {ratio:.1f}x, summary/all runs/s {speed:.2f}")
    if args.json:
        args.json.write_text(json.dumps(cases, indent=1))


if __name__ == "__main__":
    main()
