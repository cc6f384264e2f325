"""Archive round trip: a sweep packed into one zip, opened without unzipping.

A 5 x 4 grid (semi-major axis x inclination) is run, archived with
``xs.archive``, verified, opened straight from the zip and after ``xs.extract``;
all three Datasets are identical. The plot is the final Z coordinate over the grid,
read from the zip.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir, bundle, copy = out / "archived", out / "archived.zip", out / "extracted"
    for path in (sweep_dir, copy):
        shutil.rmtree(path, ignore_errors=True)
    space = xs.grid(
        {"Sat.SMA": np.linspace(6900.0, 7300.0, 5), "Sat.INC": [0.0, 30.0, 60.0, 90.0]}
    ).merge(xs.fixed({"TOF": 2700}))
    xs.run(MISSIONS / "leo_report.script", space, out=sweep_dir, progress=False)
    # --8<-- [start:archive]
    xs.archive(sweep_dir, out=bundle, overwrite=True)  # deterministic: same sweep, same bytes
    report = xs.verify(bundle)  # every member against MANIFEST.hash
    zipped = xs.open_sweep(bundle)  # lazily, straight from the zip
    xs.extract(bundle, copy)  # safe unpacking; xs.resume(copy) would go on
    unzipped = xs.open_sweep(copy)
    # --8<-- [end:archive]
    original = xs.open_sweep(sweep_dir)
    xr.testing.assert_identical(original.load(), zipped.load())
    xr.testing.assert_identical(original, unzipped.load())
    print(f"verified: {report.ok}, {report.checked} members; zip, extracted and original agree")

    final = zipped.xsweep.final()["Sat.Z"]
    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    final.plot.pcolormesh(ax=ax, x="Sat.SMA", y="Sat.INC", cbar_kwargs={"label": "km"})
    size = bundle.stat().st_size / 1e6
    ax.set_title(f"Final Z, read from {bundle.name} ({size:.1f} MB, verified: {report.ok})")
    fig.savefig(out / "archive_round_trip.png", dpi=120)
    print(out / "archive_round_trip.png")


if __name__ == "__main__":
    main()
