"""A run's outputs as its records name them: written files, problems, summaries.

:class:`OutputFile` is one output converted to Parquet, :class:`OutputProblem`
one an ok run could not write, :class:`OutputSummary` one output in a few
numbers (what a sweep that keeps summaries, ``keep=``, keeps of every run):
built in the GMAT child (:mod:`xsweep.gmat.summary`), carried in the run's
manifest line, and from there into the store's ``summaries/<name>`` groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xsweep.core.paths import check_name, check_relative
from xsweep.core.vocabulary import OUTPUT_KINDS, PROBLEM_STATUSES, OutputKind, ProblemStatus

SUMMARY_STATS = ("final", "min", "max")
_SUMMARY_KINDS = frozenset("fmMU")


@dataclass(frozen=True)
class OutputSummary:
    """An output of one run in a few numbers: its final row, each column's extremes.

    Values are as the store holds them: numbers as floats (``None`` for NaN),
    epochs as int64 nanoseconds since 1970, durations in seconds, text as
    text (its minimum and maximum are ``None``). ``min_at`` and ``max_at``
    hold the epoch (nanoseconds) of the first row reaching each extreme, and
    ``None`` for an output without an epoch column or a column without numbers.

    Attributes
    ----------
    columns : tuple of str
        The output's columns, in its order.
    kinds : str
        One letter a column: ``f`` number, ``m`` duration, ``M`` epoch, ``U`` text.
    final, min, max, min_at, max_at : tuple
        One value a column.
    """

    columns: tuple[str, ...]
    kinds: str
    final: tuple[Any, ...]
    min: tuple[Any, ...]
    max: tuple[Any, ...]
    min_at: tuple[int | None, ...]
    max_at: tuple[int | None, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict (one list a statistic)."""
        return {"columns": list(self.columns), "kinds": self.kinds, "final": list(self.final),
                "min": list(self.min), "max": list(self.max), "min_at": list(self.min_at),
                "max_at": list(self.max_at)}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputSummary:
        """Rebuild from :meth:`to_dict` output; raise ``ValueError`` for one readers cannot use."""
        columns, kinds = data.get("columns"), data.get("kinds")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ValueError("a summary's columns are a list of names")
        if not isinstance(kinds, str) or len(kinds) != len(columns) or set(kinds) - _SUMMARY_KINDS:
            raise ValueError("a summary's kinds are one of f, m, M, U a column")
        stats = []
        for key in ("final", "min", "max", "min_at", "max_at"):
            values = data.get(key)
            if not isinstance(values, list) or len(values) != len(columns):
                raise ValueError(f"a summary's {key} has one value a column")
            if not all(v is None or isinstance(v, int | float | str) for v in values):
                raise ValueError(f"a summary's {key} holds numbers, text or null")
            stats.append(tuple(values))
        return cls(tuple(columns), kinds, *stats)


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
    digest : str or None
        A short hash of the output's values (its columns and every row): two
        runs whose outputs are the same have the same digest. ``None`` for
        outputs recorded before xsweep kept it.
    summary : OutputSummary or None
        Its summary, in a sweep that keeps summaries (``keep=``); a run not
        kept in full has no file at ``path``.
    ipc : bytes or None
        A small output's table (what its Parquet file holds) as an Arrow IPC
        stream, in transit from the GMAT child to the store, which then need
        not read the file back; never written (``None`` once read from a
        manifest or a marker).
    """

    kind: OutputKind
    name: str
    path: str
    rows: int
    digest: str | None = None
    summary: OutputSummary | None = None
    ipc: bytes | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "path": self.path}
        out["rows"] = self.rows
        if self.digest is not None:
            out["digest"] = self.digest
        if self.summary is not None:
            out["summary"] = self.summary.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputFile:
        """Rebuild from :meth:`to_dict` output."""
        kind = data["kind"]
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {kind!r}")
        digest = data.get("digest")
        if digest is not None and (not isinstance(digest, str) or len(digest) > 64):
            raise ValueError(f"an output's digest is a short hex string, got {digest!r:.40}")
        summary = data.get("summary")
        if summary is not None:
            if not isinstance(summary, Mapping):
                raise ValueError("an output's summary is an object")
            summary = OutputSummary.from_dict(summary)
        return cls(kind, str(data["name"]), str(data["path"]), int(data["rows"]), digest, summary)


@dataclass(frozen=True)
class OutputProblem:
    """An output of a finished run that is not in Parquet, and why.

    Attributes
    ----------
    kind : {"report", "ephemeris", "contact", "solver"}
        The GMAT resource's kind.
    name : str
        The GMAT resource name.
    status : {"unparsed", "absent"}
        ``"unparsed"``: GMAT wrote the file and gmat-run could not parse it
        (the raw file is kept); ``"absent"``: GMAT never wrote it (a
        ``ReportFile`` no command writes to).
    error : str
        The parser's message, or what was looked for.
    raw : str or None
        POSIX path of the kept raw file, relative to the run directory
        (``None`` for an absent output).
    """

    kind: OutputKind
    name: str
    status: ProblemStatus
    error: str
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        return {
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "error": self.error,
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutputProblem:
        """Rebuild from :meth:`to_dict` output."""
        if data["kind"] not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {data['kind']!r}")
        if data["status"] not in PROBLEM_STATUSES:
            raise ValueError(f"unknown output status {data['status']!r}")
        raw = data.get("raw")
        check_name(data["name"], "an output's name")
        if raw is not None:
            check_relative(str(raw), "a kept raw file")
        return cls(data["kind"], str(data["name"]), data["status"], str(data.get("error") or ""),
                   None if raw is None else str(raw))  # fmt: skip
