"""Fields GMAT reads only while it loads a script: set in the script's text, as a hand edit.

A ``Propagator`` takes its own copy of its ``ForceModel`` when the script is
loaded, so a force-model field written through the API afterwards (gravity
degree and order, drag, the atmosphere model, SRP, point masses) never reaches
the propagation. Such an override is written instead as an assignment just
before ``BeginMissionSequence`` in a copy of the script beside it (its
``#Include``s and relative files resolve as before), and that copy is loaded:
GMAT applies resource assignments in order, so the run is the run of the
script hand-edited to that value (a test compares them bit for bit).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

# Object types whose fields are copied into other objects at load time.
LOAD_TIME_TYPES = frozenset({"ForceModel"})
_SEQUENCE = re.compile(r"^[ \t]*BeginMissionSequence\b", re.M)


def literal(gmat: Any, obj: Any, field: str, value: Any) -> str:
    """Return ``value`` as GMAT script text for ``obj``'s ``field`` (by the field's type)."""
    kind = obj.GetParameterType(obj.GetParameterID(field))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + " ".join(repr(float(v)) for v in value) + "]"
    if kind in (gmat.STRING_TYPE, gmat.FILENAME_TYPE):
        return "'" + str(value).replace("'", "") + "'"
    return str(value)  # an enumeration, On/Off, an object's name: a bare word


def assignments_text(script: str, lines: Mapping[str, str]) -> str:
    r"""Return ``script`` with ``path = literal;`` lines just before its mission sequence.

    Examples
    --------
    >>> text = "Create ForceModel FM;\nFM.SRP = Off;\nBeginMissionSequence;\n"
    >>> print(assignments_text(text, {"FM.SRP": "On"}), end="")
    Create ForceModel FM;
    FM.SRP = Off;
    % xsweep: the sweep's values of fields GMAT reads while loading
    FM.SRP = On;
    BeginMissionSequence;
    """
    block = "% xsweep: the sweep's values of fields GMAT reads while loading\n"
    block += "".join(f"{path} = {text};\n" for path, text in lines.items())
    found = _SEQUENCE.search(script)
    if found is None:
        return script.rstrip("\n") + "\n" + block
    return script[: found.start()] + block + script[found.start() :]


@contextlib.contextmanager
def edited_copy(script: Path, lines: Mapping[str, str]) -> Iterator[Path]:
    """Yield a copy of ``script`` with ``lines`` assigned, beside it (else in a temp dir)."""
    text = assignments_text(script.read_text(encoding="utf-8", errors="replace"), lines)
    name = f".xsweep-{os.getpid()}-{uuid.uuid4().hex[:8]}-{script.name}"
    for folder in (script.parent, Path(tempfile.gettempdir())):
        path = folder / name
        try:
            path.write_text(text, encoding="utf-8")
        except OSError:  # a read-only folder: relative files may then not resolve
            continue
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)
        return
    raise OSError(f"cannot write a copy of {script} to set its load-time fields")
