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

import contextlib
import functools
import math
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
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
# 2: shards run along the last parameter dim with more than one value (``xsweep_block_dim``),
# not always the last dim: a sweep ending in a one-value dim (a Monte Carlo crossed with
# one TOF) wrote one block per run under 1.
STORE_SCHEMA = 2
STATUS_FLAGS = {"pending": 0, "ok": 1, "failed": 2}
BLOCK_RUNS = 256  # runs per shard along the block dim (see block_dim)
_CHUNK_BYTES = 32 * 1024
_GROUP = {
    "report": "reports",
    "ephemeris": "ephemerides",
    "contact": "contacts",
    "solver": "solver",
}
_AXIS = {"report": "step", "ephemeris": "step", "contact": "interval", "solver": "iteration"}
_NAT = np.iinfo(np.int64).min
# Variables xsweep itself puts in the store.
_OWN = ("time", "elapsed_s", "run_id", "status", "reason", "error", "duration_s")
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
    # column -> "f" (number), "m" (duration, stored in seconds), "M" (epoch) or "U" (text)
    columns: dict[str, str] = field(default_factory=dict)
    epoch: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # column -> variable in the store
    chunk: int = 0  # inner chunk length along the output's axis, once created

    @property
    def path(self) -> str:
        return f"{_GROUP[self.kind]}/{self.name}"

    @property
    def axis(self) -> str:
        return _AXIS[self.kind]


def _reserved(space: Space) -> set[str]:
    """Names a GMAT column cannot keep in the store: the space's, and xsweep's own."""
    return {*_OWN, *_AXIS.values(), *map(str, space.dataset.variables), *space.dims}


def _scan_outputs(
    records: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, _Output], dict[str, dict[str, str]]]:
    """Find every output of the ok runs in ``records`` and its longest length.

    Also return, per output, one Parquet file per script hash: runs of one
    script write the same columns, a drifted script may add some, so one
    schema per hash is enough.
    """
    found: dict[str, _Output] = {}
    samples: dict[str, dict[str, str]] = {}
    for rec in records:
        if rec["status"] != "ok":
            continue
        for out in rec.get("outputs", ()):
            key = f"{_GROUP[out['kind']]}/{out['name']}"
            entry = found.setdefault(key, _Output(out["kind"], out["name"], sample=out["path"]))
            entry.rows = max(entry.rows, int(out["rows"]))
            samples.setdefault(key, {}).setdefault(str(rec.get("script_sha256", "")), out["path"])
    return found, samples


def _outputs(
    sweep_dir: Path, records: Iterable[Mapping[str, Any]], reserved: set[str]
) -> dict[str, _Output]:
    """Find every output of the ok runs in ``records``, its longest length and its columns."""
    found, samples = _scan_outputs(records)
    for key, entry in found.items():
        for sample in samples[key].values():
            _read_schema(sweep_dir / sample, entry, reserved)
    return found


def _read_schema(path: Path, entry: _Output, reserved: set[str]) -> list[str]:
    """Add the columns of Parquet file ``path`` that ``entry`` lacks; return them.

    A column whose name is taken (gmat-run's solver logs have ``iteration``
    and ``status`` columns) is stored as ``<kind>_<name>``, its GMAT name
    in the ``gmat_column`` attribute.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    first = not entry.columns  # a drifted script's new columns never become ``time``
    new: list[str] = []
    for name, typ in zip(schema.names, schema.types, strict=True):
        if name.startswith("__index_level") or name in entry.columns:
            continue
        if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
            kind = "M"
        elif pa.types.is_duration(typ):
            kind = "m"
        elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
            kind = "f"
        else:
            kind = "U"
        entry.columns[name] = kind
        # A time series' first epoch column is its ``time``.
        if kind == "M" and entry.axis == "step" and entry.epoch is None and first:
            entry.epoch = name
            entry.names[name] = "time"
        else:
            entry.names[name] = f"{entry.kind}_{name}" if name in reserved else name
        new.append(name)
    return new


def _units(column: str) -> str | None:
    return _UNITS.get(column.rsplit(".", 1)[-1])


def block_dim(dims: tuple[str, ...], shape: tuple[int, ...]) -> str:
    """Pick the dim that shards run along: the last one with more than one value.

    A trailing dim of one value (``TOF=[5400]`` after a Monte Carlo) would
    otherwise make every run a shard of its own, and every block write a
    write of one run.
    """
    for dim, size in zip(reversed(dims), reversed(shape), strict=True):
        if size > 1:
            return dim
    return dims[-1]


@dataclass
class _Layout:
    space: Space
    outputs: dict[str, _Output]
    block: int
    along: str | None = None  # the block dim; chosen from the space when None

    @property
    def dims(self) -> tuple[str, ...]:
        return self.space.dims

    @property
    def axis(self) -> int:
        """Index of the dim that shards (blocks of runs) run along."""
        along = self.along or block_dim(self.dims, self.shape)
        return self.dims.index(along)

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
        along = min(2 ** int(math.log2(runs)), self.block)
        return (*self._outer(along), max(extra, 1))

    def shards(self, extra: int | None = None) -> tuple[int, ...]:
        outer = self._outer(self.block)
        return outer if extra is None else (*outer, max(extra, 1))

    def _outer(self, along: int) -> tuple[int, ...]:
        """``along`` runs along the block dim, one along every other parameter dim."""
        axis = self.axis
        return tuple(along if i == axis else 1 for i in range(len(self.dims)))

    def blocks(self) -> Iterator[tuple[slice, ...]]:
        """Yield the index region of every shard along the parameter dims (C order)."""
        axis, size = self.axis, self.shape[self.axis]
        grid = [n if i != axis else -(-size // self.block) for i, n in enumerate(self.shape)]
        for pos in np.ndindex(*grid):
            yield tuple(
                slice(i, i + 1)
                if d != axis
                else slice(i * self.block, min((i + 1) * self.block, size))
                for d, i in enumerate(pos)
            )


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


def _root_template(
    layout: _Layout, header: Mapping[str, Any], run_ids: np.ndarray
) -> tuple[xr.Dataset, dict[str, Any]]:
    shape, dims = layout.shape, layout.dims
    ds = xr.Dataset(
        {
            "run_id": (dims, run_ids, {"long_name": "run id in the manifest"}),
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
        "sweep_id": header.get("sweep_id", ""),
        "script_sha256": header.get("script_sha256", ""),
        "xsweep_groups": sorted(layout.outputs),
        "xsweep_dims": list(dims),
        "xsweep_block_runs": layout.block,
        "xsweep_block_dim": dims[layout.axis],
    }
    enc: dict[str, Any] = {}
    for name in ("run_id", "status", "duration_s", "reason", "error"):
        enc[name] = {"chunks": layout.chunks(), "shards": layout.shards()}
    return ds, enc


def _group_attrs(out: _Output) -> dict[str, Any]:
    """Describe an output in its group's attributes (read back on resume)."""
    return {
        "gmat_kind": out.kind,
        "gmat_name": out.name,
        "xsweep_columns": out.columns,
        "xsweep_epoch": out.epoch,
        "xsweep_names": out.names,
    }


def _group_template(
    layout: _Layout, out: _Output, only: Iterable[str] | None = None
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Return the lazy template of an output's group (or of columns ``only`` of it)."""
    columns = {c: out.columns[c] for c in only} if only is not None else out.columns
    dims = (*layout.dims, out.axis)
    shape = (*layout.shape, max(out.rows, 1))
    chunks, shards = layout.chunks(out.rows), layout.shards(out.rows)
    data: dict[str, Any] = {}
    enc: dict[str, Any] = {}
    for column, kind in columns.items():
        name = out.names[column]
        attrs: dict[str, Any] = {}
        if name != column:
            attrs["gmat_column"] = column
        elif kind == "m":
            attrs["units"] = "s"
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
                "fill_value": _NAT,  # what Zarr gives for chunks never written
            }
        elif kind in "fm":
            data[name] = (dims, _lazy(shape, np.float64, np.nan), attrs)
            enc[name] = {"chunks": chunks, "shards": shards}
        else:
            data[name] = (dims, _lazy(shape, _STR, ""), attrs)
            enc[name] = {"chunks": chunks, "shards": shards}
    if out.epoch is not None and out.epoch in columns:
        data["elapsed_s"] = (
            dims,
            _lazy(shape, np.float64, np.nan),
            {"units": "s", "long_name": "time since the run's first row"},
        )
        enc["elapsed_s"] = {"chunks": chunks, "shards": shards}
    ds = xr.Dataset(data, attrs=_group_attrs(out))
    out.chunk = chunks[-1]
    return ds, enc


def _read_columns(path: Path, columns: Iterable[str]) -> dict[str, np.ndarray]:
    """Read those of ``columns`` that one Parquet file has, as numpy arrays (no DataFrame)."""
    import pyarrow.parquet as pq

    # ParquetFile on one thread: 0.3 ms a small file, read_table's dataset layer 1.5 ms.
    table = pq.ParquetFile(path).read(use_threads=False)
    return {name: table.column(name).to_numpy() for name in columns if name in table.column_names}


def _seconds(values: np.ndarray) -> np.ndarray:
    """Convert durations to float seconds, NaT to NaN."""
    delta = values.astype("timedelta64[ns]")
    out = delta.astype(np.int64) / 1e9
    out[np.isnat(delta)] = np.nan
    return out


def _run_id_grid(space: Space) -> np.ndarray:
    """Return the run id at every index position of ``space``."""
    ids = np.empty(space.shape, dtype=np.int64)
    ids[space.index_arrays()] = np.arange(space.n_runs)
    return ids


def _write_block(
    store: str,
    dims: tuple[str, ...],
    outputs: Mapping[str, _Output],
    region: tuple[slice, ...],
    run_ids: np.ndarray,
    records: Mapping[int, dict[str, Any]],
) -> None:
    """Write one shard's region of every variable, reading the Parquet of its runs.

    The output groups are written first and the root's ``status`` last: it is
    the block's commit mark. A write cut short leaves a block whose status
    disagrees with the manifest, and the next update rewrites it.
    """
    sweep_dir = Path(store).parent
    shape = run_ids.shape
    recs = {pos: records.get(int(run_ids[pos])) for pos in np.ndindex(*shape)}
    zregion = dict(zip(dims, region, strict=True))
    for out in outputs.values():
        n = max(out.rows, 1)
        arrays: dict[str, np.ndarray] = {}
        for column, kind in out.columns.items():
            if kind == "M":
                arrays[column] = np.full((*shape, n), np.datetime64("NaT", "ns"))
            elif kind in "fm":
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
            frame = _read_columns(sweep_dir / match[0]["path"], out.columns)
            for column, values in frame.items():
                kind = out.columns[column]
                rows = min(len(values), n)
                if kind == "M":
                    arrays[column][pos][:rows] = values[:rows].astype("datetime64[ns]")
                elif kind == "f":
                    arrays[column][pos][:rows] = values[:rows].astype(np.float64)
                elif kind == "m":
                    arrays[column][pos][:rows] = _seconds(values[:rows])
                else:
                    arrays[column][pos][:rows] = values[:rows].astype(object)
        data: dict[str, Any] = {}
        for column, kind in out.columns.items():
            name = out.names[column]
            value = arrays[column]
            data[name] = ((*dims, out.axis), value.astype(_STR) if kind == "U" else value)
        if out.epoch is not None:
            t = arrays[out.epoch]
            elapsed = (t - t[..., :1]).astype("timedelta64[ns]").astype(np.float64) / 1e9
            elapsed[np.isnat(t)] = np.nan
            data["elapsed_s"] = ((*dims, out.axis), elapsed)
        xr.Dataset(data).to_zarr(
            store,
            group=out.path,
            region={**zregion, out.axis: slice(0, n)},
            mode="r+",
            zarr_format=3,
            consolidated=False,
        )
    status = np.zeros(shape, dtype=np.int8)
    reason = np.full(shape, "", dtype=object)
    error = np.full(shape, "", dtype=object)
    duration = np.full(shape, np.nan)
    for pos, rec in recs.items():
        if rec is None:
            continue
        status[pos] = STATUS_FLAGS[rec["status"]]
        reason[pos] = rec.get("reason") or ""
        error[pos] = rec.get("error") or ""
        duration[pos] = rec.get("duration_s", np.nan)
    root = xr.Dataset(
        {
            "reason": (dims, reason.astype(_STR)),
            "error": (dims, error.astype(_STR)),
            "duration_s": (dims, duration),
            "status": (dims, status),
        }
    )
    root.to_zarr(store, region=zregion, mode="r+", zarr_format=3, consolidated=False)


def _create(target: Path, layout: _Layout, header: Mapping[str, Any], run_ids: np.ndarray) -> None:
    """Write the store's metadata, its coordinates and ``run_id``; every run pending."""
    root, enc = _root_template(layout, header, run_ids)
    root.to_zarr(target, mode="w", encoding=enc, compute=False, zarr_format=3, consolidated=False)
    for out in layout.outputs.values():
        _create_group(target, layout, out)


def _create_group(target: Path, layout: _Layout, out: _Output) -> None:
    ds, enc = _group_template(layout, out)
    ds.to_zarr(
        target,
        group=out.path,
        mode="w",
        encoding=enc,
        compute=False,
        zarr_format=3,
        consolidated=False,
    )


@contextlib.contextmanager
def _beside(sweep_dir: Path) -> Iterator[Path]:
    """Yield a temporary store path beside ``sweep.zarr``; on success, rename it into place.

    A reader never sees a half-made store, and a failure leaves the old one.
    """
    final = sweep_dir / STORE_NAME
    tmp = sweep_dir / f".{STORE_NAME}.{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _snapshot(outputs: Mapping[str, _Output]) -> dict[str, _Output]:
    """Copy the outputs for a task: the client keeps growing its own."""
    return {
        key: replace(out, columns=dict(out.columns), names=dict(out.names))
        for key, out in outputs.items()
    }


def _build(
    sweep_dir: Path,
    space: Space,
    header: Mapping[str, Any],
    records: Mapping[int, dict[str, Any]],
    client: Client | None,
) -> Path:
    """Build the whole store beside the old one, then rename it into place."""
    from dask.base import compute
    from dask.delayed import delayed

    layout = _Layout(space, _outputs(sweep_dir, records.values(), _reserved(space)), BLOCK_RUNS)
    ids = _run_id_grid(space)
    with _beside(sweep_dir) as tmp:
        _create(tmp, layout, header, ids)
        outputs = _snapshot(layout.outputs)
        tasks = []
        for region in layout.blocks():
            block_ids = ids[region]
            recs = {r: records[r] for r in block_ids.reshape(-1).tolist() if r in records}
            tasks.append(
                delayed(_write_block, pure=False)(
                    str(tmp), layout.dims, outputs, region, block_ids, recs
                )
            )
        if client is not None:
            client.compute(tasks, sync=True)
        else:
            compute(*tasks, scheduler="threads")
    return sweep_dir / STORE_NAME


class LiveStore:
    """Keeps a sweep's store in step with its manifest while runs finish.

    The client side of consolidation: it decides which blocks (shards of
    runs) to write and prepares the arrays they need (creates an output's
    group when its first run arrives, grows the output axis as longer runs
    arrive, grows the parameter dims after an extension); the writes are
    tasks, one per block, so no two writers touch one file. A block is
    written once all of its runs of this session have finished; at the
    start, blocks whose stored status disagrees with the manifest (an
    interrupted sweep's last blocks) are written too.
    """

    def __init__(self, sweep_dir: Path, space: Space, manifest: Manifest) -> None:
        self.dir = sweep_dir
        self.path = sweep_dir / STORE_NAME
        self.space = space
        self.header = dict(manifest.header)
        self.records: dict[int, dict[str, Any]] = dict(manifest.runs)
        self.ids = _run_id_grid(space)
        self.layout = _Layout(space, {}, BLOCK_RUNS)
        self.regions: list[tuple[slice, ...]] = []
        self.waiting: dict[int, int] = {}
        self._schemas: set[tuple[str, str]] = set()  # (output, script hash) schemas read
        self._block_grid: np.ndarray = np.empty(0, dtype=np.int64)
        self._block_of_run = np.empty(0, dtype=np.int64)
        self._pos_of_run = np.empty(0, dtype=np.int64)

    def start(self, run_ids: Iterable[int]) -> list[int]:
        """Prepare the store for a session running ``run_ids``; return the blocks to write now."""
        try:
            self._prepare()
        except Exception as exc:  # derived data: start it afresh
            warnings.warn(
                f"{self.path} cannot be updated in place ({type(exc).__name__}: {exc}); "
                "rebuilding it",
                UserWarning,
                stacklevel=3,
            )
            self._create()
        stale = self._stale()
        for run_id in run_ids:
            block = int(self._block_of_run[run_id])
            self.waiting[block] = self.waiting.get(block, 0) + 1
        return sorted(stale - self.waiting.keys())

    def finished(self, record: dict[str, Any]) -> list[int]:
        """Note a run's new manifest record; return the block if it is now complete."""
        run_id = int(record["run_id"])
        self.records[run_id] = record
        block = int(self._block_of_run[run_id])
        left = self.waiting.get(block)
        if left is None:
            return []
        if left > 1:
            self.waiting[block] = left - 1
            return []
        del self.waiting[block]
        return [block]

    def task(self, block: int) -> Callable[[], None]:
        """Return the write of one block as a picklable call; grow the arrays it needs first."""
        region = self.regions[block]
        ids = self.ids[region]
        records = {r: self.records[r] for r in ids.reshape(-1).tolist() if r in self.records}
        self._ensure_outputs(records.values())
        if block not in self.waiting:
            # Written for the last time this session: the manifest keeps its records, and
            # the client's memory stays flat however many runs a sweep has.
            for run_id in records:
                del self.records[run_id]
        return functools.partial(
            _write_block,
            str(self.path),
            self.layout.dims,
            _snapshot(self.layout.outputs),
            region,
            ids,
            records,
        )

    def sync(self) -> None:
        """Write every block that disagrees with the manifest, here, in this process."""
        for block in self.start(()):
            self.task(block)()
        self.finish(None)

    def describe(self, block: int) -> str:
        """Name the runs of a block, for messages."""
        ids = self.ids[self.regions[block]]
        return f"runs {int(ids.min())}..{int(ids.max())}"

    def finish(self, client: Client | None) -> None:
        """Rebuild the store if its output axis outgrew its chunks many times over."""
        if any(out.rows > 2 * max(out.chunk, 1) for out in self.layout.outputs.values()):
            runs = Manifest.load(self.dir / MANIFEST_NAME).runs  # written blocks' records too
            _build(self.dir, self.space, self.header, runs, client)

    # -- preparation --

    def _create(self) -> None:
        self.layout = _Layout(self.space, {}, BLOCK_RUNS)
        with _beside(self.dir) as tmp:
            _create(tmp, self.layout, self.header, self.ids)
        self._index_blocks()

    def _prepare(self) -> None:
        import zarr

        if not self.path.is_dir():
            self._create()
            return
        root = zarr.open_group(self.path, mode="r+", zarr_format=3)
        attrs: dict[str, Any] = dict(root.attrs)
        if (
            attrs.get("xsweep_store_schema") != STORE_SCHEMA
            or list(attrs.get("xsweep_dims", ())) != list(self.space.dims)
            or attrs.get("sweep_id") != self.header.get("sweep_id")
        ):
            self._create()
            return
        outputs: dict[str, _Output] = {}
        for key in attrs.get("xsweep_groups", ()):
            group = zarr.open_group(self.path, path=key, mode="r", zarr_format=3)
            a: dict[str, Any] = dict(group.attrs)
            out = _Output(a["gmat_kind"], a["gmat_name"], columns=dict(a["xsweep_columns"]))
            out.epoch = a["xsweep_epoch"]
            out.names = dict(a["xsweep_names"])
            some = next(iter(group.array_values()))
            out.rows, out.chunk = int(some.shape[-1]), int(some.chunks[-1])
            outputs[key] = out
        self.layout = _Layout(
            self.space, outputs, int(attrs["xsweep_block_runs"]), str(attrs["xsweep_block_dim"])
        )
        old = tuple(zarr.open_array(self.path / "status", mode="r", zarr_format=3).shape)
        if old != self.space.shape:
            if any(o > n for o, n in zip(old, self.space.shape, strict=True)):
                self._create()
                return
            self._grow(root)
        self._index_blocks()

    def _grow(self, root: Any) -> None:
        """Grow every array to the extended space's sizes; rewrite coordinates and run ids."""
        sizes = dict(zip(self.space.dims, self.space.shape, strict=True))
        groups = [root, *(root[key] for key in self.layout.outputs)]
        for group in groups:
            for arr in group.array_values():
                names = arr.metadata.dimension_names or ()
                arr.resize(
                    tuple(sizes.get(str(d), n) for d, n in zip(names, arr.shape, strict=True))
                )
        coords = xr.Dataset(coords=_coords(self.space))
        coords["run_id"] = (self.space.dims, self.ids)
        coords.attrs = dict(root.attrs)  # writing the group would clear them
        coords.to_zarr(self.path, mode="a", zarr_format=3, consolidated=False)

    def _index_blocks(self) -> None:
        self.regions = list(self.layout.blocks())
        grid = np.empty(self.space.shape, dtype=np.int64)
        for block, region in enumerate(self.regions):
            grid[region] = block
        flat_ids = self.ids.reshape(-1)
        self._block_grid = grid
        self._block_of_run = np.empty(self.space.n_runs, dtype=np.int64)
        self._block_of_run[flat_ids] = grid.reshape(-1)
        self._pos_of_run = np.empty(self.space.n_runs, dtype=np.int64)
        self._pos_of_run[flat_ids] = np.arange(self.space.n_runs)

    def _stale(self) -> set[int]:
        """Blocks whose stored status disagrees with the manifest."""
        import zarr

        stored = zarr.open_array(self.path / "status", mode="r", zarr_format=3)[...]
        want = np.zeros(self.space.n_runs, dtype=np.int8)
        for run_id, rec in self.records.items():
            if run_id < self.space.n_runs:
                want[self._pos_of_run[run_id]] = STATUS_FLAGS[rec["status"]]
        bad = np.asarray(stored).reshape(-1) != want
        return set(np.unique(self._block_grid.reshape(-1)[bad]).tolist())

    def _ensure_outputs(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Create the groups of outputs seen for the first time; grow those that changed.

        An output grows along its axis when a longer run arrives, and gains
        arrays when a run of another script (a drifted resume) has new columns.
        """
        import zarr

        need, all_samples = _scan_outputs(records)
        samples = {
            key: {sha: path for sha, path in by_sha.items() if (key, sha) not in self._schemas}
            for key, by_sha in all_samples.items()
        }
        reserved = _reserved(self.space)
        created = False
        for key, entry in need.items():
            out = self.layout.outputs.get(key)
            if out is None:
                out = entry
                for sample in samples.get(key, {}).values():
                    _read_schema(self.dir / sample, out, reserved)
                _create_group(self.path, self.layout, out)
                self.layout.outputs[key] = out
                created = True
            else:
                group = zarr.open_group(self.path, path=key, mode="r+", zarr_format=3)
                if entry.rows > out.rows:
                    for arr in group.array_values():
                        arr.resize((*arr.shape[:-1], entry.rows))
                    out.rows = entry.rows
                new: list[str] = []
                for sample in samples.get(key, {}).values():
                    new += _read_schema(self.dir / sample, out, reserved)
                if new:
                    ds, enc = _group_template(self.layout, out, only=new)
                    ds.attrs = {}
                    ds.to_zarr(
                        self.path,
                        group=key,
                        mode="a",
                        encoding=enc,
                        compute=False,
                        zarr_format=3,
                        consolidated=False,
                    )
                    group = zarr.open_group(self.path, path=key, mode="r+", zarr_format=3)
                    group.attrs.update(_group_attrs(out))
            self._schemas.update((key, sha) for sha in samples.get(key, {}))
        if created:
            root = zarr.open_group(self.path, mode="r+", zarr_format=3)
            root.attrs.update({"xsweep_groups": sorted(self.layout.outputs)})


def consolidate(path: str | os.PathLike[str], *, client: Client | None = None) -> Path:
    """Build (or rebuild) a sweep's Zarr store from its manifest and per-run Parquet.

    The store is derived data: deleting ``sweep.zarr`` loses nothing, this
    rebuilds it. (A sweep keeps its store up to date as it runs; this is for
    a deleted or damaged store, or a sweep run with ``consolidate=False``.)
    It is written beside the old one and renamed into place. Blocks of runs
    are written as Dask tasks in parallel (on ``client`` if given, else Dask's
    threaded scheduler); each task holds only its block's runs in memory.

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
    SweepLockedError
        The sweep is running: its store is being kept up to date already.

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
    from xsweep._manifest import ManifestWriter

    sweep_dir = Path(path).expanduser().resolve()
    if not (sweep_dir / MANIFEST_NAME).is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep directory (no {MANIFEST_NAME})")
    with ManifestWriter(sweep_dir) as writer:  # not while a sweep appends to it
        manifest = writer.manifest
        assert manifest is not None
        space = Space.from_dict(manifest.space, verify=False)
        return _build(sweep_dir, space, manifest.header, manifest.runs, client)


def _objectify(ds: xr.Dataset) -> xr.Dataset:
    """Turn variable-length strings into object arrays (lazily).

    numpy's StringDType cannot hold NaN, which ``where``, reindexing and
    alignment fill in; object arrays can, as they always have in xarray.
    """
    strings = [n for n, v in ds.variables.items() if isinstance(v.dtype, np.dtypes.StringDType)]
    return ds.assign({n: ds[n].astype(object) for n in strings if n in ds.data_vars})


def _source(sweep_dir: Path, verify: bool) -> tuple[Any, str | None]:
    """Return the Zarr store to open and the group prefix in it (a bundle's ``sweep.zarr``)."""
    from xsweep._archive import check_header, is_bundle
    from xsweep._archive import verify as verify_bundle

    if is_bundle(sweep_dir):
        import zarr

        members = check_header(sweep_dir)
        if verify:
            verify_bundle(sweep_dir).raise_for_problems()
        if f"{STORE_NAME}/zarr.json" not in members:
            raise StoreError(f"{sweep_dir} holds no {STORE_NAME}; xsweep did not archive it")
        return zarr.storage.ZipStore(sweep_dir, mode="r"), STORE_NAME
    if not (sweep_dir / MANIFEST_NAME).is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep directory (no {MANIFEST_NAME})")
    if not (sweep_dir / STORE_NAME).is_dir():
        raise StoreError(
            f"{sweep_dir} has no consolidated store ({STORE_NAME}); build it with "
            f"xs.consolidate({str(sweep_dir)!r})"
        )
    return sweep_dir / STORE_NAME, None


def _within(prefix: str | None, group: str | None) -> str | None:
    parts = [p for p in (prefix, group) if p]
    return "/".join(parts) or None


def open_sweep(
    path: str | os.PathLike[str],
    *,
    group: str | None = None,
    verify: bool = False,
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
    path : path-like
        The sweep directory, or a bundle zip.
    group : str, optional
        One output: its store path (``"reports/RF"``) or its GMAT name
        (``"RF"``) when that is unambiguous.
    verify : bool
        For a bundle: check every member's SHA-256 first (reads the whole zip).

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
    sweep_dir = Path(path).expanduser().resolve()
    store, prefix = _source(sweep_dir, verify)
    at = functools.partial(_within, prefix)
    # Metadata first, without Dask: the schema check, and the shard shape to chunk by.
    plain = xr.open_zarr(store, group=at(None), consolidated=False, zarr_format=3, chunks=None)
    schema = plain.attrs.get("xsweep_store_schema")
    if not isinstance(schema, int) or schema > STORE_SCHEMA:
        raise StoreError(
            f"{store} has store schema {schema!r}; this xsweep reads up to {STORE_SCHEMA}: "
            "upgrade xsweep"
        )
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
    if group is None:
        if not groups:
            return _objectify(root)
        if len(groups) > 1:
            tree: xr.DataTree = xr.open_datatree(
                store,
                engine="zarr",
                group=at(None),
                consolidated=False,
                chunks=chunks | dict.fromkeys(_AXIS.values(), -1),
            )
            tree.dataset = tree.to_dataset(inherit=False).assign_coords(root.coords)
            return tree.map_over_datasets(_objectify)
        group = groups[0]
    matches = [g for g in groups if g == group or g.rsplit("/", 1)[-1] == group]
    if len(matches) != 1:
        raise ConfigError(f"group={group!r} names no single output of this sweep; it has {groups}")
    axis = next(_AXIS[k] for k, g in _GROUP.items() if matches[0].startswith(f"{g}/"))
    part = xr.open_zarr(
        store, group=at(matches[0]), consolidated=False, zarr_format=3, chunks=chunks | {axis: -1}
    )
    ds = xr.merge([root, part], compat="override", join="exact", combine_attrs="override")
    ds.attrs = {**root.attrs, **part.attrs}
    return _objectify(ds)
