"""Keeping the store in step with the manifest while a sweep runs.

:class:`LiveStore` decides which blocks to write and prepares the arrays they
need; :class:`~xsweep.store.blocks.BlockWriter` writes them as the client
loop hands it finished runs: on one background thread of the client (an
embedded cluster) or as ``xsweep-store`` tasks on the caller's cluster.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from xsweep.core.paths import MANIFEST_NAME, STORE_NAME
from xsweep.core.records import RunRecord
from xsweep.core.vocabulary import STATUS_FLAGS
from xsweep.record.manifest import Manifest
from xsweep.space.spaces import Space
from xsweep.store.derived import (
    DERIVE_STATUS_VAR,
    DERIVED_ATTR,
    Derived,
    derived_arrays,
    derived_template,
    scan_derived,
)
from xsweep.store.layout import (
    PROBLEMS_VAR,
    STORE_SCHEMA,
    Layout,
    Output,
    coord_variables,
    group_attrs,
    group_template,
    new_layout,
    read_schema,
    refined_attrs,
    reserved_names,
    root_template,
    run_id_grid,
    scan_outputs,
)
from xsweep.store.summaries import (
    KEPT_VAR,
    SUMMARIES_ATTR,
    Summarized,
    scan_summaries,
    summary_template,
)
from xsweep.store.write import (
    beside,
    build,
    create,
    create_group,
    create_summary,
    snapshot,
    tiered,
    write_block,
)

if TYPE_CHECKING:
    from distributed import Client

# Output tables shipped with outcomes (OutputFile.ipc) held for blocks not yet written: a
# bound on the client's memory when many blocks wait at once (their runs' files are read).
HELD_BYTES = 64 * 2**20


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
        self.header = manifest.header
        self.records: dict[int, RunRecord] = dict(manifest.runs)
        self.ids = run_id_grid(space)
        self.layout = new_layout(space)
        self.regions: list[tuple[slice, ...]] = []
        self.waiting: dict[int, int] = {}
        self._schemas: set[tuple[str, str]] = set()  # (output, script hash) schemas read
        self.problems = True  # the store has PROBLEMS_VAR (one from before it may not)
        self.derived: dict[str, Derived] = {}  # its derived variables
        self.only_derived = False  # a session re-deriving values writes only those...
        self._whole: set[int] = set()  # ...except in blocks whose status is stale too
        self._block_grid: np.ndarray = np.empty(0, dtype=np.int64)
        self._block_of_run = np.empty(0, dtype=np.int64)
        self._pos_of_run = np.empty(0, dtype=np.int64)
        # Blocks hold ok runs written before a group appeared: their output_problems lack it.
        self._written = any(r.status == "ok" for r in self.records.values())
        self._late_group = False
        # A sweep keeping summaries: its summary groups (None: every run is kept in full).
        self.summaries: dict[str, Summarized] | None = {} if tiered(self.header) else None
        self._held: dict[int, int] = {}  # bytes of output tables shipped with a run's outcome
        self._held_bytes = 0

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
        self._whole = self._stale(derived=False)
        for run_id in run_ids:
            block = int(self._block_of_run[run_id])
            self.waiting[block] = self.waiting.get(block, 0) + 1
        return sorted(stale - self.waiting.keys())

    def finished(self, record: RunRecord) -> list[int]:
        """Note a run's new manifest record; return the block if it is now complete."""
        run_id = record.run_id
        self._held_bytes -= self._held.pop(run_id, 0)
        size = record.outcome.shipped_bytes()
        if size and self._held_bytes + size > HELD_BYTES:  # past it, its block reads its files
            record = replace(record, outcome=record.outcome.unshipped())
        elif size:
            self._held[run_id] = size
            self._held_bytes += size
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

    def partial(self) -> list[int]:
        """Return the blocks that hold runs recorded this session but still wait for others."""
        started = {int(self._block_of_run[r]) for r in self.records}
        return sorted(started & self.waiting.keys())

    def task(self, block: int) -> Callable[[], None]:
        """Return the write of one block as a picklable call; grow the arrays it needs first."""
        region = self.regions[block]
        ids = self.ids[region]
        records = {r: self.records[r] for r in ids.reshape(-1).tolist() if r in self.records}
        only = self.only_derived and block not in self._whole
        if not only:
            self._ensure_outputs(records.values())
            self._written = self._written or any(r.status == "ok" for r in records.values())
        if not self.problems and any(r.outcome.problems for r in records.values()):
            self._add_problems()
        self._ensure_derived(records.values())
        self._ensure_summaries(records.values())
        if block not in self.waiting:
            # Written for the last time this session: the manifest keeps its records, and
            # the client's memory stays flat however many runs a sweep has.
            for run_id in records:
                del self.records[run_id]
                self._held_bytes -= self._held.pop(run_id, 0)
        return functools.partial(
            write_block,
            str(self.path),
            self.layout.dims,
            snapshot(self.layout.outputs),
            region,
            ids,
            records,
            self.problems,
            {k: replace(v, attrs=dict(v.attrs)) for k, v in self.derived.items()} or None,
            only,
            summaries=None if self.summaries is None else _copies(self.summaries),
        )

    def sync(self) -> None:
        """Write every block that disagrees with the manifest, here, in this process."""
        for block in self.start(()):
            self.task(block)()
        self.finish(None)

    def rewrite(self, run_ids: Iterable[int]) -> None:
        """Write the blocks holding ``run_ids`` (and any stale ones) here: their records changed."""
        blocks = set(self.start(()))
        blocks |= {int(self._block_of_run[r]) for r in run_ids}
        for block in sorted(blocks):
            self.task(block)()
        self.finish(None)

    def describe(self, block: int) -> str:
        """Name the runs of a block, for messages."""
        ids = self.ids[self.regions[block]]
        return f"runs {int(ids.min())}..{int(ids.max())}"

    def finish(self, client: Client | None) -> None:
        """Rebuild the store if its output axis outgrew its chunks many times over.

        Also when a group appeared after blocks of ok runs were written (a
        script variant's output): their runs are flagged as not having it.
        """
        outgrown = any(out.rows > 2 * max(out.chunk, 1) for out in self.layout.outputs.values())
        if outgrown or self._late_group:
            runs = Manifest.load(self.dir / MANIFEST_NAME).runs  # written blocks' records too
            build(self.dir, self.space, self.header, runs, client)

    # -- preparation --

    def _create(self) -> None:
        self.problems = True
        self.derived = {}
        self.layout = new_layout(self.space)
        self.summaries = {} if tiered(self.header) else None
        with beside(self.dir) as tmp:
            create(tmp, self.layout, self.header, self.ids, summaries=self.summaries)
        self._index_blocks()

    def _prepare(self) -> None:
        import zarr

        if not self.path.is_dir():
            self._create()
            return
        root = zarr.open_group(self.path, mode="r+", zarr_format=3)
        attrs: dict[str, Any] = dict(root.attrs)
        self.problems = PROBLEMS_VAR in root
        self.derived = {k: Derived.from_dict(k, v) for k, v in attrs.get(DERIVED_ATTR, {}).items()}
        if (
            attrs.get("xsweep_store_schema") != STORE_SCHEMA
            or list(attrs.get("xsweep_dims", ())) != list(self.space.dims)
            or attrs.get("sweep_id") != self.header.sweep_id
            or (KEPT_VAR in root) != (self.summaries is not None)
        ):
            self._create()
            return
        outputs: dict[str, Output] = {}
        for key in attrs.get("xsweep_groups", ()):
            group = zarr.open_group(self.path, path=key, mode="r", zarr_format=3)
            a: dict[str, Any] = dict(group.attrs)
            out = Output(a["gmat_kind"], a["gmat_name"], columns=dict(a["xsweep_columns"]))
            out.epoch = a["xsweep_epoch"]
            out.names = dict(a["xsweep_names"])
            some = next(iter(group.array_values()))
            out.rows, out.chunk = int(some.shape[-1]), int(some.chunks[-1])
            outputs[key] = out
        self.layout = Layout(
            self.space, outputs, int(attrs["xsweep_block_runs"]), str(attrs["xsweep_block_dim"])
        )
        if self.summaries is not None:
            self.summaries = {
                key: Summarized.from_attrs(zarr.open_group(self.path, path=key, mode="r").attrs)
                for key in attrs.get(SUMMARIES_ATTR, ())
            }
        old = tuple(zarr.open_array(self.path / "status", mode="r", zarr_format=3).shape)
        if old != self.space.shape:
            if any(o > n for o, n in zip(old, self.space.shape, strict=True)):
                self._create()
                return
            self._grow(root)
        self._index_blocks()

    def _add_problems(self) -> None:
        """Give a store from before output problems were recorded its variable for them."""
        import zarr

        root, enc = root_template(self.layout, self.header, self.ids)
        part = root[[PROBLEMS_VAR]].drop_vars(list(root.coords))
        part.attrs = dict(zarr.open_group(self.path, mode="r", zarr_format=3).attrs)
        part.to_zarr(
            self.path,
            mode="a",
            encoding={PROBLEMS_VAR: enc[PROBLEMS_VAR]},
            compute=False,
            zarr_format=3,
            consolidated=False,
        )
        self.problems = True

    def _ensure_derived(self, records: Iterable[RunRecord]) -> None:
        """Create the root variables of derived quantities seen for the first time."""
        import zarr

        new = {k: v for k, v in scan_derived(records).items() if k not in self.derived}
        if not new:
            return
        part, enc = derived_template(self.layout, new, status=not self.derived)
        self.derived.update(new)
        attrs = dict(zarr.open_group(self.path, mode="r", zarr_format=3).attrs)
        part.attrs = {**attrs, DERIVED_ATTR: {k: v.to_dict() for k, v in self.derived.items()}}
        part.to_zarr(
            self.path, mode="a", encoding=enc, compute=False, zarr_format=3, consolidated=False
        )

    def _ensure_summaries(self, records: Iterable[RunRecord]) -> None:
        """Create the summary groups (and columns) of outputs summarized for the first time."""
        import zarr

        if self.summaries is None:
            return
        known = set(self.summaries)
        self.summaries, new = scan_summaries(records, reserved_names(self.space), self.summaries)
        for key, columns in new.items():
            group = self.summaries[key]
            if key not in known:
                create_summary(self.path, self.layout, group)
                continue
            ds, enc = summary_template(self.layout, group, only=columns)
            ds.attrs = {}
            ds.to_zarr(self.path, group=key, mode="a", encoding=enc, compute=False,
                       zarr_format=3, consolidated=False)  # fmt: skip
            zarr.open_group(self.path, path=key, mode="r+").attrs.update(group.attrs())
        if set(self.summaries) != known:
            root = zarr.open_group(self.path, mode="r+", zarr_format=3)
            root.attrs.update({SUMMARIES_ATTR: sorted(self.summaries)})

    def _grow(self, root: Any) -> None:
        """Grow every array to the extended space's sizes; rewrite coordinates and run ids."""
        sizes = dict(zip(self.space.dims, self.space.shape, strict=True))
        groups = [root, *(root[key] for key in [*self.layout.outputs, *(self.summaries or {})])]
        for group in groups:
            for arr in group.array_values():
                names = arr.metadata.dimension_names or ()
                arr.resize(
                    tuple(sizes.get(str(d), n) for d, n in zip(names, arr.shape, strict=True))
                )
        coords = xr.Dataset(coords=coord_variables(self.space))
        coords["run_id"] = (self.space.dims, self.ids)
        coords.attrs = {**root.attrs, **refined_attrs(self.space)}  # writing would clear them
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

    def _stale(self, *, derived: bool = True) -> set[int]:
        """Blocks whose stored status disagrees with the manifest."""
        import zarr

        stored = zarr.open_array(self.path / "status", mode="r", zarr_format=3)[...]
        want = np.zeros(self.space.n_runs, dtype=np.int8)
        for run_id, rec in self.records.items():
            if run_id < self.space.n_runs:
                want[self._pos_of_run[run_id]] = STATUS_FLAGS[rec.status]
        bad = np.asarray(stored).reshape(-1) != want
        if self.derived and derived:  # derived values have a commit mark of their own
            stored = zarr.open_array(self.path / DERIVE_STATUS_VAR, mode="r", zarr_format=3)[...]
            recs = {self._pos_of_run[i]: r for i, r in self.records.items() if i < len(want)}
            flags = derived_arrays({}, recs, (len(want),))[DERIVE_STATUS_VAR][1]
            bad |= np.asarray(stored).reshape(-1) != flags
        return set(np.unique(self._block_grid.reshape(-1)[bad]).tolist())

    def _ensure_outputs(self, records: Iterable[RunRecord]) -> None:
        """Create the groups of outputs seen for the first time; grow those that changed.

        An output grows along its axis when a longer run arrives, and gains
        arrays when a run of another script (a drifted resume) has new columns.
        """
        import zarr

        need, all_samples = scan_outputs(records)
        samples = {
            key: {sha: path for sha, path in by_sha.items() if (key, sha) not in self._schemas}
            for key, by_sha in all_samples.items()
        }
        reserved = reserved_names(self.space)
        created = False
        for key, entry in need.items():
            out = self.layout.outputs.get(key)
            if out is None:
                out = entry
                for sample in samples.get(key, {}).values():
                    read_schema(self.dir / sample, out, reserved)
                create_group(self.path, self.layout, out)
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
                    new += read_schema(self.dir / sample, out, reserved)
                if new:
                    ds, enc = group_template(self.layout, out, only=new)
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
                    group.attrs.update(group_attrs(out))
            self._schemas.update((key, sha) for sha in samples.get(key, {}))
        if created:
            self._late_group = self._late_group or self._written
            root = zarr.open_group(self.path, mode="r+", zarr_format=3)
            root.attrs.update({"xsweep_groups": sorted(self.layout.outputs)})


def _copies(groups: dict[str, Summarized]) -> dict[str, Summarized]:
    """Copy the summary groups for a task: the client keeps growing its own."""
    out = {}
    for key, group in groups.items():
        copy = Summarized(group.kind, group.name)
        copy.output = replace(group.output, columns=dict(group.output.columns),
                              names=dict(group.output.names))  # fmt: skip
        out[key] = copy
    return out
