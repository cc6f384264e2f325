"""SMA scan: altitude against elapsed time, one line per semi-major axis.

Sweeps the LEO report mission over five semi-major axes of a slightly eccentric
orbit, 90 minutes of flight each, and plots every run's altitude on one common
time grid (GMAT's adaptive steps differ from run to run).
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "sma_scan"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    space = xs.grid({"Sat.SMA": np.linspace(6800.0, 7600.0, 5)})
    space = space.merge(xs.fixed({"Sat.ECC": 0.02, "TOF": 5400}))
    xs.run(MISSIONS / "leo_report.script", space, out=sweep_dir, progress=False)
    ds = xs.open_sweep(sweep_dir)
    on_grid = ds.xsweep.on_time_grid(step=30.0)  # seconds since each run's start
    altitude = on_grid["Sat.Earth.Altitude"]
    # --8<-- [end:run]

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for sma in altitude["Sat.SMA"].values:
        line = altitude.sel({"Sat.SMA": sma})
        ax.plot(line["time"] / 60.0, line, label=f"SMA {sma:.0f} km")
    ax.set_xlabel("elapsed time [min]")
    ax.set_ylabel("altitude [km]")
    ax.set_title("SMA scan, ECC 0.02: altitude over one orbit and a half")
    ax.legend(fontsize="small", ncol=2)
    fig.savefig(out / "sma_scan.png", dpi=120)
    print(out / "sma_scan.png")


if __name__ == "__main__":  # Dask's worker processes re-import this module
    main()
