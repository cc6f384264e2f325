"""Coarse to fine: a coarse SMA x ECC grid, then new SMA values only where a threshold is crossed.

A 5 x 4 grid over the initial SMA and eccentricity is flown for 50 minutes (about half an
orbit, near apoapsis). Where the final altitude crosses 700 km, the SMA bracket holding
every eccentricity's crossing gets new values 20 km apart with ``xs.extend(d, grid=...)``:
only the new points run (crossed with the 4 eccentricities), the first 20 runs stay as
they were, and the sweep stays one store that opens sorted. The plot shows the final
altitude over both passes, the coarse and fine points, and the 700 km contour.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir

import xsweep as xs

THRESHOLD = 700.0  # km


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "grid_refine"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    coarse = xs.grid(
        {"Sat.SMA": [6800.0, 6900.0, 7000.0, 7100.0, 7200.0], "Sat.ECC": [0.0, 0.01, 0.02, 0.03]}
    ).merge(xs.fixed({"TOF": 3000}))
    xs.run(MISSIONS / "leo_report.script", coarse, out=sweep_dir, progress=False)
    final = xs.open_sweep(sweep_dir).xsweep.final()["Sat.Earth.Altitude"]
    sma = final["Sat.SMA"].values
    above = (final > THRESHOLD).transpose("Sat.ECC", "Sat.SMA").values
    first = above.argmax(axis=1)  # each eccentricity's first SMA above the threshold
    lo, hi = sma[max(first.min() - 1, 0)], sma[first.max()]
    finer = [v for v in np.arange(lo, hi, 20.0) if v not in sma]
    sweep = xs.extend(sweep_dir, grid={"Sat.SMA": finer}, progress=False)
    ds = xs.open_sweep(sweep_dir)  # one sweep, SMA sorted
    # --8<-- [end:run]
    print(f"bracket {lo:.0f}-{hi:.0f} km; {sweep.counts['ok']} runs ok; "
          f"SMA now {ds.sizes['Sat.SMA']} values")  # fmt: skip
    alt = ds.xsweep.final()["Sat.Earth.Altitude"].load()

    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    alt = alt.transpose("Sat.ECC", "Sat.SMA")
    mesh = ax.contourf(alt["Sat.SMA"], alt["Sat.ECC"], alt, levels=20, cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="final altitude [km]")
    ax.contour(alt["Sat.SMA"], alt["Sat.ECC"], alt, levels=[THRESHOLD], colors="white",
               linewidths=2)  # fmt: skip
    eccs = coarse["Sat.ECC"].values
    s, e = np.meshgrid(sma, eccs)
    ax.scatter(s, e, marker="o", s=40, color="black", label=f"coarse pass ({s.size} runs)")
    s, e = np.meshgrid(finer, eccs)
    ax.scatter(s, e, marker="x", s=40, color="red", label=f"refined pass ({s.size} runs)")
    ax.set_xlabel("initial SMA [km]")
    ax.set_ylabel("eccentricity")
    ax.set_title(f"Final altitude after 50 min; white: {THRESHOLD:.0f} km")
    ax.legend(loc="upper left", fontsize="small")
    fig.savefig(out / "grid_refine.png", dpi=110)
    print(out / "grid_refine.png")


if __name__ == "__main__":
    main()
