"""What a space Dataset may hold: field paths, the fields and labels of a space, its check."""

from __future__ import annotations

import json
import re
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from xsweep.core.epochs import EPOCH_FORMS, is_epoch_field, parse_epoch
from xsweep.core.errors import SpaceError
from xsweep.core.vocabulary import RESERVED

ROLE_ATTR = "xsweep_role"
DRAW_ATTR = "xsweep_draw"

_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def check_n(n: Any) -> None:
    """Refuse a sample count that is not an integer >= 1."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise SpaceError(f"n must be an integer >= 1, got {n!r}")


def check_path(field: Hashable) -> None:
    """Refuse a name that is not a GMAT field path."""
    if not isinstance(field, str) or not _PATH.match(field):
        raise SpaceError(
            f"{field!r} is not a GMAT field path: expected 'Object.Field', "
            "'Object.Sub.Field' or a script Variable name (letters, digits, '_')"
        )


def is_field(space: xr.Dataset, name: Hashable) -> bool:
    """Return True when variable ``name`` of ``space`` is a field (an override)."""
    if name in space.data_vars:
        return True
    if name in space.dims and name in space.coords:
        var = space.coords[name]
        return (isinstance(name, str) and "." in name) or var.attrs.get(ROLE_ATTR) == "field"
    return False


def field_names(space: xr.Dataset) -> list[str]:
    """Return the field paths of ``space``: data variables first, then field dim coords."""
    names = [str(n) for n in space.data_vars]
    names += [str(n) for n in space.dims if n not in space.data_vars and is_field(space, n)]
    return names


def validate(space: xr.Dataset) -> dict[str, dict[str, Any]]:
    """Raise :class:`SpaceError` unless ``space`` is a well-formed parameter space.

    Returns the parsed draw recipe of every random field, by field name.
    """
    if not isinstance(space, xr.Dataset):
        raise SpaceError(f"a space is an xarray.Dataset, got {type(space).__name__}")
    fields = field_names(space)
    if not fields:
        raise SpaceError(
            "the space has no fields: data variables (or dotted dimension coordinates) "
            "name the GMAT fields to vary"
        )
    for dim, size in space.sizes.items():
        if dim in RESERVED:
            raise SpaceError(
                f"dim {dim!r} collides with a name the sweep store reserves "
                f"({', '.join(sorted(RESERVED))}); rename it"
            )
        if size == 0:
            raise SpaceError(f"dim {dim!r} is empty: a space needs at least one value per axis")
        if dim in space.indexes and not space.indexes[dim].is_unique:
            dupes = space.indexes[dim][space.indexes[dim].duplicated()].unique().tolist()
            raise SpaceError(f"dim {dim!r} has duplicate labels: {dupes[:5]}")
    for name in fields:
        check_path(name)
        if name in RESERVED:
            raise SpaceError(f"field {name!r} collides with a reserved store name")
    # Fields and labels alike go into the manifest as JSON and onto the store's axes.
    for label, var in space.variables.items():
        values = var.values
        kind = values.dtype.kind
        if kind not in "biufUMO":
            raise SpaceError(
                f"{label}: {values.dtype} values are not GMAT values; use numbers, strings, "
                "booleans or datetimes"
            )
        if kind == "f" and not np.all(np.isfinite(values)):
            raise SpaceError(f"{label}: values must be finite (found NaN or inf)")
        if kind == "M" and np.any(np.isnat(values)):
            raise SpaceError(f"{label}: values hold NaT")
        if kind == "O" and not all(isinstance(v, str) for v in values.ravel()):
            raise SpaceError(f"{label}: object values must all be strings")
    for name in fields:
        if is_epoch_field(name):
            _check_epochs(name, space[name].values)
    return {
        str(var): _recipe_of(space, str(var))
        for var in space.data_vars
        if DRAW_ATTR in space[var].attrs
    }


def _check_epochs(name: str, values: np.ndarray) -> None:
    """Refuse an epoch field's value that no form of epoch reads (before any run)."""
    if values.dtype.kind in "Mfiu":
        return
    for value in np.unique(values.astype(object).ravel())[:100_000]:
        if parse_epoch(value) is None:
            raise SpaceError(f"{name}: {value!r} is not an epoch; give {EPOCH_FORMS}")


def _recipe_of(space: xr.Dataset, name: str) -> dict[str, Any]:
    try:
        recipe: dict[str, Any] = json.loads(space[name].attrs[DRAW_ATTR])
        recipe["entropy"] = int(recipe["entropy"])
        if recipe["method"] not in ("monte_carlo", "latin_hypercube", "qmc", "gmat_sweep"):
            raise ValueError(recipe["method"])
        if sum(recipe["blocks"]) != space.sizes[recipe["dim"]]:
            raise ValueError("blocks do not add up to the dim size")
    except (KeyError, ValueError, TypeError) as exc:
        raise SpaceError(f"{name}: malformed draw recipe ({exc})") from None
    return recipe
