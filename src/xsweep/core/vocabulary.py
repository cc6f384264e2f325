"""The words of a sweep: run statuses, failure reasons, output kinds, the store's own names.

Every stage uses them; they are defined once, here.
"""

from __future__ import annotations

from typing import Literal, get_args

Status = Literal["ok", "failed"]


Reason = Literal["gmat-error", "exception", "crashed", "timeout"]


OutputKind = Literal["report", "ephemeris", "contact", "solver"]


ProblemStatus = Literal["unparsed", "absent"]


STATUSES: tuple[Status, ...] = get_args(Status)


REASONS: tuple[Reason, ...] = get_args(Reason)


OUTPUT_KINDS: tuple[OutputKind, ...] = get_args(OutputKind)


PROBLEM_STATUSES: tuple[ProblemStatus, ...] = get_args(ProblemStatus)


# A run's status as the store (and the accessor) codes it: CF flag values.
STATUS_FLAGS = {"pending": 0, "ok": 1, "failed": 2}


# The axis of each output kind in the store, and the store's own variables: together
# with a few manifest columns, names a space may not use.
OUTPUT_AXES: dict[OutputKind, str] = {
    "report": "step",
    "ephemeris": "step",
    "contact": "interval",
    "solver": "iteration",
}


STORE_VARIABLES = (
    "time",
    "elapsed_s",
    "run_id",
    "status",
    "reason",
    "error",
    "duration_s",
    "output_problems",
    "derive_status",
    "derive_error",
    "kept",
)
SUMMARY_AXIS = "stat"  # a summary's own axis: final, min, max


RESERVED = frozenset(
    {*STORE_VARIABLES, *OUTPUT_AXES.values(), SUMMARY_AXIS, "gmat_s", "started", "ended"}
)
