"""Watching a running sweep: the store fills in block by block while runs finish.

A 400-run grid is started from the shell; meanwhile this process opens the
sweep every half second with ``xs.open_sweep`` and counts the runs the store
shows as done, next to the runs the manifest has recorded. The store lags the
manifest by at most one block (here one inclination's 100 runs) and catches up at
the end.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import matplotlib.pyplot as plt
from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "watch_live"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    command = [sys.executable, "-m", "xsweep", "run", str(MISSIONS / "leo_report.script"),
               "--grid", "TOF=600", "--grid", "Sat.INC=0:90:4",
               "--grid", "Sat.SMA=6800:7800:100", "--out", str(sweep_dir),
               "--no-progress"]  # fmt: skip
    job = subprocess.Popen(command)
    seen: list[tuple[float, int, int]] = []
    start = time.monotonic()
    # --8<-- [start:watch]
    while job.poll() is None:
        time.sleep(0.5)
        try:
            ds = xs.open_sweep(sweep_dir)  # a consistent view, even mid-sweep
        except xs.XsweepError:
            continue  # not created yet
        in_store = int((ds["status"] == 1).sum())  # blocks written so far
        in_manifest = xs.Sweep(sweep_dir).counts["ok"]  # runs recorded so far
        seen.append((time.monotonic() - start, in_manifest, in_store))
    # --8<-- [end:watch]
    final = int((xs.open_sweep(sweep_dir)["status"] == 1).sum())
    seen.append((time.monotonic() - start, xs.Sweep(sweep_dir).counts["ok"], final))

    t, manifest, store = zip(*seen, strict=True)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    ax.step(t, manifest, where="post", label="recorded in the manifest")
    ax.step(t, store, where="post", label="visible in sweep.zarr (open_sweep)")
    ax.set_xlabel("seconds since launch")
    ax.set_ylabel("runs done")
    ax.set_title(f"Watching a 400-run sweep: {final} runs in the store at the end")
    ax.legend()
    fig.savefig(out / "watch_live.png", dpi=120)
    print(out / "watch_live.png")


if __name__ == "__main__":
    main()
