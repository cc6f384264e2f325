"""Shared by the reliability suite: a cluster of separate processes, snapshots, checks.

Every fault case ends with the same checks (:func:`assert_recovers`): the
manifest parses, every run that was finished before the fault still has the
exact bytes it had, ``resume`` completes the sweep, and the final store's data
equals an uninterrupted sweep's (timings aside).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xarray as xr

import xsweep as xs
from _helpers import MISSIONS, ROOT

REPORT = MISSIONS / "leo_report.script"
# One summary file per pytest-xdist worker (``summary-gw0.json``), merged when the run ends.
SUMMARY_DIR = Path(__file__).resolve().parent / "out"
SUMMARY = SUMMARY_DIR / f"summary-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json"
# The docs page's figures: written from the summary when XSWEEP_RELIABILITY_DOCS=1 (CI sets
# it) and the whole suite passed.
DOCS_FIGURES = ROOT / "docs" / "reliability-figures.md"


# The sweep every case runs: 160 Monte Carlo samples crossed with 50 minutes of flight. A
# fault strikes at the 40th run, so 120 are still to run.
N_RUNS = 160
SWEEP = ["monte-carlo", str(REPORT), "--n", str(N_RUNS), "--perturb", "Sat.SMA=normal:7000:5",
         "--seed", "42", "--grid", "TOF=3000", "--no-progress"]  # fmt: skip


def finished(sweep_dir: Path) -> dict[str, str]:
    """SHA-256 of every output file of every run the manifest records as ok."""
    manifest = xs.Sweep(sweep_dir).manifest
    out: dict[str, str] = {}
    for rec in manifest.runs.values():
        if rec.status == "ok":
            for o in rec.outcome.outputs:
                path = sweep_dir / o.path
                if path.is_file():  # a deleted one is what a case checks for
                    out[o.path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def store_data(sweep_dir: Path) -> dict[str, xr.Dataset]:
    """Every group of the store, loaded, without wall-clock timings."""
    opened = xs.open_sweep(sweep_dir)
    if isinstance(opened, xr.DataTree):
        groups = {n.path: n.to_dataset(inherit=False) for n in opened.subtree}
    else:
        groups = {"/": opened}
    out = {}
    for key, ds in groups.items():
        ds = ds.drop_vars(["duration_s"], errors="ignore").load()
        ds.attrs.pop("sweep_id", None)  # every sweep has its own
        out[key] = ds
    return out


@dataclass
class Outcome:
    """What one fault case did, for the suite's summary."""

    case: str
    faults: int
    recorded_before: int
    rerun_by_resume: int
    bytes_lost: int
    notes: dict[str, Any] = field(default_factory=dict)


def assert_recovers(
    sweep_dir: Path,
    before: dict[str, str],
    reference: Path,
    *,
    case: str,
    faults: int = 1,
    client: Any = None,
    notes: dict[str, Any] | None = None,
) -> Outcome:
    """Check a sweep after a fault: intact, resumable, and equal to an uninterrupted one."""
    recorded = xs.Sweep(sweep_dir).manifest  # parses (torn tails tolerated) or raises
    n_recorded = len(recorded.runs)
    # Nothing finished before the fault changed or disappeared.
    after = finished(sweep_dir)
    lost = [p for p in before if after.get(p) != before[p]]
    assert not lost, f"finished outputs changed or vanished: {lost[:5]}"
    sweep = xs.resume(sweep_dir, client=client, progress=False, workers=None if client else 2)
    assert sweep.counts == {"ok": sweep.n_runs, "failed": 0, "pending": 0}, sweep.counts
    # The resume did not touch them either.
    again = finished(sweep_dir)
    assert all(again[p] == h for p, h in before.items())
    mine, theirs = store_data(sweep_dir), store_data(reference)
    assert mine.keys() == theirs.keys()
    for key in theirs:
        xr.testing.assert_identical(mine[key], theirs[key])
    outcome = Outcome(
        case=case,
        faults=faults,
        recorded_before=len(before),
        # Adopted runs finished before the fault: resume recorded them without running them.
        rerun_by_resume=sweep.n_runs - len(before) - (notes or {}).get("adopted_by_resume", 0),
        bytes_lost=0,
        notes={"manifest_runs_after_fault": n_recorded, **(notes or {})},
    )
    record(outcome)
    return outcome


def record(outcome: Outcome) -> None:
    """Add a fault case's outcome to the suite's summary."""
    _add("faults", "case", outcome.__dict__)


@dataclass
class Tally:
    """What a fuzz target did with its inputs, for the suite's summary."""

    target: str
    accepted: int = 0
    refused: int = 0  # with an XsweepError subclass
    errors: dict[str, int] = field(default_factory=dict)  # refusals by error type

    def refuse(self, exc: BaseException) -> None:
        self.refused += 1
        name = type(exc).__name__
        self.errors[name] = self.errors.get(name, 0) + 1


def record_fuzz(tally: Tally) -> None:
    """Add a fuzz target's tally to the suite's summary."""
    _add("fuzz", "target", {**tally.__dict__, "inputs": tally.accepted + tally.refused})


def record_load(row: dict[str, Any]) -> None:
    """Add a load measurement to the suite's summary."""
    _add("load", "case", row)


def _add(section: str, key: str, row: dict[str, Any]) -> None:
    """Replace ``section``'s row with the same ``key`` in this process's summary file."""
    SUMMARY.parent.mkdir(exist_ok=True)
    data = json.loads(SUMMARY.read_text()) if SUMMARY.exists() else {}
    rows = [r for r in data.get(section, []) if r[key] != row[key]]
    data[section] = [*rows, row]
    SUMMARY.write_text(json.dumps(data, indent=2) + "\n")


def wait_for_lines(manifest: Path, n: int, timeout: float = 120) -> None:
    """Wait until the manifest has more than ``n`` lines (header included)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if manifest.exists() and len(manifest.read_bytes().splitlines()) > n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{manifest} never got past {n} lines")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``xsweep ARGS`` in its own process group (``env`` added to the environment)."""
    return subprocess.Popen(
        [sys.executable, "-m", "xsweep", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def merged_summary() -> dict[str, list[dict[str, Any]]]:
    """Every worker's summary rows, section by section."""
    data: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(SUMMARY_DIR.glob("summary-*.json")):
        for section, rows in json.loads(path.read_text()).items():
            data.setdefault(section, []).extend(rows)
    return data


def render(data: dict[str, list[dict[str, Any]]]) -> str:
    """The summary as Markdown tables, for the docs page."""
    out = ["<!-- generated by tests/reliability (XSWEEP_RELIABILITY_DOCS=1); do not edit -->", ""]
    faults = data.get("faults", [])
    if faults:
        out += [
            f"**Faults injected: {sum(r['faults'] for r in faults)} in {len(faults)} cases; "
            f"bytes of finished runs lost: {sum(r['bytes_lost'] for r in faults)}.**",
            "",
            "| case | runs recorded before the fault | rerun by resume | bytes lost |",
            "| --- | ---: | ---: | ---: |",
        ]
        out += [
            f"| {r['case']} | {r['recorded_before']} | {r['rerun_by_resume']} | {r['bytes_lost']} |"
            for r in faults
        ]
        out.append("")
    fuzz = data.get("fuzz", [])
    if fuzz:
        out += [
            f"**Inputs fuzzed: {sum(r['inputs'] for r in fuzz)}; internal exceptions: 0.**",
            "",
            "| target | inputs | worked | refused | refused with |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        for r in fuzz:
            errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items()))
            out.append(
                f"| {r['target']} | {r['inputs']} | {r['accepted']} | {r['refused']} | {errors} |"
            )
        out.append("")
    load = data.get("load", [])
    if load:
        out += ["| load case | result |", "| --- | --- |"]
        out += [f"| {r['case']} | {r['result']} |" for r in load]
        out.append("")
    return "\n".join(out)
