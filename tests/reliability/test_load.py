"""Load: a 10,000-run sweep with flat client memory; a 100,000-point space planned lazily."""

from __future__ import annotations

import os
import signal
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
import xarray as xr
from _harness import REPORT, cli, record_load

import xsweep as xs
from xsweep.space import spaces as _space

pytestmark = [pytest.mark.reliability]

N_LOAD = 10_000
# A bound, not a target: ~130 s on a quiet day, ~670 s on the slowest seen (one run a task).
LOAD_LIMIT_S = 2700


@pytest.mark.gmat
@pytest.mark.slow
def test_ten_thousand_runs_with_flat_client_memory(tmp_path: Path) -> None:
    """The client's RSS, sampled as the manifest grows, stays flat after the first runs.

    With short runs fused into tasks (``runs_per_task="auto"``, the default): the
    client still records and holds each run's manifest line on its own; the GMAT children,
    not the client, bound the time (~20 ms a run, 10,000 runs on 2 workers).
    """
    out = tmp_path / "sweep"
    manifest = out / "manifest.jsonl"
    started = time.monotonic()
    proc = cli("monte-carlo", str(REPORT), "--n", str(N_LOAD), "--seed", "7",
               "--perturb", "Sat.SMA=normal:7000:5", "--grid", "TOF=60",
               "--workers", "2", "--no-progress",
               "--out", str(out))  # fmt: skip
    client = psutil.Process(proc.pid)
    samples: list[tuple[int, float]] = []  # (runs recorded, client RSS in MiB)
    lines = -1  # the header is not a run
    fh = None  # kept open: each read takes only what was appended since the last
    deadline = started + LOAD_LIMIT_S
    while proc.poll() is None:
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
            raise AssertionError(f"{N_LOAD:,} runs took over {LOAD_LIMIT_S} s: {err[-3000:]}")
        try:
            rss = client.memory_info().rss / 2**20
        except psutil.NoSuchProcess:
            break
        if fh is None and manifest.exists():
            fh = manifest.open("rb")
        if fh is not None:
            lines += fh.read().count(b"\n")
        samples.append((max(lines, 0), rss))
        time.sleep(0.25)
    if fh is not None:
        fh.close()
    _, err = proc.communicate(timeout=60)
    wall = time.monotonic() - started
    assert proc.returncode == 0, err
    assert xs.Sweep(out).counts == {"ok": N_LOAD, "failed": 0, "pending": 0}

    runs = np.array([r for r, _ in samples])
    rss = np.array([m for _, m in samples])
    # While runs execute, after the first 1,000 (imports, warm-up, Dask's bounded logs
    # filling). The end (the summary reads the whole manifest) is reported, not judged.
    during = (runs >= N_LOAD // 10) & (runs < N_LOAD)
    assert during.sum() > 20, "too few samples to judge"
    slope, _ = np.polyfit(runs[during], rss[during], 1)  # MiB per run
    early = rss[during & (runs < N_LOAD // 5)].mean()
    late = rss[during & (runs >= N_LOAD * 9 // 10)].mean()
    # Flat: per run, the client keeps a manifest line's worth of bookkeeping at most
    # until its store block is written, and Dask's key caches; not results. Keeping
    # every record, as before this test, cost about 5 KiB per run.
    assert slope * 1024 < 3, f"client RSS grows {slope * 1024:.2f} KiB per run"
    ds = xs.open_sweep(out)
    assert ds.sizes["sample"] == N_LOAD
    assert int((ds["status"] == 1).sum()) == N_LOAD  # flag 1: ok
    _rederive_with_flat_memory(out)
    record_load(
        {
            "case": f"{N_LOAD:,} runs (60 s of flight each), 2 workers, runs fused into tasks",
            "result": (
                f"all ok in {wall:.0f} s ({N_LOAD / wall:.0f} runs/s); client RSS "
                f"{early:.0f} MiB at 1,000-2,000 runs, {late:.0f} MiB at 9,000-10,000 "
                f"({slope * 1024:+.2f} KiB per run), {rss.max():.0f} MiB peak at the end"
            ),
        }
    )


def _rederive_with_flat_memory(out: Path) -> None:
    """Derive a value of every run again, without GMAT: this process holds records, not data.

    Measured from after a warm-up derive of a 20-run sweep in this process (the imports,
    a cluster started and stopped), so the growth is what 10,000 runs add.
    """
    from xsweep.testing.synthetic import make_sweep

    fn = xs.derived.final("RF", ["Sat.Earth.Altitude"])
    small = make_sweep(out.parent / "warm-up", 20, 5)
    xs.derive(small, xs.derived.final("RF", ["Sat.X"]), workers=2, progress=False)
    me = psutil.Process()
    base = me.memory_info().rss
    peak = [base]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], me.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        xs.derive(out, fn, workers=2, progress=False)
    finally:
        done.set()
        sampler.join()
    wall = time.monotonic() - started
    growth = (peak[0] - base) / 2**20
    ds = xs.open_sweep(out)
    final = ds["Sat.Earth.Altitude_final"].values.ravel()  # run-id order: TOF has one value
    assert np.isfinite(final).all()
    assert final[17] == xs.Sweep(out).read(17)["Sat.Earth.Altitude"].iloc[-1]
    assert growth < 100, f"re-deriving grew the client's RSS by {growth:.0f} MB"
    record_load(
        {
            "case": f"re-derive {N_LOAD:,} runs (xs.derive, no GMAT), 2 workers",
            "result": f"all ok in {wall:.0f} s; client RSS +{growth:.0f} MiB at its peak "
            "(after a 20-run warm-up)",
        }
    )


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the per-run objects (:class:`xsweep.Run`) built from now on."""
    made = {"runs": 0}
    original = _space.Run.__init__

    def counting(self: Any, *args: Any, **kwargs: Any) -> None:
        made["runs"] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(_space.Run, "__init__", counting)
    return made


SPACES = {
    "grid 100 x 1000": lambda: xs.grid(
        {"Sat.SMA": np.linspace(7000, 7100, 100), "Sat.ECC": np.linspace(0, 0.01, 1000)}
    ),
    "Monte Carlo 100,000": lambda: xs.monte_carlo(
        100_000, {"Sat.SMA": ("normal", 7000, 5), "Sat.ECC": ("uniform", 0, 0.01)}, seed=1
    ),
    "Monte Carlo 1,000 x grid 100": lambda: xr.merge(
        [
            xs.monte_carlo(1000, {"Sat.SMA": ("normal", 7000, 5)}, seed=1),
            xs.grid({"Sat.ECC": np.linspace(0, 0.01, 100)}),
        ]
    ),
}


@pytest.mark.parametrize("name", list(SPACES))
def test_a_hundred_thousand_points_plan_without_per_run_objects(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plan() -> tuple[xs.Space, str, xs.Space, Any]:
        space = xs.Space(SPACES[name]())
        text = space.to_json()
        again = xs.Space.from_json(text)  # redraws every random field and compares bits
        return space, text, again, space.runs()  # the run table, built column-wise

    plan()  # first use imports scipy and friends: not what is measured
    made = _count_runs(monkeypatch)
    started = time.perf_counter()
    space, text, again, frame = plan()
    planned = time.perf_counter() - started
    tracemalloc.start()
    try:
        plan()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert space.n_runs == again.n_runs == len(frame) == 100_000
    assert made["runs"] == 0, "planning built per-run objects"
    # A run is built on demand, and only that one.
    last = space.run(99_999)
    assert made["runs"] == 1
    assert frame.loc[99_999].to_dict() == {**last.labels, **last.overrides}
    # A grid stores its axes, not its points; random draws store one value per sample.
    values = sum(len(v) for v in SPACES[name]().variables.values())
    assert len(text) < 40 * values + 10_000
    record_load(
        {
            "case": f"100,000-point space: {name}",
            "result": (
                f"built, serialised ({len(text) / 1e6:.2f} MB of JSON), rebuilt and tabled in "
                f"{planned:.2f} s, traced peak {peak / 2**20:.0f} MiB, 0 per-run objects"
            ),
        }
    )
