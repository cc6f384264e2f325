"""Adaptive batching (``runs_per_task="auto"``) and the manifest's group commit."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.cli.main import main
from xsweep.core.errors import ConfigError
from xsweep.core.records import RunOutcome
from xsweep.execute import batching as _batching, dispatch as _dispatch
from xsweep.execute.batching import ALONE_S, MAX_RUNS_PER_TASK, TARGET_TASK_S, Batcher
from xsweep.record import manifest as _manifest
from xsweep.record.manifest import Manifest
from xsweep.testing.engines import CannedRuns

REPORT = MISSIONS / "leo_report.script"


def _outcomes(seconds: float, n: int) -> list[RunOutcome]:
    return [RunOutcome("ok", None, (), "", "", duration_s=seconds) for _ in range(n)]


def test_auto_starts_at_one_run_then_fills_the_target_from_measured_runs() -> None:
    batcher = Batcher("auto", total=10_000, slots=4)
    assert batcher.batched
    assert batcher.size() == 1  # nothing measured yet
    batcher.measured(_outcomes(0.010, 1))
    assert batcher.size() == round(TARGET_TASK_S / 0.010)
    batcher.measured([RunOutcome.failed("crashed", "x")])  # not timed: changes nothing
    assert batcher.size() == round(TARGET_TASK_S / 0.010)


def test_auto_never_leaves_a_worker_idle_nor_exceeds_its_cap() -> None:
    batcher = Batcher("auto", total=100, slots=4)
    batcher.measured(_outcomes(1e-5, 8))  # microsecond runs: 25,000 would fill the target
    assert batcher.size() == 25  # an even share of what is left over the tasks in flight
    batcher.submitted(96)
    assert batcher.size() == 1  # the tail: one run a task
    big = Batcher("auto", total=10**7, slots=4)
    big.measured(_outcomes(1e-5, 8))
    assert big.size() == MAX_RUNS_PER_TASK


def test_auto_keeps_long_runs_one_a_task_and_fixed_sizes_stay_fixed() -> None:
    batcher = Batcher("auto", total=1000, slots=4)
    batcher.measured(_outcomes(2.0, 4))
    assert batcher.size() == 1
    at_the_edge = Batcher("auto", total=1000, slots=4)
    at_the_edge.measured(_outcomes(ALONE_S, 4))
    assert at_the_edge.size() == 1
    just_under = Batcher("auto", total=1000, slots=4)
    just_under.measured(_outcomes(0.9 * ALONE_S, 4))
    assert just_under.size() == int(TARGET_TASK_S / (0.9 * ALONE_S)) > 1
    fixed = Batcher(8, total=1000, slots=4)
    fixed.measured(_outcomes(1e-5, 8))
    assert (fixed.size(), fixed.batched) == (8, True)
    assert not Batcher(1, total=10, slots=4).batched


def test_auto_smooths_the_measured_duration() -> None:
    batcher = Batcher("auto", total=10**6, slots=4)
    batcher.measured(_outcomes(0.010, 4))
    batcher.measured(_outcomes(0.020, 4))
    assert batcher.per_run_s is not None
    assert math.isclose(batcher.per_run_s, 0.010 + 0.3 * 0.010)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "fast", True])
def test_a_bad_runs_per_task_is_refused(bad: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="positive integer or 'auto'"):
        xs.run(REPORT, xs.grid({"Sat.SMA": [7000]}), out=tmp_path / "s", runs_per_task=bad)


def _count_calls(monkeypatch: pytest.MonkeyPatch, cls: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    inner = getattr(cls, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return inner(self, *args, **kwargs)

    monkeypatch.setattr(cls, name, wrapper)
    return calls


@pytest.mark.gmat
def test_auto_batches_short_real_runs_and_records_each(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Through the CLI, defaults: 80 real 60 s runs; tasks grow past one run, one line each."""
    sizes = _count_calls(monkeypatch, _batching.Batcher, "submitted")
    out = tmp_path / "s"
    code = main(["monte-carlo", str(REPORT), "--n", "80", "--seed", "3",
                 "--perturb", "Sat.SMA=normal:7000:5", "--grid", "TOF=60", "--workers", "2",
                 "--no-progress", "--out", str(out)])  # fmt: skip
    assert code == 0
    taken = [args[0] for args in sizes]
    assert sum(taken) == 80
    assert taken[:4] == [1, 1, 1, 1]  # before any run was measured
    assert max(taken) > 1  # a 60 s mission runs in tens of ms: tasks grew
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()[1:]]
    assert sorted(x["run_id"] for x in lines) == list(range(80))  # one line per run
    manifest = Manifest.load(out / "manifest.jsonl")
    assert manifest.header["options"]["runs_per_task"] == "auto"
    assert xs.Sweep(out).counts == {"ok": 80, "failed": 0, "pending": 0}
    rec = manifest.runs[41]
    direct = tmp_path / "direct"
    assert xs.run_mission(REPORT, rec.overrides, out_dir=direct).ok
    pd.testing.assert_frame_equal(
        xs.Sweep(out).read(41), xs.read_output(direct / "report-RF.parquet")
    )
    ds = xs.open_sweep(out)
    assert int((ds["status"] == 1).sum()) == 80
    sizes.clear()
    xs.extend(out, 20, workers=2, progress=False)
    assert sum(args[0] for args in sizes) == 20  # the recorded "auto" carries on
    assert xs.Sweep(out).counts["ok"] == 100


@pytest.mark.gmat
def test_a_sweep_of_one_run_a_task_continues_batched_unless_asked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Written with one run a task (the old default), extended with the new default."""
    sizes = _count_calls(monkeypatch, _batching.Batcher, "submitted")
    out = tmp_path / "s"
    space = xs.monte_carlo(40, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=2)
    xs.run(REPORT, space.merge(xs.fixed({"TOF": 60.0})), out=out, workers=2, progress=False,
           runs_per_task=1)  # fmt: skip
    assert {args[0] for args in sizes} == {1}
    assert Manifest.load(out / "manifest.jsonl").header["options"]["runs_per_task"] == 1
    sizes.clear()
    xs.extend(out, 60, workers=2, progress=False)
    assert sum(args[0] for args in sizes) == 60
    assert max(args[0] for args in sizes) > 1  # batching is how this machine runs them
    sizes.clear()
    xs.extend(out, 10, workers=2, progress=False, runs_per_task=None)  # the recorded value
    assert [args[0] for args in sizes] == [1] * 10
    assert xs.Sweep(out).counts == {"ok": 110, "failed": 0, "pending": 0}


@pytest.fixture
def scale_model(tmp_path: Path) -> CannedRuns:
    """The scale model: every run copies one real run of the 60 s mission."""
    return CannedRuns.record(REPORT, {"TOF": 60.0}, tmp_path)


@pytest.mark.gmat
def test_outcomes_that_arrive_together_share_one_fsync(
    scale_model: CannedRuns, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Under load (runs in microseconds) the manifest is written in groups, none lost."""
    writes = _count_calls(monkeypatch, _manifest.ManifestWriter, "_write")
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    n = 2000
    space = xs.monte_carlo(n, {"Sat.SMA": ("normal", 7000, 5)}, seed=1)
    for per_task, most in ((1, n), ("auto", n / 10)):
        writes.clear()
        fsyncs.clear()
        out = tmp_path / f"s-{per_task}"
        sweep = xs.run(REPORT, space, out=out, workers=2, runs_per_task=per_task,
                       progress=False, cluster_kwargs={"plugins": {scale_model}})  # fmt: skip
        assert sweep.counts == {"ok": n, "failed": 0, "pending": 0}
        assert {r.outcome.gmat_s for r in sweep.manifest.runs.values()} == {0.0}  # canned
        run_writes = [w for w in writes if w and w[0].get("kind") == "run"]
        assert sum(len(w) for w in run_writes) == n  # every run, once
        # One task's outcomes at a time (1 run, or an "auto" task's hundreds), and what
        # finished while the client was busy: fewer writes, and fsyncs, than runs.
        assert len(run_writes) < most, per_task
        assert len(fsyncs) < most + 10  # + the header's, the lock's, the store's
        lines = (out / "manifest.jsonl").read_text().splitlines()
        assert sorted(json.loads(x)["run_id"] for x in lines[1:]) == list(range(n))


@pytest.mark.gmat
def test_runs_that_arrive_one_at_a_time_are_fsynced_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One worker, real runs of 5 days' flight: each outcome is written and fsynced alone."""
    writes = _count_calls(monkeypatch, _manifest.ManifestWriter, "_write")
    counted: list[int] = []  # what was counted as done at each write: never ahead of it
    record = _dispatch.Dispatcher._commit

    def commit(self: Any, records: Any) -> None:
        counted.append(sum(self.counts.values()))
        record(self, records)

    monkeypatch.setattr(_dispatch.Dispatcher, "_commit", commit)
    # ~0.25 s a run: far apart even on a loaded machine (a day's ~50 ms was not: under the
    # other xdist worker's load, the first two outcomes once reached the client together).
    space = xs.grid({"Sat.SMA": [7000.0 + 10 * i for i in range(12)], "TOF": [5 * 86400.0]})
    sweep = xs.run(REPORT, space, out=tmp_path / "s", workers=1, progress=False)
    assert sweep.counts["ok"] == 12
    run_writes = [w for w in writes if w and w[0].get("kind") == "run"]
    assert [len(w) for w in run_writes] == [1] * 12
    assert counted == list(range(12))
