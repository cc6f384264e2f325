"""Opening the store: :func:`open_sweep`, lazily, from a sweep directory or a bundle."""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from xsweep.core.errors import ConfigError, StoreError, XsweepError
from xsweep.core.vocabulary import OUTPUT_AXES, SUMMARY_AXIS
from xsweep.record.source import open_source
from xsweep.space.growth import check_run_count
from xsweep.store.envelope import open_envelope
from xsweep.store.layout import BLOCK_RUNS, GROUPS, PROBLEMS_VAR, STORE_SCHEMA, fused_pipeline
from xsweep.store.summaries import KEPT_VAR, SUMMARIES_ATTR, summarize


def _objectify(ds: xr.Dataset) -> xr.Dataset:
    """Turn variable-length strings into object arrays (lazily).

    numpy's StringDType cannot hold NaN, which ``where``, reindexing and
    alignment fill in; object arrays can, as they always have in xarray.
    """
    strings = [n for n, v in ds.variables.items() if isinstance(v.dtype, np.dtypes.StringDType)]
    return ds.assign({n: ds[n].astype(object) for n in strings if n in ds.data_vars})


def _within(prefix: str | None, group: str | None) -> str | None:
    parts = [p for p in (prefix, group) if p]
    return "/".join(parts) or None


def open_sweep(
    path: str | os.PathLike[str],
    *,
    group: str | None = None,
    verify: bool = False,
    sort: bool | None = None,
    storage_options: Mapping[str, Any] | None = None,
    summary: bool = False,
    envelope: bool = False,
) -> xr.Dataset | xr.DataTree:
    """Open a sweep's consolidated store lazily, indexed by the parameter dims.

    Nothing is computed at open: every variable is Dask-backed. The sole output
    of a sweep (its only ReportFile, say) opens as one Dataset; a sweep with
    several outputs opens as a DataTree (``reports/RF``, ``ephemerides/Eph``...)
    or, with ``group=``, as the Dataset of one of them. Parameter values are
    coordinates, so ``ds.sel({"Sat.SMA": 7100})`` works; a failed run is NaN
    data with its ``status``, never a missing label.

    An archive bundle (:func:`xsweep.archive`) opens the same way, straight
    from the zip: its manifest is checked against ``MANIFEST.hash`` at open,
    every member with ``verify=True``.

    Parameters
    ----------
    path : path-like or str
        The sweep directory, a bundle zip, or a sweep's fsspec URL
        (``s3://bucket/sweeps/a``: read in place, chunk by chunk).
    group : str, optional
        One output: its store path (``"reports/RF"``) or its GMAT name
        (``"RF"``) when that is unambiguous.
    verify : bool
        For a bundle: check every member's SHA-256 first (reads the whole zip).
    sort : bool, optional
        Sort dims by their labels. By default (``None``) only the grid dims
        that :func:`xsweep.extend` gave new values are sorted: the store keeps
        them in the order they were added, the run-id order. ``True`` sorts
        every labelled dim, ``False`` none (the store's own order).
    storage_options : mapping, optional
        For a URL: the fsspec file system's options (credentials, ``endpoint_url``).
    summary : bool
        Open an output's summaries instead of its histories: every column over
        the parameter dims and ``stat`` (``final``, ``min``, ``max``), and
        ``<column>_time`` (when each happened). A sweep that kept summaries
        (``keep=``) stored them; for one that kept every run in full they are
        computed from the histories (lazily), to the same bits.
    envelope : bool
        Open the sweep's streaming envelope (``run(..., envelope=...)``): each
        column's quantiles over ``elapsed_s`` and ``quantile``, and its
        ``_mean``, ``_std``, ``_count``, ``_min`` and ``_max`` (``group=``
        names the output, if there are several).

    Returns
    -------
    xarray.Dataset or xarray.DataTree

    Raises
    ------
    ConfigError
        ``path`` is not a sweep directory, or ``group`` names no output.
    StoreError
        The store is missing (run :func:`consolidate`), or was written by a
        newer xsweep.
    BundleError
        A bundle's manifest (or, with ``verify``, any member) fails its hash.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"Sat.SMA": [7000, 7100], "TOF": [600]})
    >>> _ = xs.run("examples/missions/leo_report.script", space, out=out, workers=1,
    ...            progress=False)
    >>> ds = xs.open_sweep(out)
    >>> ds["Sat.Earth.Altitude"].sel({"Sat.SMA": 7100}).dims
    ('TOF', 'step')
    """
    import zarr

    with zarr.config.set(fused_pipeline()):
        try:
            if envelope:
                store, prefix = open_source(path, storage_options).zarr_store(check_members=verify)
                return open_envelope(store, prefix, group)
            if summary:
                return _open_summary(path, group, verify, sort, storage_options)
            return _open(path, group, verify, sort, storage_options)
        except XsweepError:
            raise
        except (ValueError, LookupError, TypeError, RecursionError) as exc:  # damaged metadata
            what = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise StoreError(
                f"{path}: its store cannot be opened ({type(exc).__name__}: {what}); "
                "xs.verify names damaged members, xs.consolidate rebuilds a directory's store"
            ) from exc


def _open_summary(
    path: str | os.PathLike[str],
    group: str | None,
    verify: bool,
    sort: bool | None,
    storage_options: Mapping[str, Any] | None,
) -> xr.Dataset:
    """Open one output's summaries: stored (a sweep with ``keep=``), or computed."""
    try:
        found = _open(path, group, verify, sort, storage_options, summaries=True)
    except _NoSummaries:
        pass
    else:
        assert isinstance(found, xr.Dataset)
        return found
    full = _open(path, group, verify, sort, storage_options)
    if isinstance(full, xr.DataTree):
        full = tree_output(full)
    columns, names = store_attr(full, "columns", {}), store_attr(full, "names", {})
    axis = OUTPUT_AXES[full.attrs["gmat_kind"]]
    part = summarize(full, columns, names, store_attr(full, "epoch"), axis)
    root = full.drop_vars([n for n in full.variables if axis in full[n].dims])
    return arranged(with_output(root, part))


def _summary_groups(attrs: Mapping[str, Any], group: str | None, path: Any) -> list[str]:
    """Return a store's summary groups (raise :class:`_NoSummaries` if it has none)."""
    if SUMMARIES_ATTR not in attrs:
        raise _NoSummaries
    groups = [str(g) for g in attrs[SUMMARIES_ATTR]]
    if group is None and len(groups) != 1:
        names = [g.rsplit("/", 1)[-1] for g in groups]
        raise ConfigError(f"{path}: summaries of {names or 'no output yet'}; pass group=")
    return groups


def _axis_of(group: str) -> str:
    return next(OUTPUT_AXES[k] for k, g in GROUPS.items() if group.startswith(f"{g}/"))


class _NoSummaries(Exception):
    """The store has no summary groups: a sweep that kept every run in full."""


def _open(
    path: str | os.PathLike[str],
    group: str | None,
    verify: bool,
    sort: bool | None,
    storage_options: Mapping[str, Any] | None,
    summaries: bool = False,
) -> xr.Dataset | xr.DataTree:
    store, prefix = open_source(path, storage_options).zarr_store(check_members=verify)
    at = functools.partial(_within, prefix)
    # Metadata first, without Dask: the schema check, and the shard shape to chunk by.
    plain = xr.open_zarr(store, group=at(None), consolidated=False, zarr_format=3, chunks=None)
    schema = plain.attrs.get("xsweep_store_schema")
    if not isinstance(schema, int) or schema > STORE_SCHEMA:
        raise StoreError(
            f"{store} has store schema {schema!r}; this xsweep reads up to {STORE_SCHEMA}: "
            "upgrade xsweep"
        )
    _check_claims(plain)
    # One Dask chunk per shard: a few tasks per variable, not one per Zarr chunk. A
    # label selection still reads only the Zarr chunks it needs (Dask pushes the
    # slice into the read).
    dims = [str(d) for d in plain.attrs.get("xsweep_dims", plain["status"].dims)]
    block = int(plain.attrs.get("xsweep_block_runs", BLOCK_RUNS))
    along = str(plain.attrs.get("xsweep_block_dim", dims[-1]))  # schema 1: the last dim
    chunks: dict[str, int] = {d: 1 for d in dims} | {along: block}
    with warnings.catch_warnings():
        # The coordinates are one Zarr chunk each; they are replaced by loaded ones below.
        warnings.filterwarnings("ignore", "The specified chunks separate", UserWarning)
        root: xr.Dataset = xr.open_zarr(
            store, group=at(None), consolidated=False, zarr_format=3, chunks=chunks
        )
    # Parameter coordinates are small labels, not data: load them now (straight from
    # Zarr, no Dask), so that ``where(..., drop=True)`` and ``groupby`` on them work.
    root = root.assign_coords({name: plain[name].variable.load() for name in root.coords})
    groups = list(root.attrs.get("xsweep_groups", []))
    if summaries:
        groups = _summary_groups(root.attrs, group, path)
    order = _order(root, dims, sort)
    if order:  # a gather of the few labels out of place, on the loaded coordinates
        root = root.isel(order)
    if group is None:
        if not groups:
            return arranged(_objectify(root))
        if len(groups) > 1:
            tree: xr.DataTree = xr.open_datatree(
                store,
                engine="zarr",
                group=at(None),
                consolidated=False,
                chunks=chunks | dict.fromkeys(OUTPUT_AXES.values(), -1),
            )
            if order:
                tree = tree.isel(order)
            tree.dataset = tree.to_dataset(inherit=False).assign_coords(root.coords)
            return tree.map_over_datasets(lambda d: arranged(_objectify(d)))
        group = groups[0]
    match = match_group(groups, group)
    axis = SUMMARY_AXIS if summaries else _axis_of(match)
    part = xr.open_zarr(
        store, group=at(match), consolidated=False, zarr_format=3, chunks=chunks | {axis: -1}
    )
    if order:
        part = part.isel(order)
    return arranged(_objectify(with_output(root, part)))


# Per-run bookkeeping: coordinates over the parameter dims, so the data variables are
# the outputs and the derived values (and a DataTree's groups inherit them).
BOOKKEEPING = ("run_id", "status", "reason", "error", "duration_s", PROBLEMS_VAR,
               "derive_status", "derive_error", KEPT_VAR)  # fmt: skip


def arranged(ds: xr.Dataset) -> xr.Dataset:
    """Put the data first: outputs in GMAT's column order, then derived values.

    The runs' bookkeeping and an output's ``time`` (a run's epochs, over ``step``)
    become coordinates.
    """
    axes = set(OUTPUT_AXES.values())
    coords = [n for n in BOOKKEEPING if n in ds.data_vars]
    if "time" in ds.data_vars and axes & set(ds["time"].dims):
        coords.append("time")
    ds = ds.set_coords(coords)
    gmat = list(ds.attrs.get("xsweep_names", {}).values())

    def key(name: Hashable) -> tuple[bool, int]:
        on_axis = bool(axes & set(ds[name].dims))
        return (not on_axis, gmat.index(name) if name in gmat else len(gmat))

    names = sorted(ds.data_vars, key=key)
    firsts = [c for c in ds.coords if c not in coords]
    return xr.Dataset(
        {n: ds[n].variable for n in names},
        coords={c: ds.coords[c] for c in (*firsts, *coords)},
        attrs=_shown(ds.attrs),
    )


# The attributes an opened sweep shows; the store's layout is kept under one, "xsweep".
SHOWN_ATTRS = ("sweep_id", "script_sha256", "xsweep_version", "xsweep_groups", "gmat_kind",
               "gmat_name", "no_effect")  # fmt: skip


def _shown(attrs: Mapping[str, Any]) -> dict[str, Any]:
    layout = dict(attrs.get("xsweep", {}))
    layout |= {
        k.removeprefix("xsweep_"): v for k, v in attrs.items() if k not in (*SHOWN_ATTRS, "xsweep")
    }
    shown = {k: attrs[k] for k in SHOWN_ATTRS if k in attrs}
    return shown | ({"xsweep": layout} if layout else {})


def classic(ds: xr.Dataset) -> xr.Dataset:
    """Undo :func:`arranged`'s coordinates: bookkeeping and ``time`` as data variables."""
    names = [n for n in (*BOOKKEEPING, "time") if n in ds.coords and n not in ds.indexes]
    return ds.reset_coords(names) if names else ds


def store_attr(ds: xr.Dataset, name: str, default: Any = None) -> Any:
    """Return an attribute of the store's layout (``"names"``...) from an opened sweep."""
    layout = ds.attrs.get("xsweep")
    if isinstance(layout, Mapping) and name in layout:
        return layout[name]
    return ds.attrs.get(f"xsweep_{name}", default)  # a Dataset not arranged by open_sweep


def match_group(groups: list[str], group: str) -> str:
    """Return the one output ``group`` names (a store path or a GMAT name) among ``groups``."""
    matches = [g for g in groups if group in (g, g.rsplit("/", 1)[-1])]
    if len(matches) != 1:
        raise ConfigError(f"group={group!r} names no single output of this sweep; it has {groups}")
    return matches[0]


def default_group(groups: list[str]) -> str:
    """Return the output a sweep's helpers use: its one report (or its one output).

    Raises
    ------
    ConfigError
        Several reports (or, with no report, several outputs): the message
        names them and how to choose one.
    """
    reports = [g for g in groups if g.startswith(f"{GROUPS['report']}/")]
    candidates = reports or groups
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ConfigError("this sweep has no output (its runs wrote no file xsweep reads)")
    raise ConfigError(
        f"this sweep has the outputs {groups}; name one: xs.open_sweep(path, "
        f"group={candidates[0]!r}), or tree.xsweep.select({candidates[0]!r})"
    )


def tree_output(tree: xr.DataTree, group: str | None = None) -> xr.Dataset:
    """Return one output of a sweep opened as a DataTree, as ``open_sweep(group=...)`` would.

    ``group`` is a store path or a GMAT name; by default the sweep's one
    report (see :func:`default_group`).
    """
    root = tree.to_dataset(inherit=False)
    groups = [str(g) for g in root.attrs.get("xsweep_groups", ())]
    group = default_group(groups) if group is None else group
    part = tree[match_group(groups, group)]
    assert isinstance(part, xr.DataTree)
    return with_output(root, part.to_dataset(inherit=False))


def with_output(root: xr.Dataset, part: xr.Dataset) -> xr.Dataset:
    """Join the store's root (runs, parameters, derived values) with one output's group."""
    ds = xr.merge([root, part], compat="override", join="exact", combine_attrs="override")
    ds.attrs = {**root.attrs, **part.attrs}
    layouts = [a["xsweep"] for a in (root.attrs, part.attrs) if isinstance(a.get("xsweep"), dict)]
    if layouts:
        ds.attrs["xsweep"] = {k: v for layout in layouts for k, v in layout.items()}
    return ds


MAX_CHUNK_BYTES = 1 << 30


def _check_claims(plain: xr.Dataset) -> None:
    """Refuse a store whose metadata claims sizes no sweep has (it is someone else's data).

    Shapes are numbers in ``zarr.json``: a read would allocate what they claim.
    """
    dims = [str(d) for d in plain["status"].dims] if "status" in plain else []
    check_run_count(math.prod(int(plain.sizes[d]) for d in dims))
    for name, var in plain.variables.items():
        codecs = [var.encoding.get(k) for k in ("compressors", "filters", "serializer")]
        if "pickle" in repr(codecs).lower():  # unpickling a chunk runs its code
            raise StoreError(f"the store's {name} names a pickle codec: refused")
        chunks = var.encoding.get("chunks") or var.shape
        if math.prod(chunks) * var.dtype.itemsize > MAX_CHUNK_BYTES:
            raise StoreError(f"the store's {name} claims chunks of {tuple(chunks)}: refused")


def _order(root: xr.Dataset, dims: list[str], sort: bool | None) -> dict[str, np.ndarray]:
    """Return, per dim to sort, the positions that put its labels in order (none if sorted)."""
    if sort is False:
        return {}
    wanted = dims if sort else [str(d) for d in root.attrs.get("xsweep_refined", [])]
    order = {}
    for dim in wanted:
        if dim in root.indexes and not root.indexes[dim].is_monotonic_increasing:
            order[dim] = np.argsort(root.indexes[dim].to_numpy(), kind="stable")
    return order
