"""Monte Carlo injection dispersion: where 200 perturbed LEO injections end up.

Injection errors: semi-major axis (sigma 2 km), inclination (0.05 deg) and true
anomaly (0.05 deg), normally distributed. After 90 minutes of flight, the final
altitude's histogram and the final in-plane position's scatter with its 3-sigma
covariance ellipse; the 1st/50th/99th percentiles of altitude over ``sample``.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir
from matplotlib.patches import Ellipse

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "mc_dispersion"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    space = xs.monte_carlo(
        200,
        {
            "Sat.SMA": ("normal", 7000.0, 2.0),
            "Sat.INC": ("normal", 28.5, 0.05),
            "Sat.TA": ("normal", 0.0, 0.05),
        },
        seed=2026,
    )
    space = space.merge(xs.fixed({"TOF": 5400}))
    xs.run(MISSIONS / "leo_report.script", space, out=sweep_dir, progress=False)
    final = xs.open_sweep(sweep_dir).xsweep.final().load()
    percentiles = final["Sat.Earth.Altitude"].quantile([0.01, 0.5, 0.99], dim="sample")
    xy = np.stack([final["Sat.X"].values, final["Sat.Y"].values])
    mean, cov = xy.mean(axis=1), np.cov(xy)
    # --8<-- [end:run]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    ax1.hist(final["Sat.Earth.Altitude"], bins=30, color="tab:blue", alpha=0.8)
    for q, value in zip(percentiles["quantile"].values, percentiles.values, strict=True):
        ax1.axvline(value, color="k", ls="--", lw=1)
        ax1.annotate(f"p{q * 100:.0f}", (value, ax1.get_ylim()[1] * 0.9), fontsize="small")
    ax1.set_xlabel("final altitude [km]")
    ax1.set_ylabel("runs")
    ax1.set_title("Final altitude, 200 runs")
    ax2.scatter(xy[0], xy[1], s=6, alpha=0.6)
    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
    width, height = 2 * 3 * np.sqrt(values[::-1])
    ax2.add_patch(
        Ellipse(
            mean, width, height, angle=angle, fill=False, color="tab:red", lw=2, label="3 sigma"
        )
    )
    inside = _mahalanobis(xy, mean, cov) <= 3.0
    ax2.set_title(f"Final position (X, Y): {inside.mean():.1%} inside 3 sigma")
    ax2.set_xlabel("X [km]")
    ax2.set_ylabel("Y [km]")
    ax2.set_aspect("equal", adjustable="datalim")
    ax2.legend()
    fig.savefig(out / "mc_dispersion.png", dpi=120)
    print(out / "mc_dispersion.png")


def _mahalanobis(xy: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    d = xy - mean[:, None]
    return np.sqrt(np.einsum("ij,ik,kj->j", d, np.linalg.inv(cov), d))


if __name__ == "__main__":
    main()
