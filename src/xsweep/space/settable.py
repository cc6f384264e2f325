"""What a script lets you sweep, and its values now: :func:`fields`; draws around them.

Both ask GMAT, in a child process: the engine that will run the sweep is the
authority on which objects and fields exist and what they hold.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from xsweep.core.errors import SpaceError
from xsweep.core.options import EngineKind
from xsweep.gmat.child import FieldsRequest, ReadRequest
from xsweep.gmat.closure import script_file
from xsweep.gmat.pool import ask
from xsweep.space.draws import RELATIVE, is_relative, nominal

COLUMNS = ["object", "type", "field", "value", "gmat_type", "units", "settable", "effect",
           "builtin"]  # fmt: skip


def fields(
    script: str | os.PathLike[str],
    *,
    objects: str | Sequence[str] | None = None,
    settable: bool = True,
    all: bool = False,
    engine: EngineKind = "auto",
    gmat_root: str | os.PathLike[str] | None = None,
    timeout: float = 120.0,
) -> pd.DataFrame:
    """List what a script lets you sweep: every object, its fields and their values now.

    GMAT loads the script in a child process (as a sweep's planning check
    does) and reports, for each object it configured, the object's type and
    each field's name, value, GMAT type, units (where GMAT knows them: a
    spacecraft's state elements, a Variable's ``Unit``) and whether a script
    may set it. The index is the path a space uses (``"Sat.SMA"``, ``"TOF"``
    for a Variable).

    A DataFrame, not a Dataset: the rows are ragged (each object type has
    its own fields) and the values of mixed kinds (numbers, names, lists,
    epochs as text), so a table you filter (``df.loc["Sat.SMA"]``,
    ``df[df.object == "Sat"]``) fits them; a Dataset would be a sparse
    object-by-field grid of Python objects.

    Parameters
    ----------
    script : path-like
        The GMAT script.
    objects : str or sequence of str, optional
        Only these objects (default: the script's own, in the order it
        creates them).
    settable : bool, default True
        Only the fields a script may set (GMAT's read-only ones left out).
    all : bool, default False
        Also GMAT's built-in objects (coordinate systems, solar-system
        bodies) and read-only fields.
    engine, gmat_root
        As for :func:`xsweep.run`.
    timeout : float
        Seconds GMAT may take to load the script.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``path``; columns ``object``, ``type``, ``field``,
        ``value``, ``gmat_type``, ``units``, ``settable``, ``effect`` (whether a
        swept value reaches the run: ``"yes"``, ``"at load"`` for a force
        model's field, ``"overwritten: <command>"``, ``"read-only"``) and
        ``builtin`` (an object GMAT has without the script creating it).

    Raises
    ------
    ScriptNotFoundError, ScriptLoadError
        The script is missing, or GMAT cannot load it.
    FieldError
        One of ``objects`` is not in the script (with close names).

    Examples
    --------
    >>> import xsweep as xs
    >>> df = xs.fields("examples/missions/leo_report.script", objects="Sat")
    >>> df.loc["Sat.SMA", ["value", "units"]].tolist()
    [7000.0, 'km']
    """
    wanted = None if objects is None else (objects,) if isinstance(objects, str) else tuple(objects)
    root = None if gmat_root is None else str(gmat_root)
    rows = ask(FieldsRequest(str(script_file(script)), wanted), engine, root, timeout=timeout)
    frame = pd.DataFrame(rows, columns=["path", *COLUMNS])
    if not all:
        frame = frame[~frame["builtin"].astype(bool)] if objects is None else frame
        frame = frame[frame["settable"]] if settable else frame
    return frame.set_index("path")


def resolve_relative(
    perturb: Mapping[Any, Any],
    script: str | os.PathLike[str] | None,
    *,
    timeout: float = 120.0,
) -> dict[Any, Any]:
    """Put the script's values into ``perturb`` specs relative to them.

    ``xs.nominal`` anywhere in a spec becomes the field's value in the
    script (for a block, its vector of values); ``("scale", lo, hi)``
    becomes ``("uniform", lo * value, hi * value)``. Other specs pass
    through. The values are read once, in a GMAT child.

    Raises
    ------
    SpaceError
        A relative spec without ``script``, or a field whose value is not a number.
    """
    relative = {key: spec for key, spec in perturb.items() if is_relative(spec)}
    if not relative:
        return dict(perturb)
    if script is None:
        key = next(iter(relative))
        raise SpaceError(
            f"{key}: {relative[key]!r} is relative to the script's value; pass script= "
            "(the GMAT script to read it from)"
        )
    paths = tuple(dict.fromkeys(f for key in relative for f in _keys(key)))
    values = ask(ReadRequest(str(script_file(script)), paths), "auto", None, timeout=timeout)
    out = dict(perturb)
    for key, spec in relative.items():
        value = [_number(f, values[f]) for f in _keys(key)]
        here = value if isinstance(key, tuple) else value[0]
        out[key] = _concrete(key, spec, here)
    return out


def _keys(key: Any) -> tuple[str, ...]:
    return tuple(key) if isinstance(key, tuple) else (key,)


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SpaceError(f"{field}: its value in the script, {value!r}, is not a finite number")
    return float(value)


def _concrete(key: Any, spec: Sequence[Any], value: float | list[float]) -> tuple[Any, ...]:
    if spec[0] != RELATIVE:
        return tuple(value if v is nominal else v for v in spec)
    if isinstance(key, tuple) or len(spec) != 3:
        raise SpaceError(f"{key}: expected ('scale', lo, hi) for one field, got {spec!r}")
    _, lo, hi = spec
    assert isinstance(value, float)
    a, b = (_number(f"{key} scale lo", lo) * value, _number(f"{key} scale hi", hi) * value)
    if a == b:
        raise SpaceError(f"{key}: ('scale', {lo!r}, {hi!r}) of {value!r} is a single value")
    return ("uniform", min(a, b), max(a, b))
