"""A sweep on object storage: run, grow, open lazily and archive, all by its URL.

The sweep lives at an fsspec URL, not a directory. By default it is a
``file://`` URL under ``--out`` (fsspec's local file system, so this runs
anywhere); set ``XSWEEP_EXAMPLE_URL=s3://bucket/sweeps/orbit`` to put it on S3,
with credentials and endpoint in the usual ``AWS_*`` variables (s3fs reads them;
``pip install 'gmat-xsweep[s3]'``). A 4-point semi-major-axis grid is run, grown
by 2 points with ``xs.extend``, opened lazily from the URL (a label selection
reads only its chunk), and packed into a zip with ``xs.archive``. The plot is
each run's altitude over the orbit, read from the URL.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    url = os.environ.get("XSWEEP_EXAMPLE_URL", f"file://{out}/bucket/sweeps/orbit")
    space = xs.grid({"Sat.SMA": [6900.0, 7000.0, 7100.0, 7200.0]}).merge(xs.fixed({"TOF": 5400.0}))
    # --8<-- [start:cloud]
    sweep = xs.run(MISSIONS / "leo_report.script", space, out=url, progress=False)
    xs.extend(url, grid={"Sat.SMA": [7300.0, 7400.0]}, progress=False)  # 2 new runs only
    ds = xs.open_sweep(url)  # lazily, from the bucket
    one = ds["Sat.Earth.Altitude"].sel({"Sat.SMA": 7100.0}).load()
    bundle = xs.archive(url, out=out / "orbit.zip", overwrite=True)  # local zip of the sweep
    # --8<-- [end:cloud]
    counts = xs.Sweep(url).counts
    print(f"{sweep.path}: {counts}; one run's altitude: {one.count().item()} rows; {bundle}")

    fig, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    alt = ds["Sat.Earth.Altitude"]
    minutes = ds["Sat.ElapsedSecs"] / 60
    for sma in alt["Sat.SMA"].values:
        ax.plot(minutes.sel({"Sat.SMA": sma}), alt.sel({"Sat.SMA": sma}), label=f"{sma:.0f} km")
    ax.set(xlabel="minutes since epoch", ylabel="altitude (km)")
    ax.set_title(f"Altitude of {counts['ok']} runs, read from {url.split('://')[0]}://...")
    ax.legend(title="SMA", fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.savefig(out / "object_store.png", dpi=120)
    print(out / "object_store.png")


if __name__ == "__main__":
    main()
