"""Constructors of parameter spaces: grids, explicit samples, Monte Carlo, Latin hypercube.

Each returns a plain :class:`xarray.Dataset` (see ``_space`` for what its
variables and dims mean), so designs compose with :func:`xarray.merge`.
Random designs record their recipe on each field, so the draw rebuilds
bit-equal from the manifest.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xsweep._draws import Method, draw, new_entropy, parse_distribution, recipe_json
from xsweep._epochs import is_datetime
from xsweep._errors import SpaceError
from xsweep._space import DRAW_ATTR, ROLE_ATTR, check_n, check_path, validate


def _kind(value: Any) -> str:
    if isinstance(value, str | np.str_):
        return "str"
    if isinstance(value, bool | np.bool_):
        return "bool"
    if is_datetime(value):
        return "datetime"
    if isinstance(value, int | float | np.integer | np.floating):
        return "number"
    return type(value).__name__


def _values(field: str, values: Any) -> np.ndarray:
    """Normalise a column of values; datetimes become datetime64[ns]."""
    try:
        scalar = isinstance(values, str | bytes) or np.ndim(values) == 0
    except (ValueError, TypeError) as exc:  # ragged nesting, say
        raise SpaceError(f"{field}: values must be a flat sequence ({exc})") from None
    if scalar:
        values = [values]
    seq = list(values) if not isinstance(values, np.ndarray | pd.Index | pd.Series) else values
    if isinstance(seq, list):
        kinds = {_kind(v) for v in seq}
        if len(kinds) > 1:
            raise SpaceError(
                f"{field}: values mix types ({', '.join(sorted(kinds))}); use one type"
            )
    if len(seq) and all(is_datetime(v) for v in seq):
        try:
            arr = np.asarray(pd.to_datetime(list(seq)).tz_localize(None).to_numpy("datetime64[ns]"))
        except (OverflowError, ValueError) as exc:  # pandas' OutOfBoundsDatetime included
            raise SpaceError(
                f"{field}: epochs must lie within datetime64[ns] "
                f"({pd.Timestamp.min} to {pd.Timestamp.max}): {exc}"
            ) from None
    else:
        try:
            arr = np.asarray(seq)
        except (ValueError, TypeError) as exc:  # ragged nesting, say
            raise SpaceError(f"{field}: values must be a flat sequence ({exc})") from None
    if arr.ndim != 1:
        raise SpaceError(f"{field}: values must be one-dimensional, got shape {arr.shape}")
    if arr.dtype == object:
        if all(isinstance(v, str) for v in arr):
            arr = arr.astype(str)
        else:
            names = sorted({type(v).__name__ for v in arr})
            raise SpaceError(f"{field}: values mix types ({', '.join(names)}); use one type")
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[ns]")
    return arr


def _mapping(what: str, value: Any) -> dict[Any, Any]:
    if isinstance(value, pd.DataFrame):
        return dict(value.items())
    if not isinstance(value, Mapping):
        raise SpaceError(f"{what} must be a mapping of field path to values, got {value!r}")
    return dict(value)


def _check_dim(dim: Any, what: str = "dim") -> None:
    if not isinstance(dim, str) or not dim.strip():
        raise SpaceError(f"{what} must be a non-empty string, got {dim!r}")


def grid(fields: Mapping[str, Any], *, dims: Mapping[str, str] | None = None) -> xr.Dataset:
    """Build a full-factorial space: one dim per field.

    Parameters
    ----------
    fields : mapping of str to sequence
        Field path (``"Sat.SMA"``, or a script Variable ``"TOF"``) to its values.
    dims : mapping of str to str, optional
        Alias dim names, e.g. ``{"Sat.SMA": "sma"}``: the dim is then ``sma``
        (a label coordinate holding the same values) and ``Sat.SMA`` a data
        variable on it. By default the dim is named after the field.

    Returns
    -------
    xarray.Dataset
        A space with ``prod(len(values))`` runs.

    Examples
    --------
    >>> import xsweep as xs
    >>> space = xs.grid({"Sat.SMA": [7000, 7100], "Sat.INC": [28.5, 51.6, 98.0]})
    >>> dict(space.sizes)
    {'Sat.SMA': 2, 'Sat.INC': 3}
    >>> xs.Space(space).n_runs
    6
    >>> aliased = xs.grid({"Sat.SMA": [7000, 7100]}, dims={"Sat.SMA": "sma"})
    >>> float(aliased["Sat.SMA"].sel(sma=7100))
    7100.0
    """
    fields = _mapping("fields", fields)
    dims = {} if dims is None else _mapping("dims", dims)
    unknown = [d for d in dims if d not in fields]
    if unknown:
        raise SpaceError(f"dims= names fields that are not in the grid: {unknown}")
    if not fields:
        raise SpaceError("a grid needs at least one field")
    for field in fields:
        check_path(field)
    for field, dim in dims.items():
        _check_dim(dim, f"dims[{field!r}]")
    coords: dict[Hashable, Any] = {}
    data: dict[Hashable, Any] = {}
    for field, raw in fields.items():
        values = _values(field, raw)
        dim = dims.get(field, field)
        if dim == field:
            coords[field] = xr.Variable((field,), values, attrs={ROLE_ATTR: "field"})
        else:
            coords[dim] = (dim, values)
            data[field] = (dim, values)
    space = xr.Dataset(data, coords=coords)
    validate(space)
    return space


def samples(table: pd.DataFrame | Mapping[str, Any], *, dim: str = "sample") -> xr.Dataset:
    """Build a space of explicit rows: every column varies together on ``dim``.

    Parameters
    ----------
    table : pandas.DataFrame or mapping of str to sequence
        One column per field, one row per run; columns of equal length.
    dim : str
        The name of the shared dim (coordinate ``0 .. n-1``).

    Examples
    --------
    >>> import xsweep as xs
    >>> space = xs.samples({"Sat.SMA": [7000, 7100, 7200], "Sat.INC": [28.5, 51.6, 98.0]})
    >>> xs.Space(space).n_runs
    3
    """
    columns = _mapping("table", table)
    _check_dim(dim)
    if not columns:
        raise SpaceError("samples() needs at least one column")
    for field in columns:
        check_path(field)
    arrays = {str(k): _values(str(k), v) for k, v in columns.items()}
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise SpaceError(f"samples() columns differ in length: {lengths}")
    n = next(iter(lengths.values()))
    space = xr.Dataset(
        {k: (dim, v) for k, v in arrays.items()}, coords={dim: np.arange(n, dtype=np.int64)}
    )
    validate(space)
    return space


def _random(
    method: Method, n: int, perturb: Mapping[str, Any], seed: int | None, dim: str
) -> xr.Dataset:
    check_n(n)
    perturb = _mapping("perturb", perturb)
    _check_dim(dim)
    if not perturb:
        raise SpaceError(f"{method}() needs at least one field to perturb")
    entropy = new_entropy(seed)
    data: dict[Hashable, Any] = {}
    for field, spec in perturb.items():
        check_path(field)
        dist = parse_distribution(field, spec)
        values = draw(method, entropy, field, dist, [int(n)])
        data[field] = xr.Variable(
            (dim,), values, attrs={DRAW_ATTR: recipe_json(method, entropy, dim, dist, [int(n)])}
        )
    space = xr.Dataset(data, coords={dim: np.arange(int(n), dtype=np.int64)})
    validate(space)
    return space


def monte_carlo(
    n: int, perturb: Mapping[str, Any], *, seed: int | None = None, dim: str = "sample"
) -> xr.Dataset:
    """Build a seeded Monte Carlo dispersion: ``n`` independent draws per field on ``dim``.

    Parameters
    ----------
    n : int
        Number of samples (runs), at least 1.
    perturb : mapping of str to distribution
        Field path to ``("normal", mu, sigma)``, ``("uniform", lo, hi)``,
        ``("lognormal", mu, sigma)`` (of the underlying normal) or a frozen
        ``scipy.stats`` distribution.
    seed : int, optional
        Seed entropy. ``None`` draws OS entropy and records it on the space,
        so the draw can be rebuilt bit-equal.
    dim : str
        Name of the sample dim.

    Notes
    -----
    Each field draws from its own stream, keyed by the seed and the field
    name, so adding a field leaves the others' draws unchanged; extending
    ``n`` keeps the first ``n`` draws bit-equal.

    Examples
    --------
    >>> import xarray as xr
    >>> import xsweep as xs
    >>> mc = xs.monte_carlo(100, {"Sat.SMA": ("normal", 7000, 5)}, seed=42)
    >>> mixed = xr.merge([mc, xs.grid({"Sat.INC": [28.5, 51.6, 98.0]})])  # 100 x 3 runs
    >>> xs.Space(mixed).n_runs
    300
    """
    return _random("monte_carlo", n, perturb, seed, dim)


def latin_hypercube(
    n: int, perturb: Mapping[str, Any], *, seed: int | None = None, dim: str = "sample"
) -> xr.Dataset:
    """Build a seeded Latin hypercube draw: each field's n values fill its n strata once.

    Same arguments as :func:`monte_carlo`. Each field is an independent 1-D
    Latin hypercube (``scipy.stats.qmc.LatinHypercube``) mapped through the
    distribution's inverse CDF: exactly one value in each of the ``n``
    equal-probability strata. An extension by ``m`` adds a second Latin
    hypercube of ``m`` values; each block keeps its own stratification.

    Examples
    --------
    >>> import xsweep as xs
    >>> lhs = xs.latin_hypercube(4, {"Sat.SMA": ("uniform", 7000, 7400)}, seed=1)
    >>> sorted(((lhs["Sat.SMA"].values - 7000) // 100).astype(int).tolist())
    [0, 1, 2, 3]
    """
    return _random("latin_hypercube", n, perturb, seed, dim)
