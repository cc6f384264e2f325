"""Shared test helpers: paths, and running code in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xsweep as xs

ROOT = Path(__file__).resolve().parents[1]
MISSIONS = ROOT / "examples" / "missions"
DATA = Path(__file__).resolve().parent / "data"


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter (GMAT cannot be re-initialised in one)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"subprocess failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def add_contacts(sweep: xs.Sweep, fixtures: dict[int, str]) -> None:
    """Give runs a contact output in gmat-run's parsed form, as desktop GMAT would.

    The embedded engine has no ContactLocator; the fixtures are real GMAT contact
    reports (Legacy and range formats) that gmat-run parses.
    """
    from gmat_run import Results

    from xsweep._outputs import convert_results

    lines = (sweep.path / "manifest.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for rec in records:
        run_id = rec.get("run_id")
        if rec.get("kind", "run") != "run" or run_id not in fixtures:
            continue
        run_dir = sweep.path / f"runs/run-{run_id:06d}"
        results = Results(output_dir=run_dir, log="", contact_paths={"CL": DATA / fixtures[run_id]})
        (out,) = convert_results(results, run_dir)
        rec["outputs"].append(
            {
                "kind": "contact",
                "name": "CL",
                "path": f"runs/run-{run_id:06d}/{out.path}",
                "rows": out.rows,
            }
        )
    (sweep.path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
