"""Correlated vs independent dispersions: one covariance, drawn jointly or field by field.

An injection error whose SMA and inclination errors are correlated (rho = 0.8, as an
orbit-determination covariance gives them) is drawn twice, 120 samples each: jointly
from the full covariance (``("mvnormal", mean, cov)``), and independently from its
diagonal, the i.i.d. shortcut. The left panel shows the drawn errors with the two
3-sigma ellipses; the right, where the runs end after 90 minutes: the final altitude
against the final Z, whose spread the correlation changes.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir
from matplotlib.patches import Ellipse

import xsweep as xs

MEAN = [7000.0, 28.5]
COV = np.array([[4.0, 0.16], [0.16, 0.01]])  # km^2, km deg, deg^2: sigma 2 km, 0.1 deg


def ellipse(cov: np.ndarray, **kwargs: object) -> Ellipse:
    """Return the 3-sigma ellipse of ``cov`` around the mean."""
    w, v = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(v[1, -1], v[0, -1]))
    return Ellipse(MEAN, *(6 * np.sqrt(w[::-1])), angle=angle, fill=False, **kwargs)


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    finals = {}
    draws = {}
    for name in ("joint", "independent"):
        sweep_dir = out / f"dispersion_{name}"
        shutil.rmtree(sweep_dir, ignore_errors=True)
        # --8<-- [start:run]
        if name == "joint":
            perturb = {("Sat.SMA", "Sat.INC"): ("mvnormal", MEAN, COV)}
        else:
            sigma = np.sqrt(np.diag(COV))
            perturb = {"Sat.SMA": ("normal", MEAN[0], sigma[0]),
                       "Sat.INC": ("normal", MEAN[1], sigma[1])}  # fmt: skip
        space = xs.monte_carlo(120, perturb, seed=2026).merge(xs.fixed({"TOF": 5400}))
        xs.run(MISSIONS / "leo_report.script", space, out=sweep_dir, progress=False)
        # --8<-- [end:run]
        draws[name] = space
        finals[name] = xs.open_sweep(sweep_dir).xsweep.final().load()
        rho = np.corrcoef(space["Sat.SMA"], space["Sat.INC"])[0, 1]
        spread = float(finals[name]["Sat.Z"].std())
        print(f"{name}: drawn correlation {rho:+.2f}, final Z spread {spread:.2f} km (1 sigma)")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    colours = {"joint": "tab:blue", "independent": "tab:orange"}
    for name, space in draws.items():
        ax1.scatter(space["Sat.SMA"], space["Sat.INC"], s=8, alpha=0.5, color=colours[name],
                    label=f"{name} draws")  # fmt: skip
        f = finals[name]
        ax2.scatter(f["Sat.Earth.Altitude"], f["Sat.Z"], s=8, alpha=0.5, color=colours[name],
                    label=name)  # fmt: skip
    ax1.add_patch(ellipse(COV, color="tab:blue", lw=2, label="3-sigma, full cov"))
    ax1.add_patch(ellipse(np.diag(np.diag(COV)), color="tab:orange", lw=2, ls="--",
                          label="3-sigma, diagonal only"))  # fmt: skip
    ax1.set_xlabel("initial SMA [km]")
    ax1.set_ylabel("initial INC [deg]")
    ax1.set_title("Injection errors, 120 draws each")
    ax1.legend(fontsize="small")
    ax2.set_xlabel("final altitude [km]")
    ax2.set_ylabel("final Z [km]")
    ax2.set_title("After 90 minutes")
    ax2.legend(fontsize="small")
    fig.savefig(out / "correlated_dispersion.png", dpi=110)
    print(out / "correlated_dispersion.png")


if __name__ == "__main__":
    main()
