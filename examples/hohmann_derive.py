"""Derived quantities: final SMA and total delta-V of a targeted Hohmann transfer.

A grid of initial SMA (three LEO altitudes) crossed with a Monte Carlo of
execution errors: ERR, an extra along-track impulse right after the
circularisation burn, normal with a 2 m/s sigma. Each run's final SMA and total
delta-V are derived as it finishes (one number each per run, over the
parameter dims), plus a function of our own: the miss of the target radius.
The plot shows the final SMA's spread against the initial SMA and the miss
against the delta-V spent.
"""

from __future__ import annotations

import shutil
from typing import Any

import matplotlib.pyplot as plt
from _common import MISSIONS, out_dir

import xsweep as xs


# --8<-- [start:fn]
def miss(outputs: Any, params: Any) -> dict[str, Any]:
    """How far the final orbit's SMA is from the targeted radius (8000 km)."""
    sma = outputs["RF"]["Sat.Earth.SMA"].iloc[-1]
    return {"miss_km": xs.Quantity(float(sma) - 8000.0, "km", "final SMA minus target")}


# --8<-- [end:fn]


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "hohmann_derive"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    space = xs.grid({"Sat.SMA": [6800.0, 7000.0, 7200.0]}).merge(
        xs.monte_carlo(20, {"ERR.Element1": ("normal", 0.0, 0.002)}, seed=7)
    )
    sweep = xs.run(
        MISSIONS / "hohmann_errors.script",
        space,
        out=sweep_dir,
        progress=False,
        derive=[
            xs.derived.final("RF", ["Sat.Earth.SMA"]),  # Sat.Earth.SMA_final
            xs.derived.delta_v("RF"),  # delta_v_total, TOI.delta_v, GOI.delta_v, ERR.delta_v
            miss,
        ],
    )
    ds = xs.open_sweep(sweep_dir)
    spread = ds["Sat.Earth.SMA_final"].std("sample").compute()
    # --8<-- [end:run]
    print(sweep)
    print(f"derived values: {sweep.derive_counts}")
    for sma, sigma in zip(spread["Sat.SMA"].values, spread.values, strict=True):
        print(f"initial SMA {sma:.0f} km: final SMA spread {sigma:.2f} km (1 sigma)")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    for sma in ds["Sat.SMA"].values:
        one = ds.sel({"Sat.SMA": sma})
        ax1.scatter([sma] * one.sizes["sample"], one["Sat.Earth.SMA_final"], s=12, alpha=0.6)
        ax2.scatter(one["delta_v_total"] * 1000, one["miss_km"], s=12, label=f"{sma:.0f} km")
    ax1.set_xlabel("initial SMA [km]")
    ax1.set_ylabel("final SMA [km]")
    ax1.set_title("Final SMA, 20 execution errors per point")
    ax2.set_xlabel("total delta-V [m/s]")
    ax2.set_ylabel("miss of the 8000 km target [km]")
    ax2.legend(title="initial SMA", loc="center right")
    fig.savefig(out / "hohmann_derive.png", dpi=110)
    print(out / "hohmann_derive.png")


if __name__ == "__main__":
    main()
