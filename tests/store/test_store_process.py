"""The live store's writer process: blocks written off the client's interpreter."""

from __future__ import annotations

import functools
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest

import xsweep as xs
import xsweep.store.blocks
import xsweep.store.layout
from _helpers import MISSIONS
from xsweep.core.vocabulary import STATUS_FLAGS
from xsweep.store.blocks import (
    PROCESS_MIN_RUNS,
    PROCESS_RUNS,
    PROCESS_WORKERS,
    BlockWriter,
)
from xsweep.store.process import WriterProcess, timed

DRAG = MISSIONS / "leo_drag.script"


def test_a_large_session_writes_its_blocks_in_a_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A "large" session of 6 runs, in blocks of 2: three writes go to the process.
    monkeypatch.setattr(xsweep.store.blocks, "PROCESS_RUNS", 1)
    monkeypatch.setattr(xsweep.store.layout, "BLOCK_RUNS", 2)
    started: list[int] = []
    init = WriterProcess.__init__

    def counting(self: WriterProcess) -> None:
        init(self)
        started.append(self._proc.pid)

    monkeypatch.setattr(WriterProcess, "__init__", counting)
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0, 7300.0, 7400.0, 6200.0], "TOF": [60]})
    sweep = xs.run(DRAG, space, out=tmp_path / "s", workers=1, progress=False)
    assert len(started) == 1
    assert sweep.counts == {"ok": 5, "failed": 1, "pending": 0}  # 6200 km: inside the Earth
    ds = xs.open_sweep(sweep.path)
    assert ds.attrs["xsweep"]["block_runs"] == 2
    stored_status = ds["status"].sel(TOF=60).to_series()
    want = {r["Sat.SMA"]: STATUS_FLAGS[r["status"]] for _, r in sweep.runs().iterrows()}
    assert stored_status.to_dict() == want  # every block's commit mark was written
    for run_id, run in sweep.runs().iterrows():
        stored = ds["Sat.X"].sel({"Sat.SMA": run["Sat.SMA"], "TOF": 60}).values
        if run["status"] != "ok":
            assert np.isnan(stored).all()
            continue
        frame = xs.read_output(sweep.path / f"runs/run-{run_id:06d}/report-RF.parquet")
        np.testing.assert_array_equal(stored[: len(frame)], frame["Sat.X"].to_numpy())
        assert np.isnan(stored[len(frame) :]).all()


def test_the_process_reports_each_write_and_survives_a_failed_one() -> None:
    writer = WriterProcess()
    try:
        writer._booted.result(timeout=60)
        os.kill(writer._proc.pid, signal.SIGINT)  # a stray Ctrl-C: the parent decides
        seconds = writer.submit(timed, functools.partial(sorted, [3, 1, 2])).result(timeout=60)
        assert 0 <= seconds < 60
        failed = writer.submit(timed, functools.partial(os.remove, "/nonexistent/xsweep"))
        assert isinstance(failed.exception(timeout=60), FileNotFoundError)
        again = writer.submit(timed, functools.partial(sorted, [1])).result(timeout=60)
        assert again >= 0
    finally:
        writer.shutdown()
    assert writer._proc.returncode == 0


def test_a_dead_process_fails_its_write_and_the_next_ones() -> None:
    writer = WriterProcess()
    try:
        dies = writer.submit(timed, functools.partial(os._exit, 3))
        with pytest.raises(RuntimeError, match="exited"):
            dies.result(timeout=60)
        with pytest.raises(RuntimeError, match="exited"):
            writer.submit(timed, functools.partial(sorted, [1])).result(timeout=60)
    finally:
        writer.shutdown()


def test_without_a_process_the_blocks_are_written_on_a_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(self: WriterProcess) -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(WriterProcess, "__init__", refuse)
    with pytest.warns(RuntimeWarning, match="did not start .*no more processes"):
        writer = BlockWriter(cast(Any, None), None, "t", runs=PROCESS_RUNS)
    try:
        assert isinstance(writer._here, ThreadPoolExecutor)
    finally:
        writer.shutdown()


@pytest.mark.parametrize(
    ("runs", "workers", "process"),
    [
        (PROCESS_RUNS, 1, True),
        (PROCESS_MIN_RUNS, PROCESS_WORKERS, True),
        (PROCESS_MIN_RUNS - 1, PROCESS_WORKERS, False),
        (PROCESS_MIN_RUNS, PROCESS_WORKERS - 1, False),
    ],
)
def test_a_big_session_writes_its_blocks_in_a_process(
    monkeypatch: pytest.MonkeyPatch, runs: int, workers: int, process: bool
) -> None:
    """Many runs, or many workers with a thousand runs: the client's GIL is kept free."""
    started: list[bool] = []
    monkeypatch.setattr(WriterProcess, "__init__", lambda self: started.append(True))
    writer = BlockWriter(cast(Any, None), None, "t", runs=runs, workers=workers)
    assert started == ([True] if process else [])
    assert isinstance(writer._here, WriterProcess if process else ThreadPoolExecutor)
    if not process:
        writer.shutdown()
