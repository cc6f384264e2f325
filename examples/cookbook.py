"""Analysis cookbook: label slicing, groupby over a grid axis, DataFrames.

Runs a small 3 x 3 x 2 grid of the LEO report mission and prints the results of
the selections the cookbook page shows (docs/cookbook.md includes this file's
sections, so the page's code is the code that runs here).
"""

from __future__ import annotations

import shutil

from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "cookbook"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    space = xs.grid(
        {"Sat.SMA": [6900.0, 7100.0, 7300.0], "Sat.INC": [28.5, 51.6, 98.0], "TOF": [600, 1200]}
    )
    xs.run(MISSIONS / "leo_report.script", space, out=sweep_dir, progress=False)
    # --8<-- [start:select]
    ds = xs.open_sweep(sweep_dir)  # lazy; parameters are coordinates
    one = ds["Sat.Earth.Altitude"].sel({"Sat.SMA": 7100.0, "Sat.INC": 51.6, "TOF": 1200})
    near = ds.sel({"Sat.SMA": 7050.0}, method="nearest")  # the closest grid value
    high = ds.where(ds["Sat.SMA"] > 7000.0, drop=True)  # a condition on a coordinate
    ok = ds.where((ds["status"] == 1).compute(), drop=True)  # lazy flags: compute them first
    # --8<-- [end:select]
    print(one.sizes, float(near["Sat.SMA"]), high.sizes["Sat.SMA"], ok.sizes["Sat.INC"])
    # --8<-- [start:groupby]
    final = ds.xsweep.final()  # each run's last row (runs differ in length)
    by_inc = final["Sat.Z"].groupby("Sat.INC").max(...)  # over every other dim
    spread = final["Sat.Earth.Altitude"].max("Sat.INC") - final["Sat.Earth.Altitude"].min("Sat.INC")
    # --8<-- [end:groupby]
    print(by_inc.values.round(1).tolist(), float(spread.max()))
    # --8<-- [start:frame]
    frame = ds.xsweep.to_dataframe()  # gmat-sweep's shape: index (run_id, time)
    per_run = frame.groupby(level="run_id")["Sat.Earth.Altitude"].last()
    runs = xs.Sweep(sweep_dir).runs()  # the run table: status, reason, timing, parameters
    # --8<-- [end:frame]
    print(len(frame), per_run.size, runs["status"].value_counts().to_dict())


if __name__ == "__main__":
    main()
