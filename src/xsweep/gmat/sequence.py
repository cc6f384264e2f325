"""The mission sequence as GMAT parsed it: the commands that overwrite a swept field.

A value the sequence sets (``Vary DC(TOI.Element1 = 0.5, ...)``, or an
assignment ``x = 5`` before the first ``Propagate``) replaces the swept one when
the run gets there, so the sweep would change nothing. GMAT's own parse of the
loaded script is walked (its command list, branch commands' children
included), rather than a second parser of the script's text: what is checked is
what GMAT will run. The line is found in the script text for the message.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_MAX_COMMANDS = 1_000_000  # a sequence is finite; a damaged list must not loop forever
_VARY = re.compile(r"^\s*Vary\s+\w+\s*\(\s*([^=,\s()]+)\s*=")
_ASSIGN = re.compile(r"^\s*(?:GMAT\s+)?([A-Za-z_][\w.]*)\s*=(?!=)")


def commands(gmat: Any) -> Iterator[Any]:
    """Yield the loaded mission's commands in order, a branch's children after it."""
    first = gmat.Moderator.Instance().GetFirstCommand()
    yield from _chain(first, None, [0])


def _chain(cmd: Any, parent: Any, count: list[int]) -> Iterator[Any]:
    stop = None if parent is None else int(parent.this)
    while cmd is not None and (stop is None or int(cmd.this) != stop):
        count[0] += 1
        if count[0] > _MAX_COMMANDS:
            return
        yield cmd
        child = cmd.GetChildCommand(0) if hasattr(cmd, "GetChildCommand") else None
        if child is not None:
            yield from _chain(child, cmd, count)
        cmd = cmd.GetNext()


def _names(path: str) -> set[str]:
    """Return the names a script gives ``path``: a Variable ``TOF`` is also ``TOF.Value``."""
    return {path, path.removesuffix(".Value")}


def overwrites(gmat: Any) -> dict[str, str]:
    """Return, by the name it sets, the first command that overwrites a field before use.

    A ``Vary`` of it anywhere (the solver sets it), or an assignment to it
    before the first ``Propagate``. One walk of the sequence answers every field.
    """
    found: dict[str, str] = {}
    propagated = False
    for cmd in commands(gmat):
        kind = str(cmd.GetTypeName())
        text = str(cmd.GetGeneratingString()).strip()
        if kind == "Vary" and (vary := _VARY.match(text)):
            found.setdefault(vary.group(1), text.split(",", 1)[0] + ", ...)")
        elif kind == "GMAT" and not propagated and (assign := _ASSIGN.match(text)):
            found.setdefault(assign.group(1), text.removeprefix("GMAT ").rstrip(";"))
        elif kind == "Propagate":
            propagated = True
    return found


def overwriting(path: str, found: dict[str, str]) -> str | None:
    """Return the command of :func:`overwrites` that sets ``path`` (``TOF`` or ``TOF.Value``)."""
    return next((found[name] for name in sorted(_names(path)) if name in found), None)


def line_of(script_text: str, path: str, vary: bool) -> int | None:
    """Return the 1-based line of the sequence that ``Vary``s (or assigns) ``path``."""
    names = "|".join(re.escape(n) for n in sorted(_names(path), key=len, reverse=True))
    pattern = re.compile(
        rf"^\s*Vary\s+\w+\s*\(\s*(?:{names})\s*=" if vary else rf"^\s*(?:{names})\s*="
    )
    in_sequence = False
    for number, line in enumerate(script_text.splitlines(), start=1):
        code = line.split("%", 1)[0]
        in_sequence = in_sequence or bool(re.match(r"^\s*BeginMissionSequence\b", code))
        if in_sequence and pattern.match(code):
            return number
    return None
