"""Refining a grid: new values for its dims, crossed with every other (``xs.extend(grid=)``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from xsweep.core.errors import SpaceError
from xsweep.space.designs import _mapping, _values
from xsweep.space.spaces import Space
from xsweep.space.validation import is_field


def refine(space: Space, grid: Mapping[str, Any]) -> tuple[Space, dict[str, list[Any]]]:
    """Return ``space`` with more values on grid dims, and the values skipped as present.

    Each dim grows at its end, one growth step per dim in the order given (see
    ``_growth``), so the old runs keep their ids and index positions.

    Raises
    ------
    SpaceError
        A name that is not a grid dim of the space (a new dim, a drawn or zipped
        field), a value of the wrong type, or nothing new to add.
    """
    grid = _mapping("grid", grid)
    if not grid:
        raise SpaceError("grid= needs at least one dim and its new values")
    ds, steps, skipped = space.dataset, [], {}
    for dim, given in grid.items():
        _check_refinable(space, dim)
        old = ds[dim]
        values = _values(dim, given)
        if old.dtype.kind == "M" and values.dtype.kind == "U":  # epochs from the command line
            try:
                values = _values(dim, list(pd.to_datetime(values)))
            except ValueError as exc:
                raise SpaceError(f"{dim}: {values.tolist()} are not epochs ({exc})") from None
        if len(set(values.tolist())) != len(values):
            raise SpaceError(f"{dim}: the new values repeat themselves: {values.tolist()}")
        was, got, numbers = old.dtype.kind, values.dtype.kind, set("iuf")
        if (was in numbers) != (got in numbers) or (was not in numbers and was != got):
            raise SpaceError(f"{dim} holds {old.dtype} values; got {values.tolist()}")
        cast = values if was == "U" else values.astype(old.dtype)  # "U": keep the longer strings
        if was in "iu" and not np.array_equal(cast, values):
            raise SpaceError(f"{dim} holds integers; {values.tolist()} are not all integers")
        present = np.isin(cast, old.values)
        skipped[dim] = cast[present].tolist()
        new = cast[~present]
        if not len(new):
            continue
        attrs = dict(old.attrs)
        ds = ds.reindex({dim: np.concatenate([old.values, new])})
        ds[dim].attrs = attrs
        steps.append((dim, int(old.size), int(new.size)))
    if not steps:
        raise SpaceError(f"every value given is already in the sweep: {skipped}")
    return Space(space.grown(ds, steps), dims=space.dims), {k: v for k, v in skipped.items() if v}


def _check_refinable(space: Space, dim: str) -> None:
    """Raise unless ``dim`` is a grid axis of ``space``: a field coordinate alone on its dim."""
    ds = space.dataset
    if dim not in ds.dims:
        if dim in ds.variables:
            raise SpaceError(
                f"{dim} is not a grid axis of this sweep (it is drawn, zipped or on a renamed "
                "dim); only a grid dim can take new values"
            )
        raise SpaceError(
            f"{dim} is not a dim of this sweep, so it cannot be refined: every existing run "
            "would need a value for it, and a run's value is what the script had, which the "
            "sweep did not record. Start a new sweep with it as a grid axis."
        )
    if not is_field(ds, dim):
        raise SpaceError(f"{dim} is a label dim, not a field; only a grid dim can take new values")
    sharing = [str(v) for v in ds.variables if dim in ds[v].dims and v != dim]
    if sharing:  # zipped fields, or random draws (those grow with extend(n))
        raise SpaceError(f"{dim} is shared with {sharing}; only a dim of one grid field can grow")
