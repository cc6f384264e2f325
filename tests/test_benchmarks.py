"""Every asv benchmark runs once, with quick parameters, as an ordinary test.

So the suites under ``benchmarks/`` cannot go stale: a renamed function or a
broken set-up fails here, not months later in ``asv run``.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _helpers import ROOT

os.environ["XSWEEP_BENCH_QUICK"] = "1"  # read when the suites are imported

MODULES = [
    "bench_plan",
    "bench_manifest",
    "bench_run",
    "bench_sweep",
    "bench_store",
    "bench_derive",
    "bench_scale",
]
PREFIXES = ("time_", "peakmem_", "mem_", "track_")


def _cases() -> Iterator[Any]:
    for name in MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            params = getattr(cls, "params", ((),))
            combos = list(itertools.product(*params)) if params != ((),) else [()]
            methods = [m for m in dir(cls) if m.startswith(PREFIXES)]
            for combo in combos:
                marks = (
                    [pytest.mark.gmat, pytest.mark.slow]
                    if name in ("bench_run", "bench_sweep", "bench_derive", "bench_scale")
                    else []
                )
                yield pytest.param(
                    cls, methods, combo, id=f"{name}.{cls_name}{list(combo)}", marks=marks
                )


@pytest.mark.parametrize(("cls", "methods", "combo"), list(_cases()))
def test_benchmark_runs(cls: type, methods: list[str], combo: tuple[Any, ...]) -> None:
    assert methods, f"{cls.__name__} has no benchmarks"
    bench = cls()
    bench.setup(*combo)
    try:
        for method in methods:
            result = getattr(bench, method)(*combo)
            if method.startswith("track_"):
                assert isinstance(result, float)
                assert result > 0
    finally:
        if hasattr(bench, "teardown"):
            bench.teardown(*combo)


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the side-by-side scripts of ``benchmarks/``; it must succeed."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.gmat
@pytest.mark.slow
def test_compare_runs_its_gmat_contenders(tmp_path: Path) -> None:
    """``benchmarks/compare.py`` end to end on a few runs (gmat-sweep is not installed in CI)."""
    out = tmp_path / "compare.json"
    only = ["raw", "limit", "limit-lean", "xsweep", "xsweep-single", "xsweep-stock"]
    args = ["--mission", "60s", "--n", "4", "--repeats", "1", "--json", str(out)]
    proc = _script("compare.py", *args, "--only", *only)
    runs = json.loads(out.read_text())["runs"]
    assert sorted(runs) == sorted(only)
    assert all(r[0]["runs_per_s"] > 0 for r in runs.values())
    # xsweep's GMAT runs in child processes, the limit's in its pool's: both have CPU there.
    assert runs["xsweep"][0]["children_cpu_ms_per_run"] > 0
    assert runs["limit"][0]["children_cpu_ms_per_run"] > 0
    assert "xsweep / limit-lean" in proc.stdout
    assert runs["xsweep"][0]["agg_rows"] == 8  # 4 runs of 2 rows, aggregated


@pytest.mark.gmat
@pytest.mark.slow
def test_one_run_times_the_cli_against_one_run_in_process(tmp_path: Path) -> None:
    """``benchmarks/one_run.py``: each of its three processes ran, and both runs wrote Parquet."""
    out = tmp_path / "one.json"
    args = ["--repeats", "1", "--json", str(out)]
    proc = _script("one_run.py", *args)
    walls = json.loads(out.read_text())["wall_s"]
    assert sorted(walls) == ["cli", "imports", "run_mission"]
    assert all(len(w) == 1 and w[0] > 0 for w in walls.values())
    assert "| cli |" in proc.stdout


@pytest.mark.gmat
@pytest.mark.slow
def test_client_cpu_names_the_threads_of_a_real_sweep_and_dask_s_floor(tmp_path: Path) -> None:
    """``benchmarks/client_cpu.py`` on a few real runs: the event loop and the dispatcher."""
    out = tmp_path / "cpu.json"
    proc = _script("client_cpu.py", "--n", "40", "--json", str(out))
    figures = json.loads(out.read_text())
    threads = figures["sweep"]["ms_per_run"]
    assert threads["IO loop"] > 0
    assert threads["MainThread"] > 0
    assert figures["floor"]["cpu_ms_per_task"] > 0
    assert "Dask's floor" in proc.stdout


@pytest.mark.gmat
@pytest.mark.slow
def test_the_scale_model_runs_a_sweep_without_gmat_and_reports_its_figures() -> None:
    """``benchmarks/scale.py``: one real run as the template, 300 canned ones around it."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.scale import MISSION, run_case

    figures = run_case(300, 1, 2, MISSION)
    assert figures["n"] == 300
    assert figures["runs_per_s"] > 0
    # Each run's line fsynced, alone or with the outcomes that arrived with it.
    assert 0 < figures["fsyncs_per_run"] <= 1.0
    assert figures["store_blocks"] >= 1
    assert figures["rss_peak_mb"] >= figures["rss_start_mb"] > 0
    assert figures["rss_runs_mb"] > 0


@pytest.mark.parametrize("model", ["scale", "node"])
def test_a_model_tabulates_and_plots_its_saved_figures(tmp_path: Path, model: str) -> None:
    """``benchmarks/<model>.py --from ... --plot``: the saved rows of docs/images/<model>.json."""
    import importlib

    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(ROOT))
    main = importlib.import_module(f"benchmarks.{model}").main

    png = tmp_path / f"{model}.png"
    saved = ROOT / "docs" / "images" / f"{model}.json"
    assert main(["--from", str(saved), "--plot", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    assert png.stat().st_size > 10_000  # its panels drawn, not an empty canvas


@pytest.mark.gmat
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["threads", "bare"])
def test_the_node_model_runs_sleeping_children_and_reports_the_ratio(mode: str) -> None:
    """``benchmarks/node.py``: 8 sleeping children, 300 runs; the ideal from their sleeps.

    ``bare`` is the model's floor: the children driven by threads, with no sweep around them.
    """
    sys.path.insert(0, str(ROOT))
    from benchmarks.node import run_case

    figures = run_case(8, 0.02, 0.0, mode, 300, None)
    assert figures["n"] == 300
    assert figures["mode"] == mode
    assert figures["ideal_runs_per_s"] == pytest.approx(8 / 0.02, rel=0.1)
    assert 0 < figures["ratio"] <= 1.05
    assert figures["client_cpu_ms_per_run"] > 0
    assert figures["sleeper_cpu_ms_per_run"] > 0


@pytest.mark.gmat
@pytest.mark.slow
def test_the_campaign_figures_compare_both_tiers_in_the_scale_model() -> None:
    """``benchmarks/campaign.py --scale``: the canned runs keep summaries and fold an envelope."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.campaign import run_case

    full, summary = run_case(60, "all", True), run_case(60, "summary", True)
    assert full["n"] == summary["n"] == 60
    assert full["run_files_per_run"] == 3  # each run's Parquet, log and done marker
    assert summary["run_files_per_run"] == 0  # no file of its own
    assert summary["bytes_per_run"] < full["bytes_per_run"] / 5
    assert summary["manifest_bytes_per_run"] > full["manifest_bytes_per_run"]  # the summaries
    assert summary["open_envelope_s"] > 0  # the envelope was opened and drawn
    assert summary["plot_envelope_s"] > 0


def test_the_sequential_figures_print_their_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``benchmarks/sequential.py``: subset against Monte Carlo, and adaptive against grids."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.sequential import boundary, subset

    subset(seeds=6, n=200)
    row = capsys.readouterr().out.splitlines()[-1].split("|")
    assert float(row[1]) == pytest.approx(1.0e-4, rel=0.01)  # the closed form's p
    assert int(row[2]) == 6
    assert float(row[5]) > 0  # an actual spread, from the seeds
    boundary(tmp_path, budgets=[12], sizes=[4])
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("| adaptive | 12 |")
    assert lines[3].startswith("| grid 4x4 | 16 |")
