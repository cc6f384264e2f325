"""Constructors of parameter spaces: grids, constants, samples, Monte Carlo, Latin hypercube.

Each returns a plain :class:`xarray.Dataset` (see ``_space`` for what its
variables and dims mean), so designs compose with :func:`xarray.merge`.
Random designs record their recipe on each field, so the draw rebuilds
bit-equal from the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from xsweep.core.epochs import is_datetime
from xsweep.core.errors import SpaceError
from xsweep.space.draws import Method, draw, new_entropy, parse_distribution, recipe_json
from xsweep.space.joint import (
    FRAME_ATTR,
    QMC_ENGINES,
    STANDARD_NORMAL,
    check_block,
    draw_field,
    recipe_text,
    unit_values,
)
from xsweep.space.settable import resolve_relative
from xsweep.space.validation import DRAW_ATTR, ROLE_ATTR, check_n, check_path, validate


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


def fixed(fields: Mapping[str, Any]) -> xr.Dataset:
    """Build constants: fields every run sets to the same value, with no dim.

    Merge them with any design (:func:`xarray.merge`): each run gets the
    value, the manifest records it, and the opened sweep holds it as a scalar
    coordinate, so no variable gains a one-value dim to squeeze.

    Parameters
    ----------
    fields : mapping of str to scalar
        Field path (or script Variable) to its one value.

    Returns
    -------
    xarray.Dataset
        Zero-dimensional data variables, one per field.

    Raises
    ------
    SpaceError
        A path that is not a field path, or a value that is not one value.

    Examples
    --------
    >>> import xarray as xr
    >>> import xsweep as xs
    >>> mc = xs.monte_carlo(8, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1)
    >>> space = xr.merge([mc, xs.fixed({"TOF": 86400.0})])
    >>> dict(space.sizes)
    {'sample': 8}
    >>> xs.Space(space).run(3).overrides["TOF"]
    86400.0
    """
    fields = _mapping("fixed", fields)
    if not fields:
        raise SpaceError("fixed needs at least one field")
    data: dict[Hashable, Any] = {}
    for field, raw in fields.items():
        check_path(field)
        if not (isinstance(raw, str | bytes) or np.ndim(raw) == 0):
            raise SpaceError(
                f"{field}: a fixed field takes one value, got {raw!r}; "
                "vary a field with grid, samples or a random design"
            )
        data[field] = xr.Variable((), _values(field, raw)[0])
    space = xr.Dataset(data)
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


def _members(perturb: Mapping[Any, Any]) -> list[str]:
    """Every field ``perturb`` draws, blocks expanded, in order; each at most once."""
    names: list[str] = []
    for key in perturb:
        for field in key if isinstance(key, tuple) else (key,):
            check_path(field)
            if field in names:
                raise SpaceError(f"{field} is drawn twice (alone and in a block, or in two)")
            names.append(str(field))
    return names


def _random(
    method: Method | Literal["qmc"],
    n: int,
    perturb: Mapping[str, Any],
    seed: int | None,
    dim: str,
    design: dict[str, Any] | None = None,
    script: str | os.PathLike[str] | None = None,
) -> xr.Dataset:
    check_n(n)
    perturb = resolve_relative(_mapping("perturb", perturb), script)
    _check_dim(dim)
    if not perturb:
        raise SpaceError(f"{method}() needs at least one field to perturb")
    names = _members(perturb)
    if design is not None:
        design = {**design, "fields": names}
    entropy = new_entropy(seed)
    data: dict[Hashable, Any] = {}
    cache: dict[Any, np.ndarray] = {}  # a design's points, drawn once for all its fields
    for key, spec in perturb.items():
        base: dict[str, Any] = {"method": method, "entropy": entropy, "dim": dim,
                                "blocks": [int(n)]}  # fmt: skip
        if design is not None:
            base["qmc"] = design
        if isinstance(key, tuple):
            mean, cov = check_block(key, spec)
            joint = {"fields": list(key), "mean": mean.tolist(), "cov": cov.tolist()}
            frame = getattr(spec[2], "attrs", {}).get(FRAME_ATTR)
            if frame is not None:  # provenance only: the draws use mean and cov
                joint["frame"] = frame
            recipe = {**base, "dist": STANDARD_NORMAL, "joint": joint}
            for field in key:
                values = draw_field(field, recipe, cache)
                data[field] = xr.Variable((dim,), values, attrs={DRAW_ATTR: recipe_text(recipe)})
            continue
        dist = parse_distribution(key, spec)
        if design is None:  # as before joint draws existed, byte for byte
            values = draw(method, entropy, key, dist, [int(n)])  # type: ignore[arg-type]
            text = recipe_json(method, entropy, dim, dist, [int(n)])  # type: ignore[arg-type]
        else:
            recipe = {**base, "dist": dist.recipe}
            values = dist.ppf(unit_values(key, recipe, cache))
            text = recipe_text(recipe)
        data[key] = xr.Variable((dim,), values, attrs={DRAW_ATTR: text})
    space = xr.Dataset(data, coords={dim: np.arange(int(n), dtype=np.int64)})
    validate(space)
    return space


def monte_carlo(
    n: int,
    perturb: Mapping[str, Any],
    *,
    seed: int | None = None,
    dim: str = "sample",
    script: str | os.PathLike[str] | None = None,
) -> xr.Dataset:
    """Build a seeded Monte Carlo dispersion: ``n`` independent draws per field on ``dim``.

    Parameters
    ----------
    n : int
        Number of samples (runs), at least 1.
    perturb : mapping of str (or tuple of str) to distribution
        Field path to ``("normal", mu, sigma)``, ``("uniform", lo, hi)``,
        ``("lognormal", mu, sigma)`` (of the underlying normal) or a frozen
        ``scipy.stats`` distribution. A tuple of fields draws them jointly:
        ``("mvnormal", mean, cov)``, ``cov`` an array or a DataArray whose
        two dims are labelled with the fields. It must be symmetric and
        positive semi-definite (a ``SpaceError`` names the failing
        eigenvalue). :func:`xsweep.state_block` builds a state block from a
        covariance in the spacecraft's RIC frame.
    seed : int, optional
        Seed entropy. ``None`` draws OS entropy and records it on the space,
        so the draw can be rebuilt bit-equal.
    dim : str
        Name of the sample dim.
    script : path-like, optional
        The GMAT script, for draws relative to its values: ``xs.nominal``
        in a spec is the field's value there (``("normal", xs.nominal,
        5.0)``; a block's ``("mvnormal", xs.nominal, cov)``), and
        ``("scale", lo, hi)`` is that value times a uniform factor in
        ``[lo, hi]``. GMAT reads them (in a child) before anything is
        drawn; the space holds the resulting distributions, so it rebuilds
        and extends without the script.

    Notes
    -----
    Each field draws from its own stream, keyed by the seed and the field
    name, so adding a field leaves the others' draws unchanged; extending
    ``n`` keeps the first ``n`` draws bit-equal. A block is ``mean + L z``
    with ``z`` from its members' streams and ``L`` a factor of ``cov``
    (Cholesky, or the eigendecomposition when ``cov`` is singular).

    Examples
    --------
    >>> import xarray as xr
    >>> import xsweep as xs
    >>> mc = xs.monte_carlo(100, {"Sat.SMA": ("normal", 7000, 5)}, seed=42)
    >>> mixed = xr.merge([mc, xs.grid({"Sat.INC": [28.5, 51.6, 98.0]})])  # 100 x 3 runs
    >>> xs.Space(mixed).n_runs
    300
    >>> cov = [[4.0, 1.2], [1.2, 1.0]]  # km^2: SMA and altitude-like errors, correlated
    >>> block = xs.monte_carlo(1000, {("Sat.SMA", "Sat.RAAN"): ("mvnormal", [7000, 10], cov)},
    ...                        seed=1)
    >>> round(float(np.corrcoef(block["Sat.SMA"], block["Sat.RAAN"])[0, 1]), 1)
    0.6
    """
    return _random("monte_carlo", n, perturb, seed, dim, script=script)


def latin_hypercube(
    n: int,
    perturb: Mapping[str, Any],
    *,
    seed: int | None = None,
    dim: str = "sample",
    script: str | os.PathLike[str] | None = None,
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
    return _random("latin_hypercube", n, perturb, seed, dim, script=script)


def qmc(
    n: int,
    perturb: Mapping[str, Any],
    *,
    method: Literal["sobol", "halton", "lhs"] = "sobol",
    scramble: bool = True,
    seed: int | None = None,
    dim: str = "sample",
    script: str | os.PathLike[str] | None = None,
) -> xr.Dataset:
    """Build a seeded quasi-random design: one low-discrepancy point set over every field.

    The points come from ``scipy.stats.qmc`` (``Sobol``, ``Halton`` or
    ``LatinHypercube``) in as many dimensions as there are fields; each
    field's column goes through its distribution's inverse CDF, a correlated
    block's columns through the standard normal and then its covariance.
    They fill the space more evenly than Monte Carlo of the same ``n``.

    Parameters
    ----------
    n : int
        Number of samples. Sobol's balance needs a power of two (scipy warns
        otherwise).
    perturb : mapping
        As for :func:`monte_carlo`, blocks included.
    method : {"sobol", "halton", "lhs"}
        The point set. Sobol and Halton extend prefix-stably (:func:`xsweep.extend`
        continues the sequence); a Latin hypercube extends by a new one.
    scramble : bool
        Randomise the points (Owen scrambling, a random LHS): keep it on
        unless you need the textbook sequence (whose first point is the
        corner 0, a -8 sigma normal draw).
    seed : int, optional
        Seed entropy (``None``: OS entropy, recorded).
    dim : str
        Name of the sample dim.
    script : path-like, optional
        For specs relative to the script's values, as in :func:`monte_carlo`.

    Examples
    --------
    >>> import xsweep as xs
    >>> design = xs.qmc(64, {"Sat.SMA": ("uniform", 6900, 7300),
    ...                      "Sat.INC": ("normal", 28.5, 0.1)}, seed=3)
    >>> xs.Space(design).n_runs
    64
    """
    if method not in QMC_ENGINES:
        raise SpaceError(f"method must be one of {QMC_ENGINES}, got {method!r}")
    if not isinstance(scramble, bool):
        raise SpaceError(f"scramble must be True or False, got {scramble!r}")
    design = {"engine": method, "scramble": scramble}
    return _random("qmc", n, perturb, seed, dim, design, script)
