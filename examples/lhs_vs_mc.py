"""Latin hypercube vs Monte Carlo: how 40 samples cover a 2-D space.

Both sweeps draw semi-major axis (uniform 6800-7600 km) and inclination
(uniform 0-90 deg), 40 runs each, and fly 30 minutes. A Latin hypercube puts
exactly one sample in every 1/40 slice of each axis; Monte Carlo leaves some
slices empty and doubles up others. Points are coloured by the final Z.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir

import xsweep as xs

N = 40
PERTURB = {"Sat.SMA": ("uniform", 6800.0, 7600.0), "Sat.INC": ("uniform", 0.0, 90.0)}


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    finals = {}
    for name, make in (("Monte Carlo", xs.monte_carlo), ("Latin hypercube", xs.latin_hypercube)):
        sweep_dir = out / f"coverage-{make.__name__}"
        shutil.rmtree(sweep_dir, ignore_errors=True)
        # --8<-- [start:run]
        space = make(N, PERTURB, seed=11).merge(xs.fixed({"TOF": 1800}))
        xs.run(MISSIONS / "leo_report.script", space, out=sweep_dir, progress=False)
        finals[name] = xs.open_sweep(sweep_dir).xsweep.final().load()
        # --8<-- [end:run]

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained", sharey=True)
    for ax, (name, final) in zip(axes, finals.items(), strict=True):
        sma, inc = final["Sat.SMA"].values, final["Sat.INC"].values
        empty = _empty_slices(sma, 6800.0, 7600.0) + _empty_slices(inc, 0.0, 90.0)
        points = ax.scatter(sma, inc, c=final["Sat.Z"], cmap="coolwarm", s=25)
        for edge in np.linspace(6800.0, 7600.0, N + 1):
            ax.axvline(edge, color="0.9", lw=0.5, zorder=0)
        for edge in np.linspace(0.0, 90.0, N + 1):
            ax.axhline(edge, color="0.9", lw=0.5, zorder=0)
        ax.set_title(f"{name}: {empty} of {2 * N} axis slices empty")
        ax.set_xlabel("Sat.SMA [km]")
    axes[0].set_ylabel("Sat.INC [deg]")
    fig.colorbar(points, ax=axes, label="final Z [km]")
    fig.savefig(out / "lhs_vs_mc.png", dpi=120)
    print(out / "lhs_vs_mc.png")


def _empty_slices(values: np.ndarray, lo: float, hi: float) -> int:
    counts, _ = np.histogram(values, bins=N, range=(lo, hi))
    return int((counts == 0).sum())


if __name__ == "__main__":
    main()
