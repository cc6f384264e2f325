"""A finished run's ``done`` marker: its outcome, written into its directory last.

The GMAT child writes it once a run's outputs are complete (atomically: a
killed child leaves none). A run whose manifest line was never written (the
client died between the run's end and the fsync of its line) can then be
adopted by ``resume`` instead of run again (see :mod:`xsweep.plan.adopt`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from xsweep.core.atomic import atomic_path
from xsweep.core.records import RunOutcome, json_safe

DONE_NAME = "done.json"


def write_done(
    out_dir: str, outcome: RunOutcome, script: str, overrides: Mapping[str, Any]
) -> None:
    """Leave ``outcome`` of ``script`` run with ``overrides`` in ``out_dir``, after its files.

    ``script`` is recorded by file name: a sweep's scripts are copies named by variant,
    or by hash for a drifted one, so the name tells which script ran.
    """
    data = {
        "script": os.path.basename(script),
        "overrides": dict(overrides),
        "outcome": outcome.to_dict(),
    }
    try:
        text = json.dumps(data, allow_nan=False, default=json_safe)
        # os.path, not pathlib: see xsweep.core.atomic (the scale model writes one a run)
        with atomic_path(os.path.join(out_dir, DONE_NAME)) as tmp, open(tmp, "w") as fh:
            fh.write(text)
    except (OSError, ValueError):  # no marker: the run is rerun if its line is lost, nothing worse
        pass


def read_done(out_dir: str) -> tuple[str, dict[str, Any], RunOutcome] | None:
    """Return ``(script name, overrides, outcome)`` from a run directory's marker, or None."""
    try:
        with open(os.path.join(out_dir, DONE_NAME)) as fh:
            data = json.load(fh)
        return str(data["script"]), dict(data["overrides"]), RunOutcome.from_dict(data["outcome"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
