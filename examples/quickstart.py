"""Quick start: a real sweep on the embedded GMAT engine, on a local Dask cluster.

Sweeps examples/missions/leo_report.script over a 3 x 2 grid of semi-major
axis (``Sat.SMA``) and inclination (``Sat.INC``), 20 minutes of flight each
(``TOF``, a script Variable). Every run is a Dask task; its report lands as
Parquet under ``examples/out/quickstart/runs/`` and its outcome in the
sweep's ``manifest.jsonl``. Prints one line per run. It needs no ``__main__`` guard:
the same calls work from ``python -``, ``-c``, ``-m``, IPython and notebooks.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import xsweep as xs

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "missions" / "leo_report.script"
OUT = HERE / "out" / "quickstart"


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    space = xs.grid({"Sat.SMA": [6900.0, 7100.0, 7300.0], "Sat.INC": [28.5, 98.0], "TOF": [1200]})
    sweep = xs.run(SCRIPT, space, out=OUT)
    engine = sweep.manifest.header["engine"]
    counts = ", ".join(f"{n} {k}" for k, n in sweep.counts.items())
    print(f"GMAT engine: {engine['kind']} {engine['gmat_version']}; {sweep.n_runs} runs, {counts}")
    print(f"{'run':>3}  {'Sat.SMA':>8}  {'Sat.INC':>7}  {'status':>6}  {'final alt. [km]':>15}")
    for run_id, run in sweep.runs().iterrows():
        report = xs.read_output(OUT / f"runs/run-{run_id:06d}/report-RF.parquet")
        final = report["Sat.Earth.Altitude"].iloc[-1]
        print(
            f"{run_id:3d}  {run['Sat.SMA']:8.1f}  {run['Sat.INC']:7.1f}  {run['status']:>6}  "
            f"{final:15.3f}"
        )
    print(f"sweep directory: {OUT}")


main()  # no ``if __name__ == "__main__":`` guard needed: xsweep never re-imports this file
