"""Records that cross process and disk boundaries, and the names they share.

They are frozen dataclasses with one serialiser each (``to_dict`` /
``from_dict``, JSON-safe), so the same record travels from a GMAT child
process to a Dask worker (:class:`RunOutcome`), to the client and into the
manifest (:class:`RunRecord`) and back unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from xsweep.core.hooks import DeriveResult
from xsweep.core.outputs import (
    OutputFile as OutputFile,
    OutputProblem as OutputProblem,
    OutputSummary as OutputSummary,
)
from xsweep.core.paths import check_name, check_relative
from xsweep.core.vocabulary import (
    OUTPUT_KINDS,
    REASONS,
    STATUSES,
    OutputKind,
    Reason,
    Status,
)


def now_iso() -> str:
    """Return the current UTC time, ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class RunOutcome:
    """The outcome of one GMAT run: small, never the data itself.

    Attributes
    ----------
    status : {"ok", "failed"}
        Whether the mission ran to completion and its outputs were written.
    reason : {"gmat-error", "exception", "crashed", "timeout"} or None
        Why a failed run failed; ``None`` when ``status == "ok"``.
    outputs : tuple of OutputFile
        Every output written, paths relative to the run directory.
    problems : tuple of OutputProblem
        Outputs of an ok run that are not written: unparsed or absent. The
        run is ok (GMAT finished); its other outputs are written.
    started, ended : str
        ISO 8601 UTC timestamps of the run's start and end.
    duration_s : float
        Wall time of the whole run (load, overrides, GMAT, Parquet).
    gmat_s : float
        Wall time spent inside GMAT's ``RunScript``.
    error : str or None
        GMAT's error message or the exception text of a failed run.
    log : str or None
        Path of GMAT's log, relative to the run directory.
    host, pid : str, int
        Where the run executed (the process that ran GMAT).
    derived : tuple of DeriveResult
        What each derive function gave for this run (an ok run of a sweep
        that derives; a failed one never has any).
    kept : bool
        Whether its files are kept (``False``: a run of a sweep that keeps
        summaries, not picked to keep in full; its outputs are their summaries).
    """

    status: Status
    reason: Reason | None
    outputs: tuple[OutputFile, ...]
    started: str
    ended: str
    duration_s: float
    gmat_s: float = 0.0
    error: str | None = None
    log: str | None = None
    host: str = ""
    pid: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)
    problems: tuple[OutputProblem, ...] = ()
    derived: tuple[DeriveResult, ...] = ()
    kept: bool = True
    # The run's columns on a sweep's envelope grid ({"RF": {"Sat.X": array}}): in transit from
    # its GMAT child to the client, which folds them; never written.
    grid: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.status == "ok" and self.reason is not None:
            raise ValueError("an ok run has no failure reason")
        if self.status == "failed" and self.reason not in REASONS:
            raise ValueError(f"a failed run needs a reason in {REASONS}, got {self.reason!r}")

    @classmethod
    def failed(
        cls, reason: Reason, error: str, *, started: str | None = None, t0: float | None = None
    ) -> RunOutcome:
        """Return the outcome of a run that failed outside GMAT's own run (no outputs).

        ``started`` (ISO time) and ``t0`` (a ``time.perf_counter()`` reading)
        say when the attempt began; by default it began and ended now.
        """
        ended = now_iso()
        return cls(
            status="failed",
            reason=reason,
            outputs=(),
            started=ended if started is None else started,
            ended=ended,
            duration_s=0.0 if t0 is None else time.perf_counter() - t0,
            error=error,
        )

    @property
    def ok(self) -> bool:
        """True when the run succeeded."""
        return self.status == "ok"

    @property
    def attempts(self) -> int | None:
        """How many times the run was tried (``extra["attempts"]``; None: not recorded)."""
        value = self.extra.get("attempts")
        return value if is_int(value) else None

    @property
    def reused(self) -> Mapping[str, Any] | None:
        """The ok run this one links to, ``{"sweep_id", "run_id"}`` (``extra["reused"]``)."""
        value = self.extra.get("reused")
        return value if isinstance(value, Mapping) else None

    def noting(
        self, *, attempts: int | None = None, reused: Mapping[str, Any] | None = None
    ) -> RunOutcome:
        """Return a copy that records its attempts, or the run it reuses, in ``extra``."""
        extra = dict(self.extra)
        if attempts is not None:
            extra["attempts"] = attempts
        if reused is not None:
            extra["reused"] = dict(reused)
        return replace(self, extra=extra)

    def output(self, kind: OutputKind, name: str) -> OutputFile:
        """Return the output of ``kind`` named ``name`` (``KeyError`` if absent)."""
        for out in self.outputs:
            if out.kind == kind and out.name == name:
                return out
        raise KeyError(f"{kind} {name!r}")

    def shipped_bytes(self) -> int:
        """Return the bytes of output tables in transit with it (:attr:`OutputFile.ipc`)."""
        return sum(len(o.ipc) for o in self.outputs if o.ipc)

    def unshipped(self) -> RunOutcome:
        """Return a copy without its outputs' tables in transit: readers read the files."""
        return replace(self, outputs=tuple(replace(o, ipc=None) for o in self.outputs))

    def rebased(self, prefix: str) -> RunOutcome:
        """Return a copy whose paths are prefixed with ``prefix`` (a POSIX directory)."""
        prefix = prefix.rstrip("/") + "/"
        outs = tuple(replace(o, path=prefix + o.path) for o in self.outputs)
        log = None if self.log is None else prefix + self.log
        problems = tuple(
            p if p.raw is None else replace(p, raw=prefix + p.raw) for p in self.problems
        )
        return replace(self, outputs=outs, log=log, problems=problems)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (``output_problems`` only when there are any)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "outputs": [o.to_dict() for o in self.outputs],
            **({"output_problems": [p.to_dict() for p in self.problems]} if self.problems else {}),
            "started": self.started,
            "ended": self.ended,
            "duration_s": None if math.isnan(self.duration_s) else self.duration_s,
            "gmat_s": self.gmat_s,
            "error": self.error,
            "log": self.log,
            "host": self.host,
            "pid": self.pid,
            "extra": dict(self.extra),
            **({"derived": [d.to_dict() for d in self.derived]} if self.derived else {}),
            **({} if self.kept else {"kept": False}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOutcome:
        """Rebuild from :meth:`to_dict` output (a missing timing or place reads as unknown)."""
        duration = data.get("duration_s")
        return cls(
            status=data["status"],
            reason=data.get("reason"),
            outputs=tuple(OutputFile.from_dict(o) for o in data.get("outputs", ())),
            started=str(data.get("started") or ""),
            ended=str(data.get("ended") or ""),
            duration_s=math.nan if duration is None else float(duration),
            gmat_s=float(data.get("gmat_s") or 0.0),
            error=data.get("error"),
            log=data.get("log"),
            host=str(data.get("host") or ""),
            pid=_int(data.get("pid"), "pid"),
            extra=dict(data.get("extra", {})),
            problems=tuple(OutputProblem.from_dict(p) for p in data.get("output_problems", ())),
            derived=tuple(DeriveResult.from_dict(d) for d in data.get("derived", ())),
            kept=data.get("kept", True) is not False,
        )


def json_safe(value: Any) -> Any:
    """Make an override or label value JSON-safe (numpy scalars, datetimes as ISO strings)."""
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "M":
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return value


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run line of the manifest: which point of the space ran, and its outcome.

    Built by the client as each outcome arrives (:meth:`of`), written as one
    JSON line (:meth:`to_dict`), and read back by every reader of a sweep
    (:meth:`from_dict`, which refuses a line readers could not rely on).

    Attributes
    ----------
    run_id : int
        The run's id in its sweep.
    index : tuple of int
        Its position along each dim of the space.
    labels, overrides : dict
        Its coordinate labels and the field values GMAT got (JSON-safe).
    script_sha256 : str
        Canonical hash of the script it ran with.
    outcome : RunOutcome
        What happened, paths relative to the sweep directory.
    """

    run_id: int
    index: tuple[int, ...]
    labels: Mapping[str, Any]
    overrides: Mapping[str, Any]
    script_sha256: str
    outcome: RunOutcome

    @classmethod
    def of(
        cls,
        run_id: int,
        index: tuple[int, ...],
        labels: Mapping[str, Any],
        overrides: Mapping[str, Any],
        script_sha256: str,
        outcome: RunOutcome,
        run_dir: str | None,
    ) -> RunRecord:
        """Record ``outcome`` of a run whose files are under ``run_dir`` (relative, POSIX).

        ``None``: its paths are relative to the sweep already (a reused run's).
        """
        return cls(
            run_id=run_id,
            index=tuple(int(i) for i in index),
            labels={k: json_safe(v) for k, v in labels.items()},
            overrides={k: json_safe(v) for k, v in overrides.items()},
            script_sha256=script_sha256,
            outcome=outcome if run_dir is None else outcome.rebased(run_dir),
        )

    @property
    def status(self) -> Status:
        """The outcome's status."""
        return self.outcome.status

    def to_dict(self) -> dict[str, Any]:
        """Return the manifest line's fields (JSON-safe, in their on-disk order)."""
        return {
            "run_id": self.run_id,
            "index": list(self.index),
            "labels": dict(self.labels),
            "overrides": dict(self.overrides),
            "script_sha256": self.script_sha256,
            **self.outcome.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Rebuild a manifest run line; raise ``ValueError`` if readers could not rely on it."""
        _check_run_line(data)
        return cls(
            run_id=int(data["run_id"]),
            index=tuple(data.get("index", ())),
            labels=dict(data.get("labels", {})),
            overrides=dict(data.get("overrides", {})),
            script_sha256=str(data.get("script_sha256") or ""),
            outcome=RunOutcome.from_dict(data),
        )


def is_int(value: Any) -> bool:
    """Tell whether ``value`` is an integer, and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: Any, what: str) -> int:
    if value is None:
        return 0
    if not is_int(value):
        raise ValueError(f"{what} must be an integer")
    return int(value)


def _check_run_line(record: Mapping[str, Any]) -> None:
    """Raise ValueError unless a run line has the shape every reader relies on."""
    if not is_int(record.get("run_id")) or record["run_id"] < 0:
        raise ValueError("run_id must be a non-negative integer")
    status, reason = record.get("status"), record.get("reason")
    if status == "ok":
        if reason is not None:
            raise ValueError("an ok run has no failure reason")
    elif status == "failed":
        if reason not in REASONS:
            raise ValueError(f"a failed run needs a reason in {REASONS}, got {reason!r}")
    else:
        raise ValueError(f"unknown status {status!r}")
    outputs = record.get("outputs", [])
    if not isinstance(outputs, list):
        raise ValueError("outputs must be a list")
    for out in outputs:
        if not isinstance(out, dict):
            raise ValueError("every output must be an object")
        if not isinstance(out.get("path"), str):
            raise ValueError("an output's path must be a string")
        check_name(out.get("name"), "an output's name")
        if out.get("kind") not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {out.get('kind')!r}")
        if not is_int(out.get("rows")) or out["rows"] < 0:
            raise ValueError("an output's rows must be a non-negative integer")
        check_relative(out["path"], "an output's path")
    if record.get("log") is not None:
        if not isinstance(record["log"], str):
            raise ValueError("log must be a string")
        check_relative(record["log"], "log")
    if not isinstance(record.get("derived", []), list):
        raise ValueError("derived must be a list")
    for key in ("labels", "overrides", "extra"):
        if not isinstance(record.get(key, {}), dict):
            raise ValueError(f"{key} must be an object")
    index = record.get("index", [])
    if not isinstance(index, list) or not all(is_int(i) for i in index):
        raise ValueError("index must be a list of integers")
    for key in ("error", "started", "ended", "host", "script_sha256"):
        if record.get(key) is not None and not isinstance(record[key], str):
            raise ValueError(f"{key} must be a string")
    for key in ("duration_s", "gmat_s"):
        value = record.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError(f"{key} must be a number")
