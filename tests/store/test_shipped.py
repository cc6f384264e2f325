"""A small output travels to the store with its outcome: the store is the one its files give.

The GMAT child ships a small output's table with the run's outcome
(``OutputFile.ipc``, an Arrow IPC stream), so the live store need not open each run's Parquet
again. What it writes must be what a store rebuilt from the files holds, bit
for bit; the tables are never written to a manifest line or a done marker;
and past a bound on the bytes held, runs are read from their files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xarray as xr

import xsweep as xs
import xsweep.store.live
import xsweep.store.write
from _helpers import MISSIONS
from xsweep.core.done import DONE_NAME
from xsweep.core.records import OutputFile, RunOutcome

# A report, two ephemerides (epochs, several rows); a targeter's report and solver log.
CASES = [
    ("ephemeris.script", xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0]})),
    ("hohmann.script", xs.grid({"TargetRMAG": [8000.0, 9000.0]})),
]


def _groups(store: Path) -> list[str | None]:
    """The store's root and its output groups (``reports/RF``...)."""
    found = sorted(
        meta.parent.relative_to(store).as_posix()
        for meta in store.glob("*/*/zarr.json")
        if json.loads(meta.read_text())["node_type"] == "group"
    )
    return [None, *found]


def _assert_same_stores(a: Path, b: Path) -> int:
    groups = _groups(a)
    assert groups == _groups(b)
    for group in groups:
        live = xr.open_zarr(a, group=group, consolidated=False).load()
        rebuilt = xr.open_zarr(b, group=group, consolidated=False).load()
        xr.testing.assert_identical(live, rebuilt)
    return len(groups)


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    read: list[str] = []
    original = xsweep.store.write._read_columns

    def counted(path: Path, columns: Any) -> dict[str, np.ndarray]:
        read.append(str(path))
        return original(path, columns)

    monkeypatch.setattr(xsweep.store.write, "_read_columns", counted)
    return read


def _rebuilt(sweep: Path) -> Path:
    """A copy of the sweep whose store is rebuilt from its files (xs.consolidate)."""
    copy = sweep.with_name(sweep.name + "-rebuilt")
    shutil.copytree(sweep, copy)
    shutil.rmtree(copy / "sweep.zarr")
    return xs.consolidate(copy)


@pytest.mark.parametrize(("script", "space"), CASES, ids=[c[0] for c in CASES])
def test_the_live_store_is_the_store_its_files_give_without_reading_them(
    script: str, space: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _counting_reads(monkeypatch)
    # An embedded cluster: its store is written here, in this process, where reads are counted.
    sweep = xs.run(MISSIONS / script, space, out=tmp_path / "s", workers=2, progress=False)
    assert sweep.counts["failed"] == sweep.counts["pending"] == 0
    assert read == []  # every output came with its run's outcome
    store = _rebuilt(sweep.path)
    assert read  # the rebuild read the files: the comparison is of two routes
    assert _assert_same_stores(sweep.path / "sweep.zarr", store) >= 3
    # Never written: not in the manifest's lines, not in a run's done marker.
    lines = (sweep.path / "manifest.jsonl").read_text().splitlines()
    outputs = [o for line in lines[1:] for o in json.loads(line)["outputs"]]
    assert outputs
    assert all("ipc" not in o for o in outputs)
    marker = json.loads((sweep.path / "runs" / "run-000000" / DONE_NAME).read_text())
    assert all("ipc" not in o for o in marker["outcome"]["outputs"])


def test_past_the_bound_on_bytes_held_runs_are_read_from_their_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _counting_reads(monkeypatch)
    monkeypatch.setattr(xsweep.store.live, "HELD_BYTES", 1)  # holds none
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0], "TOF": [60.0, 120.0]})
    script = MISSIONS / "leo_report.script"
    sweep = xs.run(script, space, out=tmp_path / "s", workers=2, progress=False)
    assert sorted(Path(p).parent.name for p in read) == [f"run-00000{i}" for i in range(4)]
    _assert_same_stores(sweep.path / "sweep.zarr", _rebuilt(sweep.path))


def test_a_mission_outcome_carries_its_small_outputs_as_its_files_hold_them(
    tmp_path: Path,
) -> None:
    outcome = xs.run_mission(
        MISSIONS / "ephemeris.script", {"Sat.SMA": 7100.0}, out_dir=tmp_path / "run"
    )
    assert outcome.ok
    assert len(outcome.outputs) == 3
    for out in outcome.outputs:
        assert out.ipc is not None
        shipped = pa.ipc.open_stream(out.ipc).read_all()
        written = pq.read_table(tmp_path / "run" / out.path)
        assert shipped.equals(written, check_metadata=True)
    assert outcome.shipped_bytes() > 0
    bare = outcome.unshipped()
    assert bare == outcome  # the values are in transit, not part of what the run gave
    assert bare.shipped_bytes() == 0
    assert all(o.ipc is None for o in bare.outputs)
    back = RunOutcome.from_dict(json.loads(json.dumps(outcome.to_dict())))
    assert all(o.ipc is None for o in back.outputs)
    assert OutputFile.from_dict(outcome.outputs[0].to_dict()).ipc is None


def test_a_run_kept_only_as_summaries_ships_no_table(tmp_path: Path) -> None:
    """A ``where=`` that keeps a run in full keeps its table; one that does not drops both."""
    from xsweep.core.keep import Keep, check_keep
    from xsweep.execute.worker import retained
    from xsweep.gmat.requests import RunRequest

    script, out = MISSIONS / "leo_report.script", tmp_path / "run"
    outcome = xs.run_mission(script, {"Sat.SMA": 7100.0}, out_dir=out, summarize=True)
    assert outcome.shipped_bytes() > 0
    request = RunRequest(str(script), {"Sat.SMA": 7100.0}, str(out), run_id=3)
    kept = retained(request, outcome, check_keep(Keep(where=lambda s, p: True)))
    assert kept.kept
    assert kept.shipped_bytes() == outcome.shipped_bytes()
    dropped = retained(request, outcome, check_keep(Keep(where=lambda s, p: False)))
    assert not dropped.kept
    assert dropped.shipped_bytes() == 0
    assert not out.exists()  # its files went too
