"""A drag campaign kept as summaries, with its envelope; the three lowest runs re-flown.

10,000 dispersed LEO injections (semi-major axis, drag coefficient, area; ``--n`` for
fewer) fly 2 hours with drag. The sweep keeps each run's summary (final row, each
column's minimum and maximum and when), folds every run into a streaming envelope of
the altitude (3-sigma band, median and mean every 2 minutes) and keeps in full only every
1000th run. The three runs whose altitude went lowest are then re-flown in full (and
checked to give what they gave). The plot: the envelope with the three re-flown runs
over it, and the minimum altitude of every run from the summaries.
"""

from __future__ import annotations

import os
import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, arguments

import xsweep as xs


def main() -> None:
    args = arguments(__doc__.splitlines()[0], n=10_000)
    out, n = args.out, args.n
    sweep_dir = out / "campaign"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    space = xs.monte_carlo(
        n,
        {
            "Sat.SMA": ("normal", 6640.0, 4.0),
            "Sat.Cd": ("uniform", 1.8, 2.6),
            "Sat.DragArea": ("uniform", 10.0, 20.0),
        },
        seed=2026,
    ).merge(xs.fixed({"TOF": 7200}))
    xs.run(
        MISSIONS / "leo_drag.script",
        space,
        out=sweep_dir,
        keep=xs.Keep(every=1000),  # summaries for all, every 1000th run in full
        # 3-sigma band and median every 2 minutes; k=2000 for tails known to +-0.14 % in rank
        envelope=xs.envelope(120.0, columns=["Sat.Earth.Altitude"], k=2000),
        progress=False,
    )
    summary = xs.open_sweep(sweep_dir, summary=True)  # every run: its final row, extremes
    lowest = summary["Sat.Earth.Altitude"].sel(stat="min")
    three = lowest.sortby(lowest)[:3]  # the three lowest perigees, with their run_id
    xs.refly(sweep_dir, three, progress=False)  # in full now, checked bit for bit
    envelope = xs.open_sweep(sweep_dir, envelope=True)
    ds = xs.open_sweep(sweep_dir)  # the histories: NaN where a run kept only its summary
    flown = ds.isel(sample=three["sample"].values)
    # --8<-- [end:run]
    files = sum(len(names) for _, _, names in os.walk(sweep_dir / "runs"))
    print(f"{int(ds['kept'].sum())} of {ds.sizes['sample']} runs kept in full; "
          f"{files} files under runs/")  # fmt: skip

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    envelope.xsweep.plot.band("Sat.Earth.Altitude", ax=left)
    for i in range(flown.sizes["sample"]):
        run = flown.isel(sample=i)
        left.plot(run["elapsed_s"].values, run["Sat.Earth.Altitude"].values, color="tab:red",
                  lw=0.9, label="re-flown (lowest)" if i == 0 else None)  # fmt: skip
    left.legend(fontsize="small")
    right.hist(lowest.values, bins=40, color="tab:blue")
    for value in three.values:
        right.axvline(value, color="tab:red", lw=1)
    right.set_xlabel("minimum altitude over 2 h [km] (summaries of all runs)")
    right.set_ylabel("runs")
    fig.savefig(out / "campaign.png", dpi=110)
    print(out / "campaign.png")
    assert np.isfinite(lowest.values).all()


if __name__ == "__main__":
    main()
