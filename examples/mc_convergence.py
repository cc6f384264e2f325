"""Monte Carlo convergence: extend a dispersion until its mean final altitude is pinned down.

Injection errors in SMA (sigma 2 km) and inclination (0.05 deg); 64 samples first,
then ``xs.extend_until`` adds batches of 64 until the mean final altitude's 95 %
interval is within 0.05 % of it (or 512 runs). The plot shows the running mean with
that interval and the running 5th/95th percentiles with theirs, as the sample grows.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "mc_convergence"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    # --8<-- [start:run]
    perturb = {"Sat.SMA": ("normal", 7000.0, 2.0), "Sat.INC": ("normal", 28.5, 0.05)}
    space = xs.monte_carlo(64, perturb, seed=11).merge(xs.fixed({"TOF": 5400}))
    # 90-minute flights run in tens of ms: "auto" packs several into each Dask task.
    xs.run(MISSIONS / "leo_report.script", space, out=sweep_dir, runs_per_task="auto",
           progress=False)  # fmt: skip
    sweep = xs.extend_until(sweep_dir, "Sat.Earth.Altitude", rtol=5e-4, batch=64,
                            max_runs=512, progress=False)  # fmt: skip
    final = xs.open_sweep(sweep_dir).xsweep.final()
    c = final.xsweep.convergence("Sat.Earth.Altitude", q=(0.05, 0.95))
    # --8<-- [end:run]
    last = c.isel(n=-1)
    print(f"{sweep.n_runs} runs: mean final altitude {float(last['mean']):.3f} km "
          f"+/- {1.96 * float(last['mean_se']):.3f} (95 %)")  # fmt: skip

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    n = c["n"].values
    ax1.plot(n, c["mean"], color="tab:blue", label="running mean")
    ax1.fill_between(n, c["mean"] - 1.96 * c["mean_se"], c["mean"] + 1.96 * c["mean_se"],
                     color="tab:blue", alpha=0.25, label="95 % interval")  # fmt: skip
    ax1.set_xscale("log")
    ax1.set_xlabel("samples")
    ax1.set_ylabel("final altitude [km]")
    ax1.set_title("Mean")
    ax1.legend()
    for q, colour in ((0.05, "tab:green"), (0.95, "tab:red")):
        one = c.sel(quantile=q)
        ax2.plot(n, one["q_value"], color=colour, label=f"p{q * 100:.0f}")
        ax2.fill_between(n, one["q_lo"], one["q_hi"], color=colour, alpha=0.2)
    ax2.set_xscale("log")
    ax2.set_xlabel("samples")
    ax2.set_ylabel("final altitude [km]")
    ax2.set_title("Percentiles (distribution-free 95 % intervals)")
    ax2.legend()
    fig.savefig(out / "mc_convergence.png", dpi=110)
    print(out / "mc_convergence.png")


if __name__ == "__main__":
    main()
