"""A drag campaign kept as summaries, its three lowest runs re-flown in full.

300 dispersed LEO injections (semi-major axis, drag coefficient, area) fly 2 hours
with drag. The sweep keeps each run's summary (final row, each column's minimum and
maximum and when) and, in full, every 100th run. The three runs whose altitude went
lowest are then re-flown in full (and checked to give what they gave). The plot: the
minimum altitude of all 300 runs from the summaries, and the histories of the runs
kept in full, the re-flown ones in red.
"""

from __future__ import annotations

import os
import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir

import xsweep as xs


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
    keep = xs.Keep(every=100)  # and failed runs: their logs
    xs.run(MISSIONS / "leo_drag.script", space, out=sweep_dir, keep=keep, progress=False)
    summary = xs.open_sweep(sweep_dir, summary=True)  # every run: its final row, extremes
    lowest = summary["Sat.Earth.Altitude"].sel(stat="min")
    three = lowest.sortby(lowest)[:3]  # the three lowest perigees, with their run_id
    xs.refly(sweep_dir, three, progress=False)  # in full now, checked bit for bit
    ds = xs.open_sweep(sweep_dir)  # the histories: NaN where a run kept only its summary
    full = ds.isel(sample=np.flatnonzero(ds["kept"].values))
    # --8<-- [end:run]
    files = sum(len(names) for _, _, names in os.walk(sweep_dir / "runs"))
    print(f"{int(ds['kept'].sum())} of {ds.sizes['sample']} runs kept in full; "
          f"{files} files under runs/")  # fmt: skip

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    left.hist(lowest.values, bins=30, color="tab:blue")
    for value in three.values:
        left.axvline(value, color="tab:red", lw=1)
    left.set_xlabel("minimum altitude over 2 h [km] (summaries of all runs)")
    left.set_ylabel("runs")
    reflown = set(three["run_id"].values.tolist())
    for i in range(full.sizes["sample"]):
        run = full.isel(sample=i)
        hours = run["elapsed_s"].values / 3600.0
        red = int(run["run_id"]) in reflown
        right.plot(hours, run["Sat.Earth.Altitude"].values, lw=0.8,
                   color="tab:red" if red else "0.6")  # fmt: skip
    right.set_xlabel("hours")
    right.set_ylabel("altitude [km]")
    right.set_title("runs in full (red: the 3 lowest, re-flown; grey: every 100th)")
    fig.savefig(out / "campaign.png", dpi=110)
    print(out / "campaign.png")
    assert np.isfinite(lowest.values).all()


if __name__ == "__main__":
    main()
