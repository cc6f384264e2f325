"""Sequential designs' figures: runs an adaptive boundary and a rare-event estimate save.

Three parts, each printing a table (docs/sequential.md quotes them)::

    python benchmarks/sequential.py boundary   # adaptive against grids, real drag mission
    python benchmarks/sequential.py subset     # subset simulation against Monte Carlo, p = 1e-4
    python benchmarks/sequential.py mission    # subset on a real mission against a large MC

``boundary``: where in (SMA, ECC) a LEO start at perigee survives 10 minutes of drag,
by ``xs.adapt`` at several budgets and by square grids of several sizes, all flown here;
each located to the longest edge its runs put across the boundary (``xs.crossings``).
``subset``: OpenTURNS' subset simulation of the closed form ``u1 + u2 > 3.719 sqrt(2)``
(p = 1.0e-4) over many seeds, with no GMAT run: its actual spread, and the plain Monte
Carlo runs that reach the same coefficient of variation (``(1 - p) / (p cv^2)``).
``mission``: ``xs.probability`` on the drag mission (perigee below 100 km or into the
Earth) at several seeds, against a plain Monte Carlo of ``--mc`` runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import xsweep as xs

HERE = Path(__file__).resolve().parent
DRAG = HERE.parent / "examples" / "missions" / "leo_drag.script"
PLANE = {"Sat.SMA": (6450.0, 6800.0), "Sat.ECC": (0.0, 0.04)}
DISPERSED = {"Sat.SMA": ("normal", 6640.0, 50.0), "Sat.ECC": ("uniform", 0.0, 0.002)}
EVENT = ("Sat.Earth.Altitude_min", "<", 100.0)
LOW = [xs.derived.minimum("Sat.Earth.Altitude")]


def boundary(work: Path, budgets: list[int], sizes: list[int]) -> None:
    """Adaptive runs against grids: the tolerance each reaches, and the runs it took."""
    rows = []
    for goal in budgets:
        started = time.perf_counter()
        sweep = xs.adapt(DRAG, PLANE, out=work / f"a{goal}", goal=goal, fixed={"TOF": 600},
                         progress=False)  # fmt: skip
        gap = float(xs.crossings(sweep, PLANE)["gap"].max())
        rows.append(("adaptive", sweep.manifest.n_runs, gap, time.perf_counter() - started))
    for size in sizes:
        started = time.perf_counter()
        space = xs.grid({f: np.linspace(lo, hi, size) for f, (lo, hi) in PLANE.items()})
        sweep = xs.run(DRAG, space.merge(xs.fixed({"TOF": 600})), out=work / f"g{size}",
                       progress=False)  # fmt: skip
        gap = float(xs.crossings(sweep, PLANE)["gap"].max())
        rows.append((f"grid {size}x{size}", sweep.manifest.n_runs, gap,
                     time.perf_counter() - started))  # fmt: skip
    grids = [(n, g) for kind, n, g, _ in rows if kind != "adaptive"]
    print("| design | runs | tolerance (of the bounds) | wall s | grid runs for it | saving |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, n, gap, wall in rows:
        needed = min((m for m, g in grids if g <= gap), default=None)
        saving = f"{needed / n:.1f}x" if needed and kind == "adaptive" else ""
        shown = f"{needed:,}" if needed and kind == "adaptive" else ("" if kind != "adaptive"
                                                                     else "> largest")  # fmt: skip
        print(f"| {kind} | {n:,} | {gap:.4f} | {wall:.1f} | {shown} | {saving} |")


def subset(seeds: int, n: int) -> None:
    """Subset simulation's actual spread at p = 1e-4, against plain Monte Carlo's."""
    import openturns as ot

    beta = 3.719
    truth = float(ot.Normal(1).computeComplementaryCDF(beta))
    estimates, stated, runs = [], [], []
    for seed in range(seeds):
        model = ot.SymbolicFunction(["u1", "u2"], ["(u1 + u2) / sqrt(2)"])
        ot.RandomGenerator.SetSeed(seed)
        output = ot.CompositeRandomVector(model, ot.RandomVector(ot.Normal(2)))
        algo = ot.SubsetSampling(ot.ThresholdEvent(output, ot.Greater(), beta))
        algo.setConditionalProbability(0.1)
        algo.setBlockSize(n // 10)  # as xs.probability: n * p0 chains, 1 / p0 steps
        algo.setMaximumOuterSampling(10)
        algo.run()
        result = algo.getResult()
        estimates.append(result.getProbabilityEstimate())
        stated.append(result.getCoefficientOfVariation())
        runs.append(algo.getNumberOfSteps() * n if hasattr(algo, "getNumberOfSteps")
                    else len(algo.getThresholdPerStep()) * n)  # fmt: skip
    est = np.asarray(estimates)
    cv = float(est.std(ddof=1) / truth)
    spent = float(np.mean(runs))
    mc = (1 - truth) / (truth * cv**2)
    print("| p | seeds | runs (mean) | mean estimate | actual cv | stated cv (mean) | "
          "MC runs for that cv | saving |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {truth:.2e} | {seeds} | {spent:,.0f} | {est.mean():.3e} | {cv:.2f} | "
          f"{np.mean(stated):.2f} | {mc:,.0f} | {mc / spent:.1f}x |")  # fmt: skip


def mission(work: Path, seeds: int, n: int, mc: int) -> None:
    """``xs.probability`` on the drag mission at several seeds, against plain Monte Carlo."""
    print("| method | seed | runs | estimate | 95 % interval (stated) | wall s |")
    print("| --- | --- | --- | --- | --- | --- |")
    cases = [("monte-carlo", 0, mc)] + [("subset", s, n) for s in range(seeds)]
    for method, seed, size in cases:
        started = time.perf_counter()
        got = xs.probability(DRAG, DISPERSED, EVENT, out=work / f"{method}{seed}",
                             method=method, n=size, seed=seed, derive=LOW, failed="event",
                             fixed={"TOF": 600}, progress=False)  # type: ignore[arg-type]  # fmt: skip
        lo, hi = got.interval()
        print(f"| {method} | {seed} | {got.runs:,} | {got.estimate:.2e} | {lo:.1e}..{hi:.1e} | "
              f"{time.perf_counter() - started:.0f} |", flush=True)  # fmt: skip


def main() -> None:
    """Run the part asked for and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["boundary", "subset", "mission"])
    parser.add_argument("--budgets", default="100,200,400", help="adaptive runs, comma-separated")
    parser.add_argument("--grids", default="10,20,30,40", help="grid sizes per axis")
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--n", type=int, default=1000, help="runs a subset level")
    parser.add_argument("--mc", type=int, default=10_000, help="plain Monte Carlo runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xsweep-seq-") as tmp:
        work = Path(tmp)
        if args.part == "boundary":
            boundary(work, [int(b) for b in args.budgets.split(",")],
                     [int(g) for g in args.grids.split(",")])  # fmt: skip
        elif args.part == "subset":
            subset(args.seeds, args.n)
        else:
            mission(work, args.seeds, args.n, args.mc)


if __name__ == "__main__":
    main()
