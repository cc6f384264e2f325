"""One run, inspected: its point, how it ended, its timings and the tail of GMAT's log."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xsweep.core.hooks import decode, kind_of
from xsweep.core.records import RunOutcome

LOG_LINES = 20
_BANNER = re.compile(r"^(=+|Log closed: .*)$")
# What GMAT logs on every run, whatever happens in it: the engine loading its kernels.
_NOISE = re.compile(
    r"^(Kernel .* has been loaded\.|Successfully set Planetary Source to use: .*"
    r"|Logging to .*|GMAT API Log: Created .*|GMAT Build Date: .*)$"
)


@dataclass(frozen=True)
class RunInfo:
    """Everything recorded about one run, as ``xsweep show DIR --run N`` prints it.

    Returned by :meth:`xsweep.Sweep.run_info`: ``str(info)`` is the CLI's
    text, :meth:`to_dict` its ``--json``, and a notebook shows it as a block.

    Attributes
    ----------
    run_id : int
        The run.
    status : {"ok", "failed", "pending"}
        Its latest outcome; ``"pending"``: planned, never recorded.
    labels, overrides : dict
        Its point: coordinate labels, and the field values GMAT got.
    outcome : RunOutcome or None
        Its latest recorded outcome (``None`` for a pending run).
    log_tail : tuple of str
        The last lines of GMAT's log, empty when the log was not kept (a
        bundle archived without ``include_logs``).
    """

    run_id: int
    status: str
    labels: Mapping[str, Any]
    overrides: Mapping[str, Any]
    outcome: RunOutcome | None = None
    log_tail: tuple[str, ...] = ()

    @property
    def reason(self) -> str | None:
        """Why a failed run failed (``gmat-error``, ``exception``, ``crashed``, ``timeout``)."""
        return None if self.outcome is None else self.outcome.reason

    @property
    def error(self) -> str | None:
        """GMAT's error or the exception text of a failed run."""
        return None if self.outcome is None else self.outcome.error

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict: the point, the outcome as the manifest has it, the log tail."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "labels": dict(self.labels),
            "overrides": dict(self.overrides),
            "outcome": None if self.outcome is None else self.outcome.to_dict(),
            "log_tail": list(self.log_tail),
        }

    def lines(self) -> list[str]:
        """Return the text lines of ``str(info)``."""
        state = self.status if self.reason is None else f"{self.status}: {self.reason}"
        out = [f"run        {self.run_id} ({state})"]
        if self.labels:
            out.append("labels     " + _pairs(self.labels))
        out.append("point      " + _pairs(self.overrides))
        if self.outcome is not None:
            out += _outcome_lines(self.outcome)
        if self.outcome is not None and self.outcome.log:
            kept = f"last {len(self.log_tail)} lines" if self.log_tail else "not kept here"
            out.append(f"log        {self.outcome.log} ({kept})")
            out += [f"  | {line}" for line in self.log_tail]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        state = self.status if self.reason is None else f"{self.status}: {self.reason}"
        return f"<xsweep.RunInfo run {self.run_id} ({state}): {_pairs(self.overrides)}>"

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


def _outcome_lines(outcome: RunOutcome) -> list[str]:
    out = [f"started    {outcome.started}", f"ended      {outcome.ended}"]
    timing = f"duration   {outcome.duration_s:.3f} s"
    if math.isfinite(outcome.gmat_s) and outcome.gmat_s:
        timing += f" (GMAT {outcome.gmat_s:.3f} s)"
    if outcome.attempts:
        timing += f", attempt {outcome.attempts}"
    if outcome.host:
        timing += f", on {outcome.host} pid {outcome.pid}"
    out.append(timing)
    if outcome.reused is not None:
        src = outcome.reused
        out.append(f"reused     run {src.get('run_id')} of sweep {src.get('sweep_id')} (not run)")
    where = "{o.path}" if outcome.kept else "summary only (re-fly it for the rows)"
    entries = [
        f"{o.kind} {o.name}: " + where.format(o=o) + f" ({o.rows} rows)" for o in outcome.outputs
    ]
    entries += [f"{p.kind} {p.name}: {p.status}: {p.error}" for p in outcome.problems]
    out += _block("outputs", entries)
    derived = []
    for result in outcome.derived:
        if result.ok:
            values = ", ".join(f"{k}={_value(v)}" for k, v in result.values.items())
            derived.append(f"{result.fn}: {values}")
        else:
            derived.append(f"{result.fn}: derive-failed: {result.error}")
    out += _block("derived", derived)
    if outcome.error:
        out += _block("error", outcome.error.strip().splitlines())
    return out


def _pairs(values: Mapping[str, Any]) -> str:
    """``name=value, ...``, a float to 10 significant digits (the record keeps them all)."""
    return ", ".join(f"{k}={float(f'{v:.10g}')}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in values.items())  # fmt: skip


def _block(title: str, entries: list[str]) -> list[str]:
    """Return ``entries`` under a left-column title, one per line, aligned."""
    return [f"{title if i == 0 else '':<10} {e}" for i, e in enumerate(entries)]


def _value(encoded: Any) -> str:
    kind = kind_of(encoded)
    if kind is None:
        return "nan"
    value = decode(encoded, kind[0])
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def tail(text: str | None, n: int) -> tuple[str, ...]:
    """Return the last ``n`` non-blank lines of a GMAT log, its closing banner left out."""
    if not text or n <= 0:
        return ()
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not _NOISE.match(line)]
    while lines and _BANNER.match(lines[-1]):  # GMAT's closing banner says nothing of the run
        lines.pop()
    return tuple(lines[-n:])


def first_line(text: Any) -> str:
    """Return the first non-blank line of ``text``, stripped (``""`` for none)."""
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""
