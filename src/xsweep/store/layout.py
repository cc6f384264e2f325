"""The consolidated store's layout: its groups, arrays, chunks, shards and blocks.

The store (``sweep.zarr``, Zarr v3) is derived from the manifest and the
per-run Parquet files and can always be rebuilt from them:

- root group: the parameter coordinates, and ``run_id``, ``status`` (CF
  flags), ``reason``, ``error``, ``duration_s`` over the parameter dims;
- one group per GMAT output (``reports/RF``, ``ephemerides/Eph``,
  ``contacts/CL``, ``solver/DC``): every column over the parameter dims plus
  the output's own axis (``step``, ``interval``, ``iteration``), padded with
  NaN/NaT/"" where runs differ in length; the first epoch column is ``time``
  and ``elapsed_s`` is the time since the run's first row.

Output arrays are chunked by runs (about 32 KiB per chunk: one run of a long
report per chunk, so a label selection of one run reads only its chunk) and
sharded by blocks of runs along the block dim (:func:`block_dim`): a block is
what one writer writes, so no two writers ever touch one file. This module
describes that layout; ``write`` fills it, ``live`` keeps it current, ``open``
reads it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xsweep._version import __version__
from xsweep.core.header import ManifestHeader
from xsweep.core.records import RunRecord
from xsweep.core.vocabulary import OUTPUT_AXES, STATUS_FLAGS, STORE_VARIABLES, OutputKind
from xsweep.derived import units
from xsweep.space.spaces import Space
from xsweep.space.validation import is_field

# 2: shards run along the last parameter dim with more than one value (``xsweep_block_dim``),
# not always the last dim: a sweep ending in a one-value dim (a Monte Carlo crossed with
# one TOF) wrote one block per run under 1.
STORE_SCHEMA = 2
BLOCK_RUNS = 256  # runs per shard along the block dim (see block_dim)
_CHUNK_BYTES = 32 * 1024
GROUPS: dict[OutputKind, str] = {
    "report": "reports",
    "ephemeris": "ephemerides",
    "contact": "contacts",
    "solver": "solver",
}
NAT = np.iinfo(np.int64).min
# A run's outputs that are not in the store, and why: "reports/RF=absent;solver/DC=unparsed"
# ("" when every output was written). Stores written before it existed lack it: their
# runs had no such outputs.
PROBLEMS_VAR = "output_problems"
PROBLEMS_ATTRS = {
    "long_name": "outputs of an ok run not written: <group>=unparsed|absent|not-in-script; ..."
}
# An output of the sweep that the script a run loaded has not (another script variant's, or
# a drifted script's): its values are NaN there, and this says why.
NOT_IN_SCRIPT = "not-in-script"
STR = np.dtypes.StringDType()  # variable-length UTF-8 in Zarr v3
# gmat-sweep's Parquet (a sweep brought across by xs.import_sweep) repeat an output's index
# as a column: ``time``, a copy of the first epoch column, and a contact's ``interval_id``,
# its row number. The store has them already (the ``time`` coordinate, the ``interval``
# axis); GMAT never names a column so.
INDEX_COPIES = {"step": ("time", "M"), "interval": ("interval_id", "f")}


@dataclass
class Output:
    """One GMAT output across the sweep: a group of the store."""

    kind: OutputKind
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
        """The output's group in the store (``reports/RF``)."""
        return f"{GROUPS[self.kind]}/{self.name}"

    @property
    def axis(self) -> str:
        """The output's own axis (``step``, ``interval``, ``iteration``)."""
        return OUTPUT_AXES[self.kind]


def reserved_names(space: Space) -> set[str]:
    """Names a GMAT column cannot keep in the store: the space's, and xsweep's own."""
    return {
        *STORE_VARIABLES,
        *OUTPUT_AXES.values(),
        *map(str, space.dataset.variables),
        *space.dims,
    }


def scan_outputs(
    records: Iterable[RunRecord],
) -> tuple[dict[str, Output], dict[str, dict[str, str]]]:
    """Find every output of the ok runs in ``records`` and its longest length.

    Also return, per output, one Parquet file per script hash: runs of one
    script write the same columns, a drifted script may add some, so one
    schema per hash is enough.
    """
    found: dict[str, Output] = {}
    samples: dict[str, dict[str, str]] = {}
    for rec in records:
        if rec.status != "ok" or not rec.outcome.kept:  # a summary's outputs have no file
            continue
        for out in rec.outcome.outputs:
            key = f"{GROUPS[out.kind]}/{out.name}"
            entry = found.setdefault(key, Output(out.kind, out.name, sample=out.path))
            entry.rows = max(entry.rows, out.rows)
            samples.setdefault(key, {}).setdefault(rec.script_sha256, out.path)
    return found, samples


def find_outputs(
    sweep_dir: Path, records: Iterable[RunRecord], reserved: set[str]
) -> dict[str, Output]:
    """Find every output of the ok runs in ``records``, its longest length and its columns."""
    found, samples = scan_outputs(records)
    for key, entry in found.items():
        for sample in samples[key].values():
            read_schema(sweep_dir / sample, entry, reserved)
    return found


def read_schema(path: Path, entry: Output, reserved: set[str]) -> list[str]:
    """Add the columns of Parquet file ``path`` that ``entry`` lacks; return them.

    A column whose name is taken (gmat-run's solver logs have ``iteration``
    and ``status`` columns) is stored as ``<kind>_<name>``, its GMAT name
    in the ``gmat_column`` attribute.
    """
    import pyarrow.parquet as pq

    from xsweep.gmat.summary import arrow_kind

    schema = pq.read_schema(path)
    pairs = [(n, arrow_kind(t)) for n, t in zip(schema.names, schema.types, strict=True)]
    return add_columns(entry, pairs, reserved)


def add_columns(entry: Output, pairs: Iterable[tuple[str, str]], reserved: set[str]) -> list[str]:
    """Add the ``(column, kind)`` pairs ``entry`` lacks, naming each; return the new columns.

    See :func:`read_schema`: the first epoch column of a time series is ``time``.
    """
    first = not entry.columns  # a drifted script's new columns never become ``time``
    new: list[str] = []
    for name, kind in pairs:
        if name.startswith("__index_level") or name in entry.columns:
            continue
        if (name, kind) == INDEX_COPIES.get(entry.axis) and (entry.epoch or entry.axis != "step"):
            continue  # gmat-sweep's copy of the axis (after the epoch column it copies)
        entry.columns[name] = kind
        # A time series' first epoch column is its ``time``.
        if kind == "M" and entry.axis == "step" and entry.epoch is None and first:
            entry.epoch = name
            entry.names[name] = "time"
        else:
            entry.names[name] = f"{entry.kind}_{name}" if name in reserved else name
        new.append(name)
    return new


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
class Layout:
    """Chunks, shards and blocks of a store over ``space``; blocks of ``block`` runs."""

    space: Space
    outputs: dict[str, Output]
    block: int
    along: str | None = None  # the block dim; chosen from the space when None

    @property
    def dims(self) -> tuple[str, ...]:
        """The parameter dims, in run-id order."""
        return self.space.dims

    @property
    def axis(self) -> int:
        """Index of the dim that shards (blocks of runs) run along."""
        along = self.along or block_dim(self.dims, self.shape)
        return self.dims.index(along)

    @property
    def shape(self) -> tuple[int, ...]:
        """The parameter dims' sizes."""
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
        """Shards: one block of runs (and the whole output axis, given its length ``extra``)."""
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


def coord_variables(space: Space) -> dict[str, Any]:
    """Every space variable as a coordinate; dims without one get an integer index."""
    ds = space.dataset
    coords: dict[str, Any] = {}
    for name in ds.variables:
        var = ds.variables[name]
        attrs = {k: v for k, v in var.attrs.items() if not k.startswith("xsweep_")}
        if units(str(name)):
            attrs["units"] = units(str(name))
        values = var.values
        if values.dtype.kind == "U":  # variable-length: a grown dim's new labels may be longer
            values = values.astype(STR)
        coords[str(name)] = xr.Variable(var.dims, values, attrs=attrs)
    for dim in space.dims:
        if dim not in coords:
            coords[dim] = xr.Variable((dim,), np.arange(ds.sizes[dim]))
    return coords


def lazy(shape: tuple[int, ...], dtype: Any, fill: Any) -> Any:
    """Return a lazy array of ``fill``: a template ``to_zarr(compute=False)`` writes no data of."""
    import dask.array as da

    return da.full(shape, fill, dtype=dtype, chunks=shape)


def root_template(
    layout: Layout, header: ManifestHeader, run_ids: np.ndarray
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Return the lazy template of the root group and its encoding (every run pending)."""
    shape, dims = layout.shape, layout.dims
    ds = xr.Dataset(
        {
            "run_id": (dims, run_ids, {"long_name": "run id in the manifest"}),
            "status": (
                dims,
                lazy(shape, np.int8, 0),
                {
                    "flag_values": np.array(list(STATUS_FLAGS.values()), dtype=np.int8),
                    "flag_meanings": " ".join(STATUS_FLAGS),
                },
            ),
            "reason": (dims, lazy(shape, STR, "")),
            "error": (dims, lazy(shape, STR, "")),
            "duration_s": (dims, lazy(shape, np.float64, np.nan), {"units": "s"}),
            PROBLEMS_VAR: (dims, lazy(shape, STR, ""), PROBLEMS_ATTRS),
        },
        coords=coord_variables(layout.space),
    )
    ds.attrs = {
        "xsweep_store_schema": STORE_SCHEMA,
        "xsweep_version": __version__,
        "sweep_id": header.sweep_id,
        "script_sha256": header.script_sha256,
        "xsweep_groups": sorted(layout.outputs),
        "xsweep_dims": list(dims),
        "xsweep_block_runs": layout.block,
        "xsweep_block_dim": dims[layout.axis],
    }
    ds.attrs.update(refined_attrs(layout.space))
    enc: dict[str, Any] = {}
    for name in ("run_id", "status", "duration_s", "reason", "error", PROBLEMS_VAR):
        enc[name] = {"chunks": layout.chunks(), "shards": layout.shards()}
    return ds, enc


def problems_text(record: RunRecord | None, groups: Iterable[str] = ()) -> str:
    """Encode a run's output problems as the store's :data:`PROBLEMS_VAR` holds them.

    An ok run has each output its script defines, written or as a problem;
    a store group (of ``groups``) it has neither of is :data:`NOT_IN_SCRIPT`.
    """
    if record is None:
        return ""
    items: list[tuple[str, str]] = [
        (f"{GROUPS[p.kind]}/{p.name}", p.status) for p in record.outcome.problems
    ]
    if record.status == "ok":
        have = {key for key, _ in items}
        have |= {f"{GROUPS[o.kind]}/{o.name}" for o in record.outcome.outputs}
        items += [(key, NOT_IN_SCRIPT) for key in sorted(groups) if key not in have]
    return ";".join(f"{key}={status}" for key, status in items)


def group_attrs(out: Output) -> dict[str, Any]:
    """Describe an output in its group's attributes (read back on resume)."""
    return {
        "gmat_kind": out.kind,
        "gmat_name": out.name,
        "xsweep_columns": out.columns,
        "xsweep_epoch": out.epoch,
        "xsweep_names": out.names,
    }


def group_template(
    layout: Layout, out: Output, only: Iterable[str] | None = None
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
        elif units(column):
            attrs["units"] = units(column)
        if kind == "M":
            data[name] = (dims, lazy(shape, "datetime64[ns]", np.datetime64("NaT", "ns")), attrs)
            enc[name] = {
                "chunks": chunks,
                "shards": shards,
                "units": "nanoseconds since 1970-01-01",
                "dtype": "int64",
                "_FillValue": NAT,
                "fill_value": NAT,  # what Zarr gives for chunks never written
            }
        elif kind in "fm":
            data[name] = (dims, lazy(shape, np.float64, np.nan), attrs)
            enc[name] = {"chunks": chunks, "shards": shards}
        else:
            data[name] = (dims, lazy(shape, STR, ""), attrs)
            enc[name] = {"chunks": chunks, "shards": shards}
    if out.epoch is not None and out.epoch in columns:
        data["elapsed_s"] = (
            dims,
            lazy(shape, np.float64, np.nan),
            {"units": "s", "long_name": "time since the run's first row"},
        )
        enc["elapsed_s"] = {"chunks": chunks, "shards": shards}
    ds = xr.Dataset(data, attrs=group_attrs(out))
    out.chunk = chunks[-1]
    return ds, enc


def fused_pipeline() -> dict[str, Any]:
    """Return the Zarr setting that opens arrays with its fused codec pipeline, if it has one.

    The fused pipeline decodes and encodes a shard's inner chunks synchronously, without
    a coroutine per chunk: 30-40 % less time for a whole-shard read of a sweep's small
    chunks, ~8 % for a block's write. It is opt-in in Zarr 3.4 and absent before; a
    store without synchronous IO (a zip, an object store) takes the async path within
    it. The setting is read when an array is opened.
    """
    from zarr.core import codec_pipeline

    fused = getattr(codec_pipeline, "FusedCodecPipeline", None)
    if fused is None:
        return {}
    return {"codec_pipeline.path": f"{fused.__module__}.{fused.__qualname__}"}


def refined_attrs(space: Space) -> dict[str, list[str]]:
    """Name the grid dims given values after the sweep was planned (``open_sweep`` sorts them).

    Empty for a space that never grew a grid dim: its store's attrs are as before.
    """
    dims = sorted({d for d, _, _ in space.steps if is_field(space.dataset, d)})
    return {"xsweep_refined": dims} if dims else {}


def run_id_grid(space: Space) -> np.ndarray:
    """Return the run id at every index position of ``space``.

    Built block by block of its growth (a space never grown is one block, in C
    order): no index arrays of the whole space are held at once.
    """
    ids = np.empty(space.shape, dtype=np.int64)
    first = 0
    for start, shape in space.blocks():
        n = math.prod(shape)
        ids[tuple(slice(s, s + k) for s, k in zip(start, shape, strict=True))] = np.arange(
            first, first + n
        ).reshape(shape)
        first += n
    return ids


def new_layout(space: Space, outputs: Mapping[str, Output] | None = None) -> Layout:
    """Return the layout of a new store for ``space``, blocks of :data:`BLOCK_RUNS` runs."""
    return Layout(space, dict(outputs or {}), BLOCK_RUNS)
