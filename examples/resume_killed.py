"""A killed sweep recovered with resume: nothing finished is lost or rerun.

A 300-run Monte Carlo sweep is started from the shell (``xsweep monte-carlo``)
and its whole process group is SIGKILLed once 150 runs are recorded, as a
batch system killing a job would. ``xs.resume`` then runs only the runs the
manifest lacks. The plot shows when each run ended, by session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import matplotlib.pyplot as plt
import pandas as pd
from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "resume_killed"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:kill]
    command = [sys.executable, "-m", "xsweep", "monte-carlo", str(MISSIONS / "leo_report.script"),
               "--n", "300", "--perturb", "Sat.SMA=normal:7000:5", "--seed", "5",
               "--grid", "TOF=1800", "--out", str(sweep_dir), "--no-progress"]  # fmt: skip
    job = subprocess.Popen(command, start_new_session=True)
    manifest = sweep_dir / "manifest.jsonl"
    while not manifest.exists() or len(manifest.read_bytes().splitlines()) <= 100:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)  # the client, its workers and their GMAT children
    job.wait()
    before = xs.Sweep(sweep_dir).runs()
    print(f"killed: {xs.Sweep(sweep_dir).counts}")

    sweep = xs.resume(sweep_dir, progress=False)  # reruns only what the manifest lacks
    print(f"resumed: {sweep.counts}")
    # --8<-- [end:kill]
    after = sweep.runs()
    # Runs recorded before the kill keep their records: same end time, not rerun.
    kept = after.loc[before.index, "ended"].equals(before["ended"])
    ended = pd.to_datetime(after["ended"])
    t0 = pd.to_datetime(before["started"]).min()
    first = after.index.isin(before.index)

    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    minutes = (ended - t0).dt.total_seconds()
    ax.scatter(after.index[first], minutes[first], s=4, label=f"first session ({first.sum()})")
    ax.scatter(after.index[~first], minutes[~first], s=4, label=f"resume ({(~first).sum()})")
    ax.axhline(minutes[first].max(), color="k", ls=":", lw=1, label="SIGKILL")
    ax.set_xlabel("run id")
    ax.set_ylabel("run ended [s after the start]")
    ax.set_title(f"300-run sweep killed, then resumed: {sweep.counts['ok']} ok, first "
                 f"session's records kept: {kept}")  # fmt: skip
    ax.legend(markerscale=3)
    fig.savefig(out / "resume_killed.png", dpi=120)
    print(out / "resume_killed.png")


if __name__ == "__main__":
    main()
