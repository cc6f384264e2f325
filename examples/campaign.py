"""A drag campaign kept as summaries: every run's extremes, full histories of the low ones.

300 dispersed LEO injections (semi-major axis, drag coefficient, area) fly 2 hours
with drag. The sweep keeps each run's summary (final row, each column's minimum and
maximum and when) and, in full, only the runs whose altitude dips below 243 km and
every 100th run. The plot: the minimum altitude of all 300 runs from the summaries,
and the kept runs' altitude histories.
"""

from __future__ import annotations

import os
import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir

import xsweep as xs


# --8<-- [start:keep]
def dips_low(summary, params):
    """Keep a run in full when its altitude went below 243 km (on the worker, as it ends)."""
    return summary["RF"].loc["min", "Sat.Earth.Altitude"] < 243.0


# --8<-- [end:keep]


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "campaign"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    space = xs.monte_carlo(
        300,
        {
            "Sat.SMA": ("normal", 6640.0, 4.0),
            "Sat.Cd": ("uniform", 1.8, 2.6),
            "Sat.DragArea": ("uniform", 10.0, 20.0),
        },
        seed=2026,
    ).merge(xs.fixed({"TOF": 7200}))
    keep = xs.Keep(every=100, where=dips_low)
    xs.run(MISSIONS / "leo_drag.script", space, out=sweep_dir, keep=keep, progress=False)
    summary = xs.open_sweep(sweep_dir, summary=True)  # every run: its final row, extremes
    lowest = summary["Sat.Earth.Altitude"].sel(stat="min")
    ds = xs.open_sweep(sweep_dir)  # the histories: NaN where a run kept only its summary
    full = ds.isel(sample=np.flatnonzero(ds["kept"].values))
    # --8<-- [end:run]
    files = sum(len(names) for _, _, names in os.walk(sweep_dir / "runs"))
    print(f"{int(ds['kept'].sum())} of {ds.sizes['sample']} runs kept in full; "
          f"{files} files under runs/")  # fmt: skip

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    left.hist(lowest.values, bins=30, color="tab:blue")
    left.axvline(243.0, color="tab:red", ls="--", label="kept in full below")
    left.set_xlabel("minimum altitude over 2 h [km] (summaries of all runs)")
    left.set_ylabel("runs")
    left.legend()
    for i in range(full.sizes["sample"]):
        run = full.isel(sample=i)
        hours = run["elapsed_s"].values / 3600.0
        low = float(run["Sat.Earth.Altitude"].min()) < 243.0
        right.plot(hours, run["Sat.Earth.Altitude"].values, lw=0.8,
                   color="tab:red" if low else "0.6")  # fmt: skip
    right.set_xlabel("hours")
    right.set_ylabel("altitude [km]")
    right.set_title("runs kept in full (red: below 243 km; grey: every 100th)")
    fig.savefig(out / "campaign.png", dpi=110)
    print(out / "campaign.png")
    assert np.isfinite(lowest.values).all()


if __name__ == "__main__":
    main()
