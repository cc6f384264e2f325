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


def append_samples(space: Space, table: pd.DataFrame | Mapping[str, Any]) -> Space:
    """Return ``space`` with explicit rows added at the end of its samples dim.

    The dim is the one whose fields are exactly ``table``'s columns (a space of
    :func:`xsweep.samples`, possibly crossed with a grid); the new rows are
    crossed with every other dim, as one growth step, so the old runs keep
    their ids. A sequential design's batches grow a sweep this way.

    Raises
    ------
    SpaceError
        No samples dim with those fields (a drawn dim grows with ``n``), rows
        of unequal length or of the wrong type, or no rows.
    """
    columns = {str(k): _values(str(k), v) for k, v in _mapping("samples", table).items()}
    lengths = {len(v) for v in columns.values()}
    if not columns or len(lengths) != 1 or lengths == {0}:
        raise SpaceError(f"samples= needs columns of one positive length, got {sorted(lengths)}")
    ds = space.dataset
    dims = {d for name in columns if name in ds.variables for d in ds[name].dims}
    if len(dims) != 1 or any(name not in ds.variables for name in columns):
        raise SpaceError(f"samples= names {sorted(columns)}: not the fields of one samples dim")
    (dim,) = dims
    sharing = {str(v) for v in ds.data_vars if dim in ds[v].dims}
    if sharing != set(columns) or sharing & set(space.seeds):
        raise SpaceError(
            f"{dim} holds {sorted(sharing)}: give new rows for exactly those fields "
            "(a Monte Carlo, Latin hypercube or QMC dim grows with extend(n))"
        )
    old, new = ds.sizes[dim], lengths.pop()
    grown = ds.reindex({dim: np.arange(old + new, dtype=ds[dim].dtype)})
    for name, values in columns.items():
        was = ds[name]
        if (was.dtype.kind in "iuf") != (values.dtype.kind in "iuf"):
            raise SpaceError(f"{name} holds {was.dtype} values; got {values.tolist()[:5]}")
        merged = np.concatenate([was.values, values.astype(was.dtype)])
        grown[name] = (dim, merged, dict(was.attrs))
    grown[dim].attrs = dict(ds[dim].attrs)
    return Space(space.grown(grown, [(str(dim), int(old), int(new))]), dims=space.dims)
