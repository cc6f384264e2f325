"""The consolidated Zarr store (``sweep.zarr``) and :func:`open_sweep`.

The store is derived from the manifest and the per-run Parquet files and can
always be rebuilt from them (:func:`consolidate`). Layout (Zarr v3):

- root group: the parameter coordinates, and ``run_id``, ``status`` (CF
  flags), ``reason``, ``error``, ``duration_s`` over the parameter dims;
- one group per GMAT output (``reports/RF``, ``ephemerides/Eph``,
  ``contacts/CL``, ``solver/DC``): every column over the parameter dims plus
  the output's own axis (``step``, ``interval``, ``iteration``), padded with
  NaN/NaT/"" where runs differ in length; the first epoch column is ``time``
  and ``elapsed_s`` is the time since the run's first row.

Output arrays are chunked by runs (about 32 KiB per chunk: one run of a long
report per chunk, so a label selection of one run reads only its chunk) and
sharded by blocks of runs along the last parameter dim: a block is what one
writer writes, so no two writers ever touch one file.
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from xsweep._errors import ConfigError, XsweepError
from xsweep._manifest import MANIFEST_NAME, Manifest
from xsweep._space import Space
from xsweep._version import __version__

if TYPE_CHECKING:
    from distributed import Client

STORE_NAME = "sweep.zarr"
STORE_SCHEMA = 1
STATUS_FLAGS = {"pending": 0, "ok": 1, "failed": 2}
BLOCK_RUNS = 256  # runs per shard along the last parameter dim
_CHUNK_BYTES = 32 * 1024
_GROUP = {
    "report": "reports",
    "ephemeris": "ephemerides",
    "contact": "contacts",
    "solver": "solver",
}
_AXIS = {"report": "step", "ephemeris": "step", "contact": "interval", "solver": "iteration"}
_NAT = np.iinfo(np.int64).min
_STR = np.dtypes.StringDType()  # variable-length UTF-8 in Zarr v3
# Units of GMAT parameters, by the last part of a column name.
_UNITS = {
    **dict.fromkeys(("X", "Y", "Z", "SMA", "RMAG", "Altitude", "RadApo", "RadPer"), "km"),
    **dict.fromkeys(("VX", "VY", "VZ", "VMAG"), "km/s"),
    **dict.fromkeys(("INC", "RAAN", "AOP", "TA", "MA", "EA", "Latitude", "Longitude"), "deg"),
    "ElapsedSecs": "s",
    "ElapsedDays": "day",
    "Duration": "s",
}


class StoreError(XsweepError):
    """The consolidated store is missing, from a newer xsweep, or unreadable."""


@dataclass
class _Output:
    """One GMAT output across the sweep: a group of the store."""

    kind: str
    name: str
    rows: int = 0
    sample: str = ""  # a Parquet file of it, for the schema
    columns: dict[str, str] = field(default_factory=dict)  # column -> "f", "M" or "U"
    epoch: str | None = None

    @property
    def path(self) -> str:
        return f"{_GROUP[self.kind]}/{self.name}"

    @property
    def axis(self) -> str:
        return _AXIS[self.kind]


def _outputs(sweep_dir: Path, manifest: Manifest) -> dict[str, _Output]:
    """Find every output of the sweep's ok runs, its longest length and its columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    found: dict[str, _Output] = {}
    for rec in manifest.runs.values():
        if rec["status"] != "ok":
            continue
        for out in rec.get("outputs", ()):
            key = f"{_GROUP[out['kind']]}/{out['name']}"
            entry = found.setdefault(key, _Output(out["kind"], out["name"], sample=out["path"]))
            entry.rows = max(entry.rows, int(out["rows"]))
    for entry in found.values():
        schema = pq.read_schema(sweep_dir / entry.sample)
        for name, typ in zip(schema.names, schema.types, strict=True):
            if name.startswith("__index_level"):
                continue
            if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
                entry.columns[name] = "M"
                entry.epoch = entry.epoch or name
            elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
                entry.columns[name] = "f"
            else:
                entry.columns[name] = "U"
    return found


def _units(column: str) -> str | None:
    return _UNITS.get(column.rsplit(".", 1)[-1])


@dataclass
class _Layout:
    space: Space
    outputs: dict[str, _Output]
    block: int

    @property
    def dims(self) -> tuple[str, ...]:
        return self.space.dims

    @property
    def shape(self) -> tuple[int, ...]:
        return self.space.shape

    def chunks(self, extra: int | None = None) -> tuple[int, ...]:
        """Inner chunks: about 32 KiB of one output variable, never more than a shard.

        A run of a long report is its own chunk (reading one run reads only it);
        runs of a two-row report share one, since a Zarr chunk costs ~0.3 ms to
        write however small it is. Root variables (one value per run) are
        chunked by shard.
        """
        if extra is None:
            return self.shards()
        runs = max(1, _CHUNK_BYTES // (8 * max(extra, 1)))
        # A power of two, so that it divides the shard (BLOCK_RUNS is one too).
        last = min(2 ** int(math.log2(runs)), self.block)
        return (*((1,) * (len(self.dims) - 1)), last, max(extra, 1))

    def shards(self, extra: int | None = None) -> tuple[int, ...]:
        outer = (*((1,) * (len(self.dims) - 1)), self.block)
        return outer if extra is None else (*outer, max(extra, 1))

    def blocks(self) -> Iterator[tuple[slice, ...]]:
        """Yield the index region of every shard along the parameter dims."""
        last = self.shape[-1]
        for lead in np.ndindex(*self.shape[:-1]):
            for start in range(0, last, self.block):
                stop = min(start + self.block, last)
                yield (*(slice(i, i + 1) for i in lead), slice(start, stop))


def _coords(space: Space) -> dict[str, Any]:
    """Every space variable as a coordinate; dims without one get an integer index."""
    ds = space.dataset
    coords: dict[str, Any] = {}
    for name in ds.variables:
        var = ds.variables[name]
        attrs = {k: v for k, v in var.attrs.items() if not k.startswith("xsweep_")}
        if _units(str(name)):
            attrs["units"] = _units(str(name))
        coords[str(name)] = xr.Variable(var.dims, var.values, attrs=attrs)
    for dim in space.dims:
        if dim not in coords:
            coords[dim] = xr.Variable((dim,), np.arange(ds.sizes[dim]))
    return coords


def _lazy(shape: tuple[int, ...], dtype: Any, fill: Any) -> Any:
    import dask.array as da

    return da.full(shape, fill, dtype=dtype, chunks=shape)


def _root_template(layout: _Layout, manifest: Manifest) -> tuple[xr.Dataset, dict[str, Any]]:
    shape, dims = layout.shape, layout.dims
    ds = xr.Dataset(
        {
            "run_id": (dims, _lazy(shape, np.int64, -1), {"long_name": "run id in the manifest"}),
            "status": (
                dims,
                _lazy(shape, np.int8, 0),
                {
                    "flag_values": np.array(list(STATUS_FLAGS.values()), dtype=np.int8),
                    "flag_meanings": " ".join(STATUS_FLAGS),
                },
            ),
            "reason": (dims, _lazy(shape, _STR, "")),
            "error": (dims, _lazy(shape, _STR, "")),
            "duration_s": (dims, _lazy(shape, np.float64, np.nan), {"units": "s"}),
        },
        coords=_coords(layout.space),
    )
    ds.attrs = {
        "xsweep_store_schema": STORE_SCHEMA,
        "xsweep_version": __version__,
        "sweep_id": manifest.header.get("sweep_id", ""),
        "script_sha256": manifest.header.get("script_sha256", ""),
        "xsweep_groups": sorted(layout.outputs),
        "xsweep_dims": list(dims),
    }
    enc: dict[str, Any] = {}
    for name in ("run_id", "status", "duration_s", "reason", "error"):
        enc[name] = {"chunks": layout.chunks(), "shards": layout.shards()}
    return ds, enc


def _group_template(layout: _Layout, out: _Output) -> tuple[xr.Dataset, dict[str, Any]]:
    dims = (*layout.dims, out.axis)
    shape = (*layout.shape, max(out.rows, 1))
    chunks, shards = layout.chunks(out.rows), layout.shards(out.rows)
    data: dict[str, Any] = {}
    enc: dict[str, Any] = {}
    for column, kind in out.columns.items():
        name = "time" if column == out.epoch else column
        attrs: dict[str, Any] = {}
        if name == "time":
            attrs["gmat_column"] = column
        elif _units(column):
            attrs["units"] = _units(column)
        if kind == "M":
            data[name] = (dims, _lazy(shape, "datetime64[ns]", np.datetime64("NaT", "ns")), attrs)
            enc[name] = {
                "chunks": chunks,
                "shards": shards,
                "units": "nanoseconds since 1970-01-01",
                "dtype": "int64",
                "_FillValue": _NAT,
            }
        elif kind == "f":
            data[name] = (dims, _lazy(shape, np.float64, np.nan), attrs)
            enc[name] = {"chunks": chunks, "shards": shards}
        else:
            data[name] = (dims, _lazy(shape, _STR, ""), attrs)
            enc[name] = {"chunks": chunks, "shards": shards}
    if out.epoch is not None:
        data["elapsed_s"] = (
            dims,
            _lazy(shape, np.float64, np.nan),
            {"units": "s", "long_name": "time since the run's first row"},
        )
        enc["elapsed_s"] = {"chunks": chunks, "shards": shards}
    ds = xr.Dataset(data)
    ds.attrs = {"gmat_kind": out.kind, "gmat_name": out.name}
    return ds, enc


def _read_columns(path: Path, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Read ``columns`` of one Parquet file as numpy arrays (pyarrow, no DataFrame)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=list(columns))
    return {name: table.column(name).to_numpy() for name in columns}


def _region_run_ids(space: Space, region: tuple[slice, ...]) -> np.ndarray:
    """Run ids of every index position in ``region``."""
    shape = tuple(s.stop - s.start for s in region)
    run_ids = np.empty(shape, dtype=np.int64)
    for pos in np.ndindex(*shape):
        run_ids[pos] = space.run_id_of(tuple(r.start + p for r, p in zip(region, pos, strict=True)))
    return run_ids


def _write_block(
    store: str,
    layout: _Layout,
    region: tuple[slice, ...],
    run_ids: np.ndarray,
    records: Mapping[int, dict[str, Any]],
) -> None:
    """Write one shard's region of every variable, reading the Parquet of its runs."""
    sweep_dir = Path(store).parent
    shape = run_ids.shape
    positions = list(np.ndindex(*shape))
    status = np.zeros(shape, dtype=np.int8)
    reason = np.full(shape, "", dtype=object)
    error = np.full(shape, "", dtype=object)
    duration = np.full(shape, np.nan)
    recs: dict[tuple[int, ...], dict[str, Any] | None] = {}
    for pos in positions:
        rec = records.get(int(run_ids[pos]))
        recs[pos] = rec
        if rec is None:
            continue
        status[pos] = STATUS_FLAGS[rec["status"]]
        reason[pos] = rec.get("reason") or ""
        error[pos] = rec.get("error") or ""
        duration[pos] = rec.get("duration_s", np.nan)
    dims = layout.dims
    root = xr.Dataset(
        {
            "run_id": (dims, run_ids),
            "status": (dims, status),
            "reason": (dims, reason.astype(_STR)),
            "error": (dims, error.astype(_STR)),
            "duration_s": (dims, duration),
        }
    )
    zregion = dict(zip(dims, region, strict=True))
    root.to_zarr(store, region=zregion, mode="r+", zarr_format=3, consolidated=False)
    for out in layout.outputs.values():
        n = max(out.rows, 1)
        arrays: dict[str, np.ndarray] = {}
        for column, kind in out.columns.items():
            if kind == "M":
                arrays[column] = np.full((*shape, n), np.datetime64("NaT", "ns"))
            elif kind == "f":
                arrays[column] = np.full((*shape, n), np.nan)
            else:
                arrays[column] = np.full((*shape, n), "", dtype=object)
        for pos, rec in recs.items():
            if rec is None or rec["status"] != "ok":
                continue
            match = [
                o for o in rec.get("outputs", ()) if o["kind"] == out.kind and o["name"] == out.name
            ]
            if not match:
                continue
            frame = _read_columns(sweep_dir / match[0]["path"], list(out.columns))
            rows = int(match[0]["rows"])
            for column, kind in out.columns.items():
                values = frame[column]
                if kind == "M":
                    arrays[column][pos][:rows] = values.astype("datetime64[ns]")
                elif kind == "f":
                    arrays[column][pos][:rows] = values.astype(np.float64)
                else:
                    arrays[column][pos][:rows] = values.astype(object)
        data: dict[str, Any] = {}
        for column, kind in out.columns.items():
            name = "time" if column == out.epoch else column
            value = arrays[column]
            data[name] = ((*dims, out.axis), value.astype(_STR) if kind == "U" else value)
        if out.epoch is not None:
            t = arrays[out.epoch]
            elapsed = (t - t[..., :1]).astype("timedelta64[ns]").astype(np.float64) / 1e9
            elapsed[np.isnat(t)] = np.nan
            data["elapsed_s"] = ((*dims, out.axis), elapsed)
        block = xr.Dataset(data)
        block.to_zarr(
            store,
            group=out.path,
            region={**zregion, out.axis: slice(0, n)},
            mode="r+",
            zarr_format=3,
            consolidated=False,
        )


def consolidate(path: str | os.PathLike[str], *, client: Client | None = None) -> Path:
    """Build (or rebuild) a sweep's Zarr store from its manifest and per-run Parquet.

    The store is derived data: deleting ``sweep.zarr`` loses nothing, this
    rebuilds it. It is written beside the old one and renamed into place.
    Blocks of runs are written as Dask tasks in parallel (on ``client`` if
    given, else Dask's threaded scheduler); each task holds only its block's
    runs in memory.

    Parameters
    ----------
    path : path-like
        The sweep directory.
    client : distributed.Client, optional
        Where to run the block-writing tasks.

    Returns
    -------
    pathlib.Path
        The store, ``<path>/sweep.zarr``.

    Raises
    ------
    ConfigError
        ``path`` is not a sweep directory.
    ManifestCorruptError
        The manifest cannot be read.

    Examples
    --------
    >>> import shutil, tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"Sat.SMA": [7000, 7100]})
    >>> sweep = xs.run("examples/missions/leo_report.script", space, out=out, workers=1,
    ...                progress=False)
    >>> shutil.rmtree(sweep.path / "sweep.zarr")
    >>> xs.consolidate(out).name
    'sweep.zarr'
    """
    from dask.base import compute
    from dask.delayed import delayed

    sweep_dir = Path(path).expanduser().resolve()
    if not (sweep_dir / MANIFEST_NAME).is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep directory (no {MANIFEST_NAME})")
    manifest = Manifest.load(sweep_dir / MANIFEST_NAME)
    space = Space.from_dict(manifest.space, verify=False)
    layout = _Layout(space, _outputs(sweep_dir, manifest), BLOCK_RUNS)
    final = sweep_dir / STORE_NAME
    tmp = sweep_dir / f".{STORE_NAME}.{uuid.uuid4().hex[:8]}"
    try:
        root, enc = _root_template(layout, manifest)
        root.to_zarr(tmp, mode="w", encoding=enc, compute=False, zarr_format=3, consolidated=False)
        for out in layout.outputs.values():
            ds, enc = _group_template(layout, out)
            ds.to_zarr(
                tmp,
                group=out.path,
                mode="w",
                encoding=enc,
                compute=False,
                zarr_format=3,
                consolidated=False,
            )
        tasks = []
        for region in layout.blocks():
            ids = _region_run_ids(space, region)
            records = {
                rid: manifest.runs[rid] for rid in ids.ravel().tolist() if rid in manifest.runs
            }
            tasks.append(delayed(_write_block, pure=False)(str(tmp), layout, region, ids, records))
        if client is not None:
            client.compute(tasks, sync=True)
        else:
            compute(*tasks, scheduler="threads")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _objectify(ds: xr.Dataset) -> xr.Dataset:
    """Turn variable-length strings into object arrays (lazily).

    numpy's StringDType cannot hold NaN, which ``where``, reindexing and
    alignment fill in; object arrays can, as they always have in xarray.
    """
    strings = [n for n, v in ds.variables.items() if isinstance(v.dtype, np.dtypes.StringDType)]
    return ds.assign({n: ds[n].astype(object) for n in strings if n in ds.data_vars})


def _is_zip(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".zip"


def open_sweep(
    path: str | os.PathLike[str],
    *,
    group: str | None = None,
) -> xr.Dataset | xr.DataTree:
    """Open a sweep's consolidated store lazily, indexed by the parameter dims.

    Nothing is computed at open: every variable is Dask-backed. The sole output
    of a sweep (its only ReportFile, say) opens as one Dataset; a sweep with
    several outputs opens as a DataTree (``reports/RF``, ``ephemerides/Eph``...)
    or, with ``group=``, as the Dataset of one of them. Parameter values are
    coordinates, so ``ds.sel({"Sat.SMA": 7100})`` works; a failed run is NaN
    data with its ``status``, never a missing label.

    Parameters
    ----------
    path : path-like
        The sweep directory.
    group : str, optional
        One output: its store path (``"reports/RF"``) or its GMAT name
        (``"RF"``) when that is unambiguous.

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
    sweep_dir = Path(path).expanduser().resolve()
    if _is_zip(sweep_dir):
        raise ConfigError(
            f"{sweep_dir} is a zip file; opening archive bundles is not supported by this "
            "version of xsweep: extract it and open the directory"
        )
    if not (sweep_dir / MANIFEST_NAME).is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep directory (no {MANIFEST_NAME})")
    store = sweep_dir / STORE_NAME
    if not store.is_dir():
        raise StoreError(
            f"{sweep_dir} has no consolidated store ({STORE_NAME}); build it with "
            f"xs.consolidate({str(sweep_dir)!r})"
        )
    root: xr.Dataset = xr.open_zarr(store, consolidated=False, zarr_format=3)
    # Parameter coordinates are small labels, not data: load them now (straight from
    # Zarr, no Dask), so that ``where(..., drop=True)`` and ``groupby`` on them work.
    plain = xr.open_zarr(store, consolidated=False, zarr_format=3, chunks=None)
    root = root.assign_coords({name: plain[name].variable.load() for name in root.coords})
    schema = root.attrs.get("xsweep_store_schema")
    if not isinstance(schema, int) or schema > STORE_SCHEMA:
        raise StoreError(
            f"{store} has store schema {schema!r}; this xsweep reads up to {STORE_SCHEMA}: "
            "upgrade xsweep"
        )
    groups = list(root.attrs.get("xsweep_groups", []))
    if group is None:
        if not groups:
            return _objectify(root)
        if len(groups) > 1:
            tree: xr.DataTree = xr.open_datatree(
                store, engine="zarr", consolidated=False, chunks={}
            )
            tree.dataset = tree.to_dataset(inherit=False).assign_coords(root.coords)
            return tree.map_over_datasets(_objectify)
        group = groups[0]
    matches = [g for g in groups if g == group or g.rsplit("/", 1)[-1] == group]
    if len(matches) != 1:
        raise ConfigError(f"group={group!r} names no single output of this sweep; it has {groups}")
    part = xr.open_zarr(store, group=matches[0], consolidated=False, zarr_format=3)
    ds = xr.merge([root, part], compat="override", join="exact", combine_attrs="override")
    ds.attrs = {**root.attrs, **part.attrs}
    return _objectify(ds)
