"""Bringing a gmat-sweep campaign across: import it, select by label, extend it with its own draws.

An analyst has a seeded Monte Carlo on disk written by gmat-sweep 0.6.0. This example
makes one first (30 runs of the drag mission, SMA and ECC dispersed), with gmat-sweep
itself in its own interpreter, on the embedded GMAT engine through the GMAT root of
``xsweep.testing`` (gmat-sweep only knows desktop installs; ``pip install gmat-sweep``).
Then ``xs.import_sweep`` brings it across without rewriting a file, ``open_sweep``
selects by label, and ``xs.extend`` adds 30 runs drawn by gmat-sweep's own recipe, so
they are the runs ``gmat_sweep.monte_carlo_extend`` would have added. The plot: every
run's altitude, gmat-sweep's runs and xsweep's extension.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from _common import MISSIONS, arguments

import xsweep as xs
from xsweep.testing.gmat_sweep import gmat_sweep_root

GMAT_SWEEP = """
import sys
import gmat_sweep as gs
from gmat_sweep import LocalJoblibPool
perturb = {"Sat.SMA": ("normal", 7000.0, 30.0), "Sat.ECC": ("uniform", 0.0, 0.01)}
with LocalJoblibPool(max_workers=2) as pool:
    gs.monte_carlo(sys.argv[1], n=int(sys.argv[2]), perturb=perturb, seed=2026, backend=pool,
                   out=sys.argv[3], progress=False)
"""


def make_gmat_sweep(out: Path, n: int) -> Path:
    """Run a seeded gmat-sweep Monte Carlo into ``out/gs`` (gmat-sweep's own interpreter)."""
    try:
        import gmat_sweep  # noqa: F401
    except ImportError:
        sys.exit("this example makes a gmat-sweep sweep first: pip install gmat-sweep==0.6.0")
    root = gmat_sweep_root(out / "gmat-root")
    argv = [sys.executable, "-c", GMAT_SWEEP, str(MISSIONS / "leo_drag.script"), str(n),
            str(out / "gs")]  # fmt: skip
    subprocess.run(argv, env={**os.environ, "GMAT_ROOT": str(root)}, check=True, timeout=600)
    return out / "gs"


def main() -> None:
    args = arguments(__doc__.splitlines()[0], n=30)
    out, n = args.out, args.n
    for name in ("gs", "xs"):
        shutil.rmtree(out / name, ignore_errors=True)
    src = make_gmat_sweep(out, n)
    # --8<-- [start:import]
    sweep = xs.import_sweep(src, out=out / "xs", script=MISSIONS / "leo_drag.script")
    print(sweep.manifest.header["imported"]["space"], sweep.counts)
    xs.extend(sweep.path, n, progress=False)  # gmat-sweep's own draws, continued
    ds = xs.open_sweep(sweep.path)
    first = ds.sel(sample=0)  # gmat-sweep's run 0, by its label
    print(f"run 0: SMA {float(first['Sat.SMA']):.3f} km, lowest altitude "
          f"{float(first['Sat.Earth.Altitude'].min()):.3f} km")  # fmt: skip
    # --8<-- [end:import]

    fig, ax = plt.subplots(figsize=(8, 4.2), layout="constrained")
    minutes = ds["elapsed_s"] / 60.0
    for sample in ds["sample"].values:
        run = ds.sel(sample=sample)
        theirs = sample < n
        ax.plot(minutes.sel(sample=sample), run["Sat.Earth.Altitude"], linewidth=0.8,
                color="#264653" if theirs else "#e76f51", alpha=0.8,
                label=None if sample not in (0, n) else
                ("gmat-sweep's runs" if theirs else "xs.extend: gmat-sweep's draws"))  # fmt: skip
    ax.set_xlabel("minutes since epoch")
    ax.set_ylabel("altitude (km)")
    ax.legend(loc="upper right")
    ax.set_title(f"{n} runs imported from gmat-sweep, {n} more drawn as it draws them")
    assert np.isfinite(ds["Sat.Earth.Altitude"].values).any()
    fig.savefig(out / "importing.png", dpi=110)
    print(out / "importing.png")


if __name__ == "__main__":
    main()
