"""Asking where it matters: a survival boundary found adaptively, and a rare event's probability.

First, where in (semi-major axis, eccentricity) a LEO spacecraft starting at perigee
stops surviving 10 minutes of drag (GMAT refuses a state inside the Earth: the run
fails). python-adaptive's 2-D learner puts each batch of runs in the triangles the
ok/failed boundary crosses; ``xs.crossings`` says how tightly it is located. ``--n``
sets the adaptive runs, and the runs of each subset level (default 200).

Second, the probability that a dispersed injection's perigee altitude drops below
100 km (or the run fails) within those 10 minutes, by OpenTURNS' subset simulation:
each level a few batches of runs in one sweep. The plot: the sampled plane with its
boundary, and every run's minimum altitude against its semi-major axis with the
subset levels' thresholds.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
from _common import MISSIONS, arguments

import xsweep as xs


def main() -> None:
    args = arguments(__doc__.splitlines()[0], n=200)
    out, n = args.out, args.n
    for name in ("boundary", "rare"):
        shutil.rmtree(out / name, ignore_errors=True)
    # --8<-- [start:adapt]
    plane = {"Sat.SMA": (6450.0, 6800.0), "Sat.ECC": (0.0, 0.04)}
    sweep = xs.adapt(
        MISSIONS / "leo_drag.script",
        plane,
        out=out / "boundary",
        value="ok",  # the boundary between ok and failed runs
        goal=n,  # runs in all
        fixed={"TOF": 600},
        progress=False,
    )
    found = xs.crossings(sweep, plane)  # the edges whose runs fall on either side
    print(f"{sweep.counts}: the boundary is crossed by {len(found)} edges, each at most "
          f"{found['gap'].max():.3f} of the bounds long")  # fmt: skip
    # --8<-- [end:adapt]
    # --8<-- [start:rare]
    low = xs.probability(
        MISSIONS / "leo_drag.script",
        {"Sat.SMA": ("normal", 6650.0, 50.0), "Sat.ECC": ("uniform", 0.0, 0.002)},
        ("Sat.Earth.Altitude_min", "<", 100.0),  # perigee below 100 km...
        failed="event",  # ...or into the Earth (GMAT refuses the run)
        out=out / "rare",
        n=n,  # runs a level (200: 20 Markov chains of 10 steps after the first level)
        derive=[xs.derived.minimum("Sat.Earth.Altitude")],
        fixed={"TOF": 600},
        progress=False,
    )
    lo, hi = low.interval()
    levels = [round(t, 1) for t in low.thresholds]
    print(f"P = {low.estimate:.2e} (95 % interval {lo:.1e}..{hi:.1e}, cv {low.cv:.2f}) "
          f"from {low.runs} runs, levels at {levels} km")  # fmt: skip
    # --8<-- [end:rare]

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    xs.open_sweep(out / "boundary").xsweep.plot.contour("Sat.SMA", "Sat.ECC", ax=left)
    left.plot(found["Sat.SMA"], found["Sat.ECC"], ".", color="#e76f51", markersize=4)
    left.set_title(f"survival boundary: {sweep.manifest.n_runs} adaptive runs")
    rare = xs.open_sweep(out / "rare")
    rare.xsweep.plot.scatter("Sat.SMA", "Sat.Earth.Altitude_min", ax=right)
    for level in low.thresholds:
        right.axhline(level, color="#264653", linewidth=0.8, linestyle="--")
    right.set_title(f"subset simulation: P = {low.estimate:.1e} from {low.runs} runs")
    fig.savefig(out / "asking_where.png", dpi=110)
    print(out / "asking_where.png")


if __name__ == "__main__":
    main()
