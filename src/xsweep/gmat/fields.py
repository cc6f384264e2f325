"""What a script holds, from the engine: every object, its type and its fields' values.

GMAT is the authority: the objects are the ones it configured when it
loaded the script, the fields and their types the ones each object reports,
``settable`` GMAT's own read-only flag (the fields a script may set), the
values read back through gmat-run as an override would write them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from xsweep.core.options import EngineKind
from xsweep.derived import units
from xsweep.gmat.engine import Engine, get_engine
from xsweep.gmat.loadtime import LOAD_TIME_TYPES
from xsweep.gmat.mission import VALUE_TYPES, parameters, resolve_object
from xsweep.gmat.sequence import overwrites, overwriting

# A failed read through gmat-run comes back as this text, not as an exception.
_UNREADABLE = "API exception caught"
# A spacecraft lists only its display state's elements; these, in its other common
# representations, are settable all the same (a state block writes X..VZ).
_STATE_ALIASES = ("X", "Y", "Z", "VX", "VY", "VZ", "SMA", "ECC", "INC", "RAAN", "AOP", "TA")


_UNSET = object()


def _read(mission: Any, path: str) -> Any:
    """Read a field as an override would write it; ``_UNSET`` if GMAT cannot."""
    try:
        value = mission[path]
    except Exception:
        return _UNSET
    if isinstance(value, str) and value.startswith(_UNREADABLE):
        return _UNSET
    return value


def _array(obj: Any, field: str) -> Any:
    """Read an array field gmat-run cannot (``MixRatio``: an Rvector) from GMAT's own text."""
    try:
        text = str(obj.GetField(field)).strip()
        value = json.loads(text) if text.startswith("[") else _UNSET
    except Exception:
        return _UNSET
    if isinstance(value, list) and all(isinstance(v, int | float) for v in value):
        return value
    return _UNSET


def _plain(value: Any) -> Any:
    """Return a value as plain Python (it crosses the child's pipe and goes into JSON)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _element_units(obj: Any, names: list[str], settable: list[bool]) -> dict[str, str]:
    """Map a spacecraft's state elements to their units (``Element1Units``...).

    GMAT lists the six elements of the spacecraft's state, in its state
    type's order, as the settable fields right after ``Epoch``; the
    ``ElementNUnits`` fields give their units in that order.
    """
    if "Epoch" not in names:
        return {}
    start = names.index("Epoch") + 1
    elements = [n for n, s in zip(names[start:], settable[start:], strict=True) if s][:6]
    units = {}
    for k, name in enumerate(elements, start=1):
        with contextlib.suppress(Exception):
            units[name] = str(obj.GetStringParameter(f"Element{k}Units"))
    return units


def object_fields(engine: Engine, mission: Any, name: str) -> list[dict[str, Any]]:
    """Return one row per readable field of the loaded object ``name``."""
    obj = engine.get_object(name)
    type_name = str(obj.GetTypeName())
    params = parameters(obj)
    names, settable = [p.name for p in params], [p.settable for p in params]
    units = _element_units(obj, names, settable) if type_name == "Spacecraft" else {}
    rows = []
    if type_name in VALUE_TYPES:  # swept by its bare name, ``TOF``: gmat-run's Value
        unit = ""
        with contextlib.suppress(Exception):
            unit = str(obj.GetStringParameter("Unit"))
        value = mission[f"{name}.Value"]
        kind = "Real" if type_name == "Variable" else "String"
        rows.append(_row(name, type_name, "Value", name, value, kind, unit, True))
    for param in params:
        field = param.name
        value = _read(mission, f"{name}.{field}")
        if value is _UNSET:
            value = _array(obj, field)
        if value is _UNSET:
            continue
        unit = units.get(field, "")
        if not unit:
            with contextlib.suppress(Exception):
                unit = str(obj.GetParameterUnit(param.id))
        path = f"{name}.{field}"
        rows.append(_row(name, type_name, field, path, value, param.gmat_type, unit,
                         param.settable))  # fmt: skip
    if type_name == "Spacecraft":
        rows += _state_aliases(obj, mission, name, {r["path"] for r in rows})
    return _owned_fields(obj, mission, name, type_name, rows)


def _state_aliases(obj: Any, mission: Any, name: str, seen: set[str]) -> list[dict[str, Any]]:
    rows = []
    for field in _STATE_ALIASES:
        path = f"{name}.{field}"
        if path in seen or not _accepts(obj, field):
            continue
        value = _read(mission, path)
        if value is not _UNSET:
            rows.append(_row(name, "Spacecraft", field, path, value, "Real", "", True))
    return rows


def _owned_fields(obj: Any, mission: Any, name: str, type_name: str,
                  rows: list[dict[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """Add the fields of the objects ``obj`` owns and addresses itself (``Prop.Accuracy``).

    A propagator's integrator answers as ``Prop.<field>``, a force model's
    gravity field as ``FM.GravityField.Earth.<field>``: a field is listed under
    the first of those paths its owner accepts, read as an override writes it.
    An owner that lists the field itself as read-only (a PropSetup its
    integrator's step sizes) gets the owned object's word on ``settable``.
    """
    seen = {r["path"]: r for r in rows}
    try:
        count = int(obj.GetOwnedObjectCount())
    except Exception:
        return rows
    for i in range(count):
        try:
            owned = obj.GetOwnedObject(i)
            owned_name = str(owned.GetName())
        except Exception:
            continue
        for param in parameters(owned):
            for field in (f"{owned_name}.{param.name}", param.name):
                path = f"{name}.{field}"
                if path in seen:
                    seen[path]["settable"] |= param.settable
                    break
                if not _accepts(obj, field):
                    continue
                value = _read(mission, path)
                if value is _UNSET:
                    continue
                seen[path] = _row(name, type_name, field, path, value, param.gmat_type, "",
                                  param.settable)  # fmt: skip
                rows.append(seen[path])
                break
    return rows


def _accepts(obj: Any, field: str) -> bool:
    try:
        obj.GetParameterID(field)
    except Exception:
        return False
    return True


def _row(obj: str, type_name: str, field: str, path: str, value: Any, kind: str, unit: str,
         settable: bool) -> dict[str, Any]:  # fmt: skip
    return {"object": obj, "type": type_name, "field": field, "path": path,
            "value": _plain(value), "gmat_type": kind, "units": unit,
            "settable": settable}  # fmt: skip


def list_fields(
    script: str | os.PathLike[str],
    objects: tuple[str, ...] | None = None,
    *,
    engine: EngineKind = "auto",
    gmat_root: str | os.PathLike[str] | None = None,
) -> list[dict[str, Any]]:
    """Load ``script`` and list its objects' fields (all objects, or ``objects``).

    The script's own objects come first, in the order it creates them, then
    GMAT's built-ins (``builtin``); a spacecraft's state, mass, area and
    coefficient fields come before its other ones. ``effect`` says whether a
    swept value reaches the run (see :func:`effect_of`).

    Raises
    ------
    ScriptNotFoundError, ScriptLoadError
        As loading the script for a run would.
    FieldError
        One of ``objects`` is not in the script.
    """
    eng = get_engine(engine, gmat_root=gmat_root)
    with eng.lock:
        mission = eng.load(script)
        created = created_objects(Path(script).read_text(encoding="utf-8", errors="replace"))
        names = eng.object_names() if objects is None else list(objects)
        names.sort(key=lambda n: created.index(n) if n in created else len(created))
        rows: list[dict[str, Any]] = []
        found = overwrites(eng.gmat)  # the sequence, walked once for every field
        for name in names:
            resolve_object(eng, name)
            own = sorted(object_fields(eng, mission, name), key=_rank)
            for row in own:
                row["builtin"] = name not in created
                row["effect"] = effect_of(row, found)
                field = str(row["field"])
                row["units"] = row["units"] or _KNOWN_UNITS.get(field) or units(field) or ""
            rows += own
    return rows


# A spacecraft's fields an analyst sweeps, in the order they look for them.
_FIRST = ("Epoch", "DateFormat", "CoordinateSystem", "DisplayStateType",
          *_STATE_ALIASES, "DryMass", "DragArea", "SRPArea", "Cd", "Cr")  # fmt: skip
# Units GMAT does not report for these fields (it does for the state and the tanks).
_KNOWN_UNITS = {"DryMass": "kg", "DragArea": "m^2", "SRPArea": "m^2"}
_CREATE = re.compile(r"^\s*Create\s+\w+\s+([^;%]+)", re.M)


def created_objects(script_text: str) -> list[str]:
    r"""Return the names the script ``Create``s, in its order.

    >>> created_objects("Create Spacecraft Sat;\nCreate ImpulsiveBurn TOI GOI;")
    ['Sat', 'TOI', 'GOI']
    """
    names: list[str] = []
    for found in _CREATE.finditer(script_text):
        names += [n for n in re.split(r"[\s,]+", found.group(1).strip()) if n]
    return names


def _rank(row: dict[str, Any]) -> int:
    field = str(row["field"])
    if row["type"] == "Spacecraft" and field in _FIRST:
        return _FIRST.index(field)
    return len(_FIRST)


def effect_of(row: dict[str, Any], found: dict[str, str]) -> str:
    """Say whether a swept value of the field reaches the run.

    ``"yes"``; ``"at load"`` (a force model's field: xsweep writes it into the
    script's text); ``"overwritten: <command>"`` (the mission sequence sets it
    first; refused unless ``allow_overwritten``); ``"read-only"``.
    """
    if not row["settable"]:
        return "read-only"
    command = overwriting(str(row["path"]), found)
    if command is not None:
        return f"overwritten: {command}"
    return "at load" if row["type"] in LOAD_TIME_TYPES else "yes"
