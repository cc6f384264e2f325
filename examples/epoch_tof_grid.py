"""Epoch x time-of-flight grid: where a LEO's ground track ends, relative to a station.

Sweeps the ground-track mission over 12 epochs (every 2 hours, one day) and 12
flight times (10 to 120 minutes): 144 runs. The final sub-satellite point is
compared with a ground station (Wallops); the contour is the great-circle
distance between them, a "miss distance" over the 2-D grid.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from _common import MISSIONS, out_dir

import xsweep as xs

STATION = (37.94, -75.46)  # Wallops Flight Facility: latitude, longitude [deg]
EARTH_RADIUS = 6378.137  # km


def great_circle(lat: xr.DataArray, lon: xr.DataArray) -> xr.DataArray:
    """Distance [km] from the station along the Earth's surface (haversine)."""
    p1, p2 = np.radians(lat), np.radians(STATION[0])
    dlon = np.radians(lon - STATION[1])
    h = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS * np.arcsin(np.sqrt(h))


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "epoch_tof"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    epochs = pd.date_range("2026-01-01T00:00", periods=12, freq="2h")
    space = xs.grid({"Sat.Epoch": epochs, "TOF": np.arange(600, 7201, 600)})
    xs.run(MISSIONS / "groundtrack.script", space, out=sweep_dir, progress=False)
    ds = xs.open_sweep(sweep_dir)
    final = ds.xsweep.final()  # every run's own last row (runs differ in length)
    miss = great_circle(final["Sat.Earth.Latitude"], final["Sat.Earth.Longitude"])
    # --8<-- [end:run]

    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    hours = (miss["Sat.Epoch"] - miss["Sat.Epoch"][0]) / np.timedelta64(1, "h")
    filled = ax.contourf(miss["TOF"] / 60.0, hours, miss.values, levels=15, cmap="viridis")
    ax.contour(miss["TOF"] / 60.0, hours, miss.values, levels=[2000.0], colors="white")
    fig.colorbar(filled, ax=ax, label="distance from Wallops at the end [km]")
    ax.set_xlabel("time of flight [min]")
    ax.set_ylabel("epoch [h after 2026-01-01 00:00 UTC]")
    ax.set_title("Final sub-satellite point vs Wallops (white: 2000 km)")
    fig.savefig(out / "epoch_tof_grid.png", dpi=120)
    print(out / "epoch_tof_grid.png")


if __name__ == "__main__":
    main()
