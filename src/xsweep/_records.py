"""Records that cross process and disk boundaries.

They are frozen dataclasses with one serialiser each (``to_dict`` /
``from_dict``, JSON-safe), so the same record travels from a GMAT child
process to a Dask worker, to the client and into the manifest unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, get_args

Status = Literal["ok", "failed"]
Reason = Literal["gmat-error", "exception", "crashed", "timeout"]
OutputKind = Literal["report", "ephemeris", "contact", "solver"]

STATUSES: tuple[Status, ...] = get_args(Status)
REASONS: tuple[Reason, ...] = get_args(Reason)
OUTPUT_KINDS: tuple[OutputKind, ...] = get_args(OutputKind)


def now_iso() -> str:
    """Return the current UTC time, ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class OutputFile:
    """One GMAT output of a run, converted to Parquet.

    Attributes
    ----------
    kind : {"report", "ephemeris", "contact", "solver"}
        What GMAT resource produced it: a ``ReportFile``, an ``EphemerisFile``,
        a ``ContactLocator`` or a solver's iteration log.
    name : str
        The GMAT resource name (``"RF"``, ``"DC"``...).
    path : str
        POSIX path of the Parquet file, relative to the run's directory.
    rows : int
        Number of rows (report steps, ephemeris points, contact intervals,
        solver iterations).
    """

    kind: OutputKind
    name: str
    path: str
    rows: int

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {"kind": self.kind, "name": self.name, "path": self.path, "rows": self.rows}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputFile:
        """Rebuild from :meth:`to_dict` output."""
        kind = data["kind"]
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {kind!r}")
        return cls(
            kind=kind, name=str(data["name"]), path=str(data["path"]), rows=int(data["rows"])
        )


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

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        if self.status == "ok" and self.reason is not None:
            raise ValueError("an ok run has no failure reason")
        if self.status == "failed" and self.reason not in REASONS:
            raise ValueError(f"a failed run needs a reason in {REASONS}, got {self.reason!r}")

    @property
    def ok(self) -> bool:
        """True when the run succeeded."""
        return self.status == "ok"

    def output(self, kind: OutputKind, name: str) -> OutputFile:
        """Return the output of ``kind`` named ``name`` (``KeyError`` if absent)."""
        for out in self.outputs:
            if out.kind == kind and out.name == name:
                return out
        raise KeyError(f"{kind} {name!r}")

    def rebased(self, prefix: str) -> RunOutcome:
        """Return a copy whose paths are prefixed with ``prefix`` (a POSIX directory)."""
        prefix = prefix.rstrip("/") + "/"
        outs = tuple(replace(o, path=prefix + o.path) for o in self.outputs)
        log = None if self.log is None else prefix + self.log
        return replace(self, outputs=outs, log=log)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "status": self.status,
            "reason": self.reason,
            "outputs": [o.to_dict() for o in self.outputs],
            "started": self.started,
            "ended": self.ended,
            "duration_s": self.duration_s,
            "gmat_s": self.gmat_s,
            "error": self.error,
            "log": self.log,
            "host": self.host,
            "pid": self.pid,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOutcome:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            status=data["status"],
            reason=data.get("reason"),
            outputs=tuple(OutputFile.from_dict(o) for o in data.get("outputs", ())),
            started=str(data["started"]),
            ended=str(data["ended"]),
            duration_s=float(data["duration_s"]),
            gmat_s=float(data.get("gmat_s", 0.0)),
            error=data.get("error"),
            log=data.get("log"),
            host=str(data.get("host", "")),
            pid=int(data.get("pid", 0)),
            extra=dict(data.get("extra", {})),
        )
