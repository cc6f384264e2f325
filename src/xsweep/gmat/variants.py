"""Output format variants gmat-run 0.6.0 refuses, read through gmat-run all the same.

**A solver log that names a variable twice.** A ``Target`` whose two ``Vary``
commands vary the same field (one ``ImpulsiveBurn`` fired twice, as station
keeping does) makes GMAT list that name twice, in the header and in every
iteration. gmat-run keys an iteration's variables by name, so the repeats
collapse and it refuses the file: ``header declares 2 variables but
iterations carry 1``. The same holds for two ``Achieve`` lines on one goal.
The copy handed to gmat-run's own parser numbers the repeats in order of
appearance (``TOI.Element1``, ``TOI.Element1#2``), in the header lists and in
every iteration, so each ``Vary`` keeps its own column and every value is
gmat-run's. ``#`` cannot occur in a GMAT name, so a numbered name never
meets a real one.

``XSWEEP_OUTPUT_VARIANTS=0`` turns this off: such an output is then kept
unparsed, as gmat-run judges it.
"""

from __future__ import annotations

import re
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
from gmat_run.parsers import solver_log

VARIANT_ATTR = "xsweep_variant"
_SECTIONS = ("*** Variables:", "*** Goals:", "Variables:", "Goals and achieved values:")
_NAME = re.compile(r"^(?P<lead>\*{3}\s+|\s+)(?P<name>[^\s=]+)(?P<rest>(\s*=|\s+Desired:|\s*$).*)$")


def number_repeated_names(text: str) -> str | None:
    """Return ``text`` with repeated names numbered per section, or None if none repeat."""
    lines = text.split("\n")
    changed = False
    seen: Counter[str] | None = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped in _SECTIONS:
            seen = Counter()
            continue
        if seen is None:
            continue
        if stripped.startswith("Tolerance:"):
            continue  # a goal's second line, under the goal
        match = _NAME.match(line)
        if not stripped or stripped == "***" or match is None:
            seen = None  # a section ends at its first blank or foreign line
            continue
        name = match.group("name")
        seen[name] += 1
        if seen[name] > 1:
            lines[i] = f"{match.group('lead')}{name}#{seen[name]}{match.group('rest')}"
            changed = True
    return "\n".join(lines) if changed else None


def parse_solver_variant(path: Path, max_iterations: int | None) -> pd.DataFrame | None:
    """Parse a solver log with repeated names through gmat-run; None if it is not one."""
    numbered = number_repeated_names(path.read_text(encoding="utf-8", errors="replace"))
    if numbered is None:
        return None
    with tempfile.TemporaryDirectory(prefix="xsweep-variant-") as scratch:
        copy = Path(scratch) / path.name
        copy.write_text(numbered, encoding="utf-8")
        frame = solver_log.parse(copy, max_iterations=max_iterations)
    frame.attrs.pop("source_path", None)
    frame.attrs[VARIANT_ATTR] = "repeated solver names numbered (name#2, ...)"
    return frame
