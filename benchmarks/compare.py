"""Side-by-side throughput: the physical limit, xsweep and gmat-sweep 0.6.0.

Every contender runs the same mission and the same N points in a fresh
interpreter (so its client peak RSS is its own), in an order that alternates
across repeats; the table shows medians. Contenders:

- ``raw``: GMAT alone. ``--workers`` spawned processes, each with one warm
  embedded engine, looping over their share of the runs: load the script, set
  the fields, run GMAT; the report is never parsed.
- ``limit``: the physical limit of stock GMAT: the same loop, and gmat-run
  parses the report into a DataFrame. No Parquet, no manifest, no scheduler.
  ``raw`` and ``limit`` give GMAT its own text kernels (``XSWEEP_STOCK_KERNELS=1``).
- ``limit-lean``: ``limit`` with the lean text kernels every xsweep engine uses
  (``xsweep.gmat.kernels``): the limit of GMAT as xsweep drives it.
- ``xsweep``: ``xs.run`` end to end with its defaults (plan, embedded Dask
  cluster start, runs, per-run Parquet, fsynced manifest, the Zarr store; short
  runs fused into tasks, ``runs_per_task="auto"``).
- ``xsweep-single``: the same with one Dask task per run (``runs_per_task=1``,
  the default before batching).
- ``xsweep-nostore``: the same with ``consolidate=False`` (no Zarr store): the
  difference is what keeping the store costs.
- ``xsweep-batch8``: the same with ``runs_per_task=8``.
- ``xsweep-stock``: the default with GMAT's own text kernels: the difference
  is what the lean kernels are worth.
- ``xsweep-processes``: the same with worker processes
  (``cluster_kwargs={"processes": True}``) instead of the default worker
  threads; each worker drives a GMAT child process either way.
- ``gmat-sweep``/``gmat-sweep-dask``: ``gmat_sweep.sweep`` with
  ``LocalJoblibPool`` / ``DaskPool``, made to run on the embedded engine by the
  fake GMAT root of ``../shared/bench/make_fake_root.py``. It returns the
  aggregated DataFrame, so its time includes aggregation.

Each contender's CPU is reported per run: in its own process (for xsweep, the
client, the embedded scheduler and the worker threads, imports and start-up
included) and in its child processes (for xsweep, the GMAT children; for
gmat-sweep joblib, its loky workers, which run GMAT themselves).

Aggregation is then measured on its own, in a fresh interpreter on the
sweep just written (imports done before the clock starts): for xsweep,
``open_sweep(...).xsweep.to_dataframe()`` (the store is already built);
for gmat-sweep, ``gmat_sweep.lazy_multiindex`` on its manifest. Both give the
``(run_id, time)`` frame of every run.

Usage::

    python benchmarks/compare.py --mission day --n 200 --workers 2 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MISSION = HERE / "missions" / "leo_day.script"
TOF = {"day": 86400.0, "60s": 60.0}
CONTENDERS = (
    "raw",
    "limit",
    "limit-lean",
    "xsweep",
    "xsweep-single",
    "xsweep-stock",
    "xsweep-nostore",
    "xsweep-batch8",
    "xsweep-processes",
    "gmat-sweep",
    "gmat-sweep-dask",
)


def _sma(n: int) -> list[float]:
    return [6800.0 + 1200.0 * i / max(n - 1, 1) for i in range(n)]


# --- contenders (each runs in its own interpreter) ---------------------------

_ENGINE = None


def _limit_init() -> None:
    global _ENGINE
    from xsweep.gmat.engine import get_engine

    _ENGINE = get_engine("embedded")


def _limit_run(args: tuple[float, float, str, bool]) -> int:
    sma, tof, work, parse = args
    assert _ENGINE is not None
    mission = _ENGINE.load(MISSION)
    mission["Sat.SMA"] = sma
    mission["TOF.Value"] = tof
    result = mission.run(working_dir=Path(work) / f"{os.getpid()}", overwrite=True)
    if not parse:
        return 1
    return len(result.reports["RF"])


def run_limit(n: int, tof: float, workers: int, work: Path, parse: bool = True) -> None:
    """Run the bare loop on ``workers`` spawned processes, one warm engine each."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("spawn")
    jobs = [(s, tof, str(work), parse) for s in _sma(n)]
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_limit_init) as pool:
        rows = list(pool.map(_limit_run, jobs, chunksize=1))
    assert len(rows) == n
    assert all(r > 0 for r in rows)


def run_xsweep(
    n: int,
    tof: float,
    workers: int,
    work: Path,
    per_task: int | str = "auto",
    store: bool = True,
    processes: bool = False,
) -> None:
    """Run ``xs.run`` end to end on an embedded cluster."""
    import xsweep as xs

    space = xs.samples({"Sat.SMA": _sma(n), "TOF": [tof] * n})
    sweep = xs.run(
        MISSION,
        space,
        out=work / "sweep",
        workers=workers,
        progress=False,
        runs_per_task=per_task,
        consolidate=store,
        cluster_kwargs={"processes": True} if processes else None,
    )
    assert sweep.counts["ok"] == n, sweep.counts


def run_gmat_sweep(n: int, tof: float, workers: int, work: Path, dask: bool = False) -> None:
    """Run ``gmat_sweep.sweep`` with its joblib (or Dask) pool."""
    from gmat_sweep import sweep

    if dask:
        from gmat_sweep.backends.dask import DaskPool

        pool = DaskPool(n_workers=workers)
    else:
        from gmat_sweep import LocalJoblibPool

        pool = LocalJoblibPool(max_workers=workers)
    with pool:
        df = sweep(
            MISSION,
            grid={"Sat.SMA": _sma(n), "TOF.Value": [tof]},
            backend=pool,
            out=work / "gs",
            progress=False,
        )
    ok = df.reset_index().drop_duplicates("run_id")["__status"].eq("ok").sum()
    assert ok == n, ok


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _one(contender: str, mission: str, n: int, workers: int, work: Path) -> dict[str, float]:
    tof = TOF[mission]
    t0 = time.perf_counter()
    if contender == "raw":
        run_limit(n, tof, workers, work, parse=False)
    elif contender in ("limit", "limit-lean"):
        run_limit(n, tof, workers, work)
    elif contender in ("xsweep", "xsweep-stock"):
        run_xsweep(n, tof, workers, work)
    elif contender == "xsweep-nostore":
        run_xsweep(n, tof, workers, work, store=False)
    elif contender == "xsweep-single":
        run_xsweep(n, tof, workers, work, per_task=1)
    elif contender == "xsweep-batch8":
        run_xsweep(n, tof, workers, work, per_task=8)
    elif contender == "xsweep-processes":
        run_xsweep(n, tof, workers, work, processes=True)
    else:
        run_gmat_sweep(n, tof, workers, work, dask=contender == "gmat-sweep-dask")
    wall = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # exited children, waited for
    return {
        "wall_s": wall,
        "runs_per_s": n / wall,
        "client_rss_mb": _rss_mb(),
        # This process's CPU (for xsweep: the client, the scheduler and the worker
        # threads, imports included) and its children's (xsweep: the GMAT children).
        "self_cpu_ms_per_run": 1e3 * (own.ru_utime + own.ru_stime) / n,
        "children_cpu_ms_per_run": 1e3 * (kids.ru_utime + kids.ru_stime) / n,
    }


# Aggregation of the sweep a contender just wrote, by the contender's own means.
AGGREGATES = ("xsweep", "gmat-sweep")


def _aggregate(contender: str, work: Path) -> dict[str, float]:
    import psutil

    if contender == "xsweep":
        # Imports, like gmat-sweep's below, are not timed: the libraries and the
        # xsweep modules that open a sweep and flatten it.
        import dask.array  # noqa: F401
        import xarray  # noqa: F401
        import zarr  # noqa: F401

        import xsweep as xs
        from xsweep.analysis import tables as _analysis  # noqa: F401
        from xsweep.store import open as _open  # noqa: F401

        before = psutil.Process().memory_info().rss / 2**20
        t0 = time.perf_counter()
        df = xs.open_sweep(work / "sweep").xsweep.to_dataframe()
    else:
        from gmat_sweep.aggregate import lazy_multiindex
        from gmat_sweep.manifest import Manifest

        before = psutil.Process().memory_info().rss / 2**20
        t0 = time.perf_counter()
        df = lazy_multiindex(Manifest.load(work / "gs" / "manifest.jsonl"), work / "gs")
    seconds = time.perf_counter() - t0
    assert len(df) > 0
    peak = _rss_mb()
    return {
        "agg_s": seconds,
        "agg_rss_mb": peak,
        "agg_growth_mb": peak - before,
        "agg_rows": float(len(df)),
    }


# --- driver ------------------------------------------------------------------


def _fake_root(bench_dir: Path) -> Path | None:
    maker = bench_dir / "make_fake_root.py"
    if not maker.is_file():
        return None
    root = Path(tempfile.gettempdir()) / "xsweep-bench-fake-gmat-root"
    if not (root / "api" / "load_gmat.py").is_file():
        subprocess.run(
            [sys.executable, str(maker), str(root)], check=True, capture_output=True, timeout=300
        )
    return root


# A bound on one contender's process, not a target: N = 2000 takes a minute or two.
CHILD_LIMIT_S = 3600

# Contenders that give GMAT its own text kernels (xsweep.gmat.kernels.ENV_FLAG).
STOCK_KERNELS = frozenset({"raw", "limit", "xsweep-stock"})


def _child(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    what = " ".join(cmd[2:4])
    try:
        proc = subprocess.run(
            cmd, env=env, capture_output=True, text=True, check=False, timeout=CHILD_LIMIT_S
        )
    except subprocess.TimeoutExpired as exc:
        raise SystemExit(f"{what} took over {CHILD_LIMIT_S} s") from exc
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure every contender, alternating order, and print the table of medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mission", choices=sorted(TOF), default="day")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument(
        "--bench-dir",
        type=Path,
        default=HERE.parent.parent / "shared" / "bench",
        help="the gmat-sweep harness (make_fake_root.py); default ../shared/bench",
    )
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--_one", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--_agg", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        contender, mission, n, workers, work = args._one
        print(json.dumps(_one(contender, mission, int(n), int(workers), Path(work))))
        return 0
    if args._agg:
        print(json.dumps(_aggregate(args._agg[0], Path(args._agg[1]))))
        return 0

    env = dict(os.environ)
    contenders = list(args.only)
    if any(c.startswith("gmat-sweep") for c in contenders):
        try:
            import gmat_sweep  # noqa: F401
        except ImportError:
            print("gmat-sweep is not installed; skipping it", file=sys.stderr)
            contenders = [c for c in contenders if not c.startswith("gmat-sweep")]
        root = _fake_root(args.bench_dir)
        if root is None:
            print(f"no harness at {args.bench_dir}; skipping gmat-sweep", file=sys.stderr)
            contenders = [c for c in contenders if not c.startswith("gmat-sweep")]
        else:
            env["GMAT_ROOT"] = str(root)
    results: dict[str, list[dict[str, float]]] = {c: [] for c in contenders}
    for rep in range(args.repeats):
        order = contenders if rep % 2 == 0 else contenders[::-1]
        for contender in order:
            with tempfile.TemporaryDirectory(prefix="xsweep-bench-") as work:
                cmd = [sys.executable, __file__, "--_one", contender, args.mission]
                cmd += [str(args.n), str(args.workers), work]
                stock = {"XSWEEP_STOCK_KERNELS": "1" if contender in STOCK_KERNELS else "0"}
                r = _child(cmd, env | stock)
                if contender in AGGREGATES:
                    r |= _child([sys.executable, __file__, "--_agg", contender, work], env)
            results[contender].append(r)
            line = f"  repeat {rep + 1} {contender:16s} {r['runs_per_s']:7.2f} runs/s"
            if "agg_s" in r:
                line += f", aggregation {r['agg_s']:.2f} s, {r['agg_rss_mb']:.0f} MB"
            print(line, flush=True)

    med = {c: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for c, rs in results.items()}
    limit = med.get("limit", {}).get("runs_per_s")
    gs = med.get("gmat-sweep", {}).get("runs_per_s")
    print(
        f"\nmission={args.mission} N={args.n} workers={args.workers} "
        f"repeats={args.repeats} (medians)\n"
    )
    print(
        "| contender | runs/s | vs limit | xsweep vs it | client peak RSS MB "
        "| CPU/run in the process, ms | CPU/run in its children, ms |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    xs_rate = med.get("xsweep", {}).get("runs_per_s")
    for c, m in med.items():
        vs_limit = f"{m['runs_per_s'] / limit:.2f}" if limit else "-"
        vs_xs = f"{xs_rate / m['runs_per_s']:.2f}x" if xs_rate and c != "xsweep" else "-"
        print(
            f"| {c} | {m['runs_per_s']:.2f} | {vs_limit} | {vs_xs} | {m['client_rss_mb']:.0f} "
            f"| {m['self_cpu_ms_per_run']:.1f} | {m['children_cpu_ms_per_run']:.1f} |"
        )
    if gs and xs_rate:
        print(f"\nxsweep / gmat-sweep (joblib): {xs_rate / gs:.2f}")
    lean = med.get("limit-lean", {}).get("runs_per_s")
    if lean and xs_rate:
        print(f"xsweep / limit-lean (GMAT as xsweep drives it): {xs_rate / lean:.2f}")
    aggs = {c: m for c, m in med.items() if "agg_s" in m}
    if aggs:
        print("\n| aggregation | seconds | peak RSS MB | RSS growth MB | rows |")
        print("| --- | --- | --- | --- | --- |")
        for c, m in aggs.items():
            how = "to_dataframe()" if c == "xsweep" else "lazy_multiindex"
            print(
                f"| {c} {how} | {m['agg_s']:.3f} | {m['agg_rss_mb']:.0f} "
                f"| {m['agg_growth_mb']:.0f} | {m['agg_rows']:.0f} |"
            )
        if len(aggs) == 2:
            a, b = aggs["xsweep"], aggs["gmat-sweep"]
            print(
                f"\nxsweep aggregation: {b['agg_s'] / a['agg_s']:.2f}x faster; peak RSS "
                f"{a['agg_rss_mb'] / b['agg_rss_mb']:.2f} of gmat-sweep's, growth "
                f"{a['agg_growth_mb']:.0f} MB vs {b['agg_growth_mb']:.0f} MB"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"bench_dir": str(args.bench_dir), "json": str(args.json)},
                    "runs": results,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
