"""A one-run sweep from the command line against one run in a fresh ``python``.

Three fresh processes, timed side by side in an order that alternates across
repeats (the table shows medians of wall time and of CPU, the process and
its children summed):

- ``run_mission``: ``python`` calling ``xs.run_mission`` on the point, in
  process (GMAT loads into the interpreter; no plan, manifest, store or Dask).
- ``cli``: ``xsweep run SCRIPT --grid Sat.SMA=7000 --out DIR --no-progress``:
  the plan check, the embedded Dask cluster, the GMAT child, the manifest
  and the live Zarr store.
- ``imports``: ``python`` importing only what the CLI's client cannot run a
  sweep without (xsweep, Dask distributed, Zarr) and making one xarray
  ``Variable``, which imports ``dask.array`` (and, through ``dask.array.fft``,
  SciPy's FFT packages). Nothing runs: this is the floor under ``cli``.

Usage::

    python benchmarks/one_run.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MISSION = HERE / "missions" / "leo_day.script"
IMPORTS = "import xsweep, distributed, zarr, numpy, xarray; xarray.Variable('x', numpy.arange(1))"


def _commands(out: Path) -> dict[str, list[str]]:
    run = (
        "import sys, xsweep as xs; "
        f"xs.run_mission({str(MISSION)!r}, {{'Sat.SMA': 7000}}, out_dir=sys.argv[1])"
    )
    cli = Path(sys.executable).with_name("xsweep")
    entry = [str(cli)] if cli.is_file() else [sys.executable, "-m", "xsweep"]
    point = ["--grid", "Sat.SMA=7000", "--out", str(out), "--no-progress"]
    return {
        "run_mission": [sys.executable, "-c", run, str(out)],
        "cli": [*entry, "run", str(MISSION), *point],
        "imports": [sys.executable, "-c", IMPORTS],
    }


def _time(cmd: list[str]) -> tuple[float, float]:
    """Return the wall time and the CPU time (it and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    """Time the three contenders, alternating, and print their medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xsweep-one-run-"))
    out = work / "out"
    commands = _commands(out)
    names = list(commands)
    walls: dict[str, list[float]] = {n: [] for n in names}
    cpus: dict[str, list[float]] = {n: [] for n in names}
    try:
        _time(commands["imports"])  # warm the page cache before the first timed process
        for rep in range(args.repeats):
            for name in names if rep % 2 == 0 else names[::-1]:
                shutil.rmtree(out, ignore_errors=True)
                wall, cpu = _time(commands[name])
                if name != "imports" and not any(out.rglob("*.parquet")):
                    raise SystemExit(f"{name} wrote no Parquet under {out}")
                walls[name].append(wall)
                cpus[name].append(cpu)
                print(f"  repeat {rep + 1} {name:12s} {wall:.3f} s wall, {cpu:.3f} s CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(walls["run_mission"])
    print(f"\none run of the 1-day mission, repeats={args.repeats} (medians)\n")
    print("| process | wall s | CPU s | wall vs run_mission |")
    print("| --- | --- | --- | --- |")
    for name in names:
        wall = statistics.median(walls[name])
        cpu = statistics.median(cpus[name])
        print(f"| {name} | {wall:.3f} | {cpu:.3f} | {wall / base:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps({"wall_s": walls, "cpu_s": cpus}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
