"""A state covariance in RIC, drawn around the script's nominal state and flown one orbit.

Orbit determination hands over a covariance in the spacecraft's radial / in-track /
cross-track frame: here 100 m radial, 1 km in-track and 50 m cross-track, with
velocity errors of 0.1, 1 and 0.1 m/s and the radial position coupled to the in-track
velocity (rho = -0.5). ``xs.state_block`` reads the nominal state from the script (GMAT
converts its Keplerian elements), rotates the covariance into EarthMJ2000Eq and returns
the block that ``xs.monte_carlo`` draws. After one orbit the in-track spread has grown
from 1 km to tens of km (a velocity error changes the period), while the radial and
cross-track spreads stay small. The plot shows the drawn and final RIC offsets.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, out_dir

import xsweep as xs

SCRIPT = MISSIONS / "leo_state.script"
SIGMA = np.array([0.1, 1.0, 0.05, 1e-4, 1e-3, 1e-4])  # km, km/s
COV_RIC = np.diag(SIGMA**2)
COV_RIC[0, 4] = COV_RIC[4, 0] = -0.5 * SIGMA[0] * SIGMA[4]


def ric_offsets(states: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Return the position offsets of ``states`` from ``reference`` along its RIC axes."""
    r, v = reference[:3], reference[3:]
    radial = r / np.linalg.norm(r)
    cross = np.cross(r, v) / np.linalg.norm(np.cross(r, v))
    axes = np.stack([radial, np.cross(cross, radial), cross], axis=1)
    return (states[:, :3] - r) @ axes


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "ric_dispersion"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    block = xs.state_block(SCRIPT, "Sat", COV_RIC, frame="RIC")
    ((fields, (_, nominal, _)),) = block.items()
    space = xs.monte_carlo(64, block, seed=2026)
    xs.run(SCRIPT, space, out=sweep_dir, progress=False)
    final = xs.open_sweep(sweep_dir).xsweep.final().load()
    # --8<-- [end:run]
    drawn = np.stack([space[f].values for f in fields], axis=1)
    ended = np.stack([final[f"report_{f}"].values for f in fields], axis=1)
    before = ric_offsets(drawn, nominal)
    after = ric_offsets(ended, ended.mean(axis=0))
    for name, offsets in (("drawn", before), ("after one orbit", after)):
        r, i, c = offsets.std(axis=0)
        print(f"{name}: 1-sigma radial {r:.3f} km, in-track {i:.3f} km, cross-track {c:.3f} km")

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
    for ax, offsets, title in ((axes[0], before, "Drawn (epoch)"),
                               (axes[1], after, "After one orbit")):  # fmt: skip
        ax.scatter(offsets[:, 1], offsets[:, 0], s=10, alpha=0.6, label="radial")
        ax.scatter(offsets[:, 1], offsets[:, 2], s=10, alpha=0.6, label="cross-track")
        ax.set_xlabel("in-track offset [km]")
        ax.set_ylabel("radial / cross-track offset [km]")
        ax.set_title(f"{title}, 64 draws")
        ax.legend(fontsize="small")
    fig.savefig(out / "ric_dispersion.png", dpi=110)
    print(out / "ric_dispersion.png")


if __name__ == "__main__":
    main()
