"""Writing the store: one block of runs at a time, or the whole store beside the old one.

A block write reads its runs' Parquet and writes one shard's region of every
array; ``status`` goes last, as the block's commit mark. :func:`consolidate`
(and :func:`build`) rebuild the whole store from the manifest and Parquet,
beside the old one, then rename it into place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from xsweep.core.header import ManifestHeader
from xsweep.core.paths import STORE_NAME, inside, sweep_dir as resolve_sweep_dir
from xsweep.core.records import RunRecord
from xsweep.core.vocabulary import STATUS_FLAGS
from xsweep.record.manifest import ManifestWriter
from xsweep.space.spaces import Space
from xsweep.store.derived import (
    DERIVED_ATTR,
    Derived,
    derived_arrays,
    derived_template,
    scan_derived,
)
from xsweep.store.effects import NO_EFFECT_ATTR, no_effect
from xsweep.store.envelope import ENVELOPE
from xsweep.store.layout import (
    PROBLEMS_VAR,
    STR,
    Layout,
    Output,
    find_outputs,
    group_template,
    lazy,
    new_layout,
    problems_text,
    reserved_names,
    root_template,
    run_id_grid,
)
from xsweep.store.summaries import (
    KEPT_ATTRS,
    KEPT_VAR,
    SUMMARIES_ATTR,
    Summarized,
    kept_array,
    scan_summaries,
    summary_arrays,
    summary_template,
)

if TYPE_CHECKING:
    from distributed import Client


def _read_columns(path: Path, columns: Iterable[str]) -> dict[str, np.ndarray]:
    """Read those of ``columns`` that one Parquet file has, as numpy arrays (no DataFrame)."""
    import pyarrow.parquet as pq

    # ParquetFile on one thread: 0.3 ms a small file, read_table's dataset layer 1.5 ms;
    # without pre-buffering (for high-latency stores), 0.2 ms.
    return _numpy_columns(pq.ParquetFile(path, pre_buffer=False).read(use_threads=False), columns)


def _shipped_columns(ipc: bytes, columns: Iterable[str]) -> dict[str, np.ndarray]:
    """Those of ``columns`` that an output's table, shipped with its outcome, has."""
    import pyarrow as pa

    return _numpy_columns(pa.ipc.open_stream(ipc).read_all(), columns)


def _numpy_columns(table: Any, columns: Iterable[str]) -> dict[str, np.ndarray]:
    return {name: table.column(name).to_numpy() for name in columns if name in table.column_names}


def _seconds(values: np.ndarray) -> np.ndarray:
    """Convert durations to float seconds, NaT to NaN."""
    delta = values.astype("timedelta64[ns]")
    out = delta.astype(np.int64) / 1e9
    out[np.isnat(delta)] = np.nan
    return out


def write_block(
    store: str,
    dims: tuple[str, ...],
    outputs: Mapping[str, Output],
    region: tuple[slice, ...],
    run_ids: np.ndarray,
    records: Mapping[int, RunRecord],
    problems: bool = True,
    derived: Mapping[str, Derived] | None = None,
    only_derived: bool = False,
    summaries: Mapping[str, Summarized] | None = None,
) -> None:
    """Write one shard's region of every variable, reading the Parquet of its runs.

    The output groups are written first and the root's ``status`` last: it is
    the block's commit mark. A write cut short leaves a block whose status
    disagrees with the manifest, and the next update rewrites it. ``problems``
    says whether the store has :data:`~xsweep.store.layout.PROBLEMS_VAR` (a
    store written before it existed has not, and none of its runs needs it).
    ``derived`` are the store's derived variables (``None``: it has none);
    ``only_derived`` writes just them, for values re-derived without GMAT.
    ``summaries``: the store's summary groups, and its ``kept`` (``None``: a
    sweep keeping every run in full has neither).
    """
    sweep_dir = Path(store).parent
    shape = run_ids.shape
    recs = {pos: records.get(int(run_ids[pos])) for pos in np.ndindex(*shape)}
    zregion = dict(zip(dims, region, strict=True))
    if derived is not None:
        values = derived_arrays(derived, recs, shape)
        part = xr.Dataset({k: ((*dims, *d), v) for k, (d, v) in values.items()})
        part.to_zarr(store, region=zregion, mode="r+", zarr_format=3, consolidated=False)
    if only_derived:
        return
    for group in (summaries or {}).values():
        _write_region(store, group.path, summary_arrays(group, recs, shape), (*region, slice(0, 3)))
    for out in outputs.values():
        n = max(out.rows, 1)
        if summaries is not None and not any(
            r is not None and r.outcome.kept for r in recs.values()
        ):
            continue  # no run of the block kept in full: its chunks stay unwritten (no bytes)
        arrays = _output_arrays(sweep_dir, out, recs, shape)
        data: dict[str, Any] = {}
        for column, kind in out.columns.items():
            name = out.names[column]
            value = arrays[column]
            data[name] = value.astype(STR) if kind == "U" else value
        if out.epoch is not None:
            t = arrays[out.epoch]
            elapsed = (t - t[..., :1]).astype("timedelta64[ns]").astype(np.float64) / 1e9
            elapsed[np.isnat(t)] = np.nan
            data["elapsed_s"] = elapsed
        _write_region(store, out.path, data, (*region, slice(0, n)))
    status = np.zeros(shape, dtype=np.int8)
    reason = np.full(shape, "", dtype=object)
    error = np.full(shape, "", dtype=object)
    duration = np.full(shape, np.nan)
    for pos, rec in recs.items():
        if rec is None:
            continue
        status[pos] = STATUS_FLAGS[rec.status]
        reason[pos] = rec.outcome.reason or ""
        error[pos] = rec.outcome.error or ""
        duration[pos] = rec.outcome.duration_s
    variables: dict[str, np.ndarray] = {
        "reason": reason.astype(STR),
        "error": error.astype(STR),
        "duration_s": duration,
    }
    if problems:
        text = np.full(shape, "", dtype=object)
        for pos, rec in recs.items():
            text[pos] = problems_text(rec, outputs)
        variables[PROBLEMS_VAR] = text.astype(STR)
    if summaries is not None:
        variables[KEPT_VAR] = kept_array(recs, shape)
    variables["status"] = status  # last: the block's commit mark
    _write_region(store, None, variables, region)


def _write_region(
    store: str, group: str | None, variables: Mapping[str, np.ndarray], region: tuple[slice, ...]
) -> None:
    """Write whole shards of existing arrays, in order, straight through Zarr.

    What xarray's region write would store, without its per-call cost (it opens the
    group and reads every array's metadata first: ~35 ms of a block's ~120 ms). The
    arrays were created by :func:`create` and :func:`create_group`, which fix their
    encoding: datetimes as int64 nanoseconds since 1970 (NaT is int64's minimum, their
    fill value), strings and floats as they are.
    """
    import zarr

    for name, values in variables.items():
        path = f"{group}/{name}" if group else name
        array = zarr.open_array(store, path=path, mode="r+", zarr_format=3)
        if values.dtype.kind == "M":
            values = values.astype("datetime64[ns]").view(np.int64)
        array[region] = values


def _output_arrays(
    sweep_dir: Path,
    out: Output,
    recs: Mapping[tuple[int, ...], RunRecord | None],
    shape: tuple[int, ...],
) -> dict[str, np.ndarray]:
    """Read one output's columns of a block's ok runs into padded arrays (a run per row)."""
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
        if rec is None or rec.status != "ok" or not rec.outcome.kept:
            continue
        match = [o for o in rec.outcome.outputs if o.kind == out.kind and o.name == out.name]
        if not match:
            continue
        if match[0].ipc is not None:  # shipped with the outcome: no need to read it back
            frame = _shipped_columns(match[0].ipc, out.columns)
        else:
            frame = _read_columns(inside(sweep_dir, match[0].path, "an output"), out.columns)
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
    return arrays


def create(
    target: Path,
    layout: Layout,
    header: ManifestHeader,
    run_ids: np.ndarray,
    derived: Mapping[str, Derived] | None = None,
    summaries: Mapping[str, Summarized] | None = None,
) -> None:
    """Write the store's metadata, its coordinates and ``run_id``; every run pending.

    ``summaries`` (a sweep that keeps summaries: ``{}`` before any run) adds ``kept``.
    """
    root, enc = root_template(layout, header, run_ids)
    if summaries is not None:
        root[KEPT_VAR] = (layout.dims, lazy(layout.shape, np.int8, 0), KEPT_ATTRS)
        root.attrs[SUMMARIES_ATTR] = sorted(summaries)
        enc[KEPT_VAR] = {"chunks": layout.chunks(), "shards": layout.shards()}
    if derived:
        part, part_enc = derived_template(layout, derived, status=True)
        root = root.merge(part)
        root.attrs[DERIVED_ATTR] = {name: var.to_dict() for name, var in derived.items()}
        enc.update(part_enc)
    root.to_zarr(target, mode="w", encoding=enc, compute=False, zarr_format=3, consolidated=False)
    for out in layout.outputs.values():
        create_group(target, layout, out)
    for group in (summaries or {}).values():
        create_summary(target, layout, group)


def create_summary(target: Path, layout: Layout, group: Summarized) -> None:
    """Create a summary group, every run's values missing."""
    ds, enc = summary_template(layout, group)
    ds.to_zarr(target, group=group.path, mode="w", encoding=enc, compute=False, zarr_format=3,
               consolidated=False)  # fmt: skip


def create_group(target: Path, layout: Layout, out: Output) -> None:
    """Create an output's group, every run's values missing."""
    ds, enc = group_template(layout, out)
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
def beside(sweep_dir: Path) -> Iterator[Path]:
    """Yield a temporary store path beside ``sweep.zarr``; on success, rename it into place.

    A reader never sees a half-made store, and a failure leaves the old one.
    """
    final = sweep_dir / STORE_NAME
    tmp = sweep_dir / f".{STORE_NAME}.{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        if (final / ENVELOPE).is_dir() and not (tmp / ENVELOPE).exists():
            shutil.copytree(final / ENVELOPE, tmp / ENVELOPE)  # folded from runs: not rebuildable
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def snapshot(outputs: Mapping[str, Output]) -> dict[str, Output]:
    """Copy the outputs for a task: the client keeps growing its own."""
    return {
        key: replace(out, columns=dict(out.columns), names=dict(out.names))
        for key, out in outputs.items()
    }


def build(
    sweep_dir: Path,
    space: Space,
    header: ManifestHeader,
    records: Mapping[int, RunRecord],
    client: Client | None,
) -> Path:
    """Build the whole store beside the old one, then rename it into place."""
    from dask.base import compute
    from dask.delayed import delayed

    layout = new_layout(space, find_outputs(sweep_dir, records.values(), reserved_names(space)))
    derived = scan_derived(records.values()) or None
    summaries = (
        scan_summaries(records.values(), reserved_names(space))[0] if tiered(header) else None
    )
    ids = run_id_grid(space)
    with beside(sweep_dir) as tmp:
        create(tmp, layout, header, ids, derived, summaries)
        outputs = snapshot(layout.outputs)
        tasks = []
        for region in layout.blocks():
            block_ids = ids[region]
            recs = {r: records[r] for r in block_ids.reshape(-1).tolist() if r in records}
            tasks.append(
                delayed(write_block, pure=False)(
                    str(tmp),
                    layout.dims,
                    outputs,
                    region,
                    block_ids,
                    recs,
                    True,
                    derived,
                    summaries=summaries,
                )
            )
        if client is not None:
            client.compute(tasks, sync=True)
        else:
            compute(*tasks, scheduler="threads")
        mark_no_effect(tmp, no_effect(records, space))
    return sweep_dir / STORE_NAME


def tiered(header: ManifestHeader) -> bool:
    """Whether a sweep keeps summaries (its header records a ``keep`` policy)."""
    return isinstance(header.options.get("keep"), Mapping)


def mark_no_effect(store: Path, dims: Mapping[str, int]) -> None:
    """Record in the store's root the dims along which no output changes (none: no attr)."""
    import zarr

    root = zarr.open_group(store, mode="r+", zarr_format=3)
    if dims:
        root.attrs[NO_EFFECT_ATTR] = dict(dims)
    elif NO_EFFECT_ATTR in root.attrs:
        del root.attrs[NO_EFFECT_ATTR]


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
    sweep_dir = resolve_sweep_dir(path)
    with ManifestWriter(sweep_dir) as writer:  # not while a sweep appends to it
        manifest = writer.manifest
        assert manifest is not None
        space = Space.from_dict(manifest.space, verify=False)
        return build(sweep_dir, space, manifest.header, manifest.runs, client)
