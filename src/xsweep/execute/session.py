"""Continuing a sweep (:func:`resume`, :func:`extend`) and deriving values without GMAT.

Resume and extend share one continuation: reopen the locked sweep, check the
script for drift, settle the derive functions, then run what is left (resume)
or what was added (extend). Values of finished runs are derived (or derived
again) by :func:`derive_finished`: Dask tasks in which each worker's child
reads the runs' Parquet and calls the functions, GMAT untouched.
"""

from __future__ import annotations

import itertools
import os
import sys
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xsweep.analysis.handle import Sweep
from xsweep.core.envelope import Envelope
from xsweep.core.errors import ConfigError, disk_full_is_resumable
from xsweep.core.hooks import DeriveFunction, DeriveResult, reload, resolve
from xsweep.core.options import ExecutionOptions, Options
from xsweep.core.paths import STORE_NAME, sweep_dir
from xsweep.core.records import RunRecord
from xsweep.core.timeouts import FLOOR_S
from xsweep.execute.cluster import Cluster, cluster_for
from xsweep.execute.dashboard import progress_bar
from xsweep.execute.dispatch import Dispatcher, derived_schema
from xsweep.execute.worker import execute_derive
from xsweep.plan.adopt import adopt_finished
from xsweep.plan.checks import Plan, check_scripts_here, reopen
from xsweep.plan.reuse import Reuser, reuse_sources
from xsweep.plan.scripts import ScriptArg, Scripts, resolve_scripts
from xsweep.record.manifest import Manifest, ManifestWriter
from xsweep.record.reparse import reparse_outputs
from xsweep.space.spaces import Space
from xsweep.store.blocks import BlockWriter
from xsweep.store.envelope import Folder
from xsweep.store.live import LiveStore

if TYPE_CHECKING:
    pass

DERIVE_PREFIX = "xsweep-derive"  # the dashboard groups derive tasks under this name
DERIVE_BATCH = 32  # runs per derive task: no GMAT, so a run is ~1 ms of work


@dataclass(frozen=True)
class Session:
    """A continued session's execution options, and the keywords of resume and extend's own."""

    ex: ExecutionOptions
    script: ScriptArg = None
    allow_script_drift: bool = False
    reparse: bool = False
    rederive: bool = False
    refly: bool = False  # its runs ran before: rerun them all, compared with their records

    def given(self) -> dict[str, Any]:
        """Return the execution options given (``None``: the one the sweep recorded)."""
        return dict(self.ex.given)

    def cluster(self, opts: Options, path: Any) -> Cluster:
        """Return the cluster this session runs on (not entered yet)."""
        return cluster_for(self.ex, opts, path)


def settle_derive(
    writer: ManifestWriter, manifest: Manifest, derive: Any, *, warn: bool = True
) -> tuple[tuple[DeriveFunction, ...], list[str]]:
    """Return the derive functions of a continued sweep (and those it cannot load); record them.

    Given functions join the recorded ones (one of the same name replaces it,
    with a warning if its source changed: its values would mix two versions).
    Recorded ones are reloaded by name; the names of those that cannot be (a
    notebook's function) are returned: a session that needs them must be
    given them again.
    """
    recorded = {str(e["fn"]): e for e in manifest.derive}
    given = {f.ref: f for f in resolve(derive)}
    out: list[DeriveFunction] = []
    unloaded: list[str] = []
    entries: list[dict[str, Any]] = []
    for ref, entry in recorded.items():
        loaded = given.get(ref) or reload(entry)
        if loaded is None:
            unloaded.append(ref)
            entries.append(dict(entry))
            continue
        if warn and entry.get("sha256") != loaded.sha256:
            warnings.warn(
                f"derive function {ref} changed since the sweep recorded it (sha256 "
                f"{str(entry.get('sha256'))[:12]} -> {loaded.sha256[:12]}): values computed "
                "now mix with the old version's (each run records the version it used); "
                f"xs.derive(sweep, {ref.rpartition(':')[2]!r}) recomputes every run with it",
                UserWarning,
                stacklevel=4,
            )
        out.append(loaded)
        entries.append(loaded.to_dict())
    for ref, fn in given.items():
        if ref not in recorded:
            out.append(fn)
            entries.append(fn.to_dict())
    if entries != list(manifest.derive):
        writer.append_derive(entries)
        manifest.derive = entries
    return tuple(out), unloaded


def _announce(scripts: Scripts, n: int) -> None:
    for name, (path, sha) in scripts.by_name.items():
        what = "" if name is None else f" (variant {name})"
        runs = f"{n} run" + ("s" if n != 1 else "")
        print(f"xsweep: {runs} will run {path}{what}, sha256 {sha}", file=sys.stderr)


def _need(unloaded: list[str]) -> None:
    if unloaded:
        raise ConfigError(
            f"the sweep derives values with {', '.join(unloaded)}: xsweep runs no function "
            "a sweep names (a sweep is data, docs/security.md); pass it again: derive=[...]"
        )


def continue_sweep(
    path: str | os.PathLike[str], session: Session, plan: Plan, *, sync_if_idle: bool
) -> Sweep:
    """Continue a sweep: reopen it locked, check the script, ``plan`` the runs, run them.

    With nothing to run and ``sync_if_idle``, the store is brought up to date here.
    """
    directory = sweep_dir(path)
    with disk_full_is_resumable(directory), ManifestWriter(directory) as writer:
        manifest, opts, space = reopen(writer, session.given())
        sources = None
        if session.ex.reuse is not None:  # a bad reuse_from is refused before anything changes
            sources = reuse_sources(directory, manifest, session.ex.reuse_from)
        scripts, drifted = resolve_scripts(
            directory, manifest, session.script, session.allow_script_drift
        )
        functions, unloaded = settle_derive(writer, manifest, session.ex.derive)
        reparsed = reparse_outputs(writer, manifest, directory) if session.reparse else {}
        manifest.runs.update(reparsed)  # what the store's writers read from here on
        space, run_ids, extension = plan(writer, manifest, space)
        if extension is not None and "scripts" in extension:  # new variants, copied in
            baseline = extension.get("baseline")
            new = [n for n in extension["scripts"] if n not in scripts.by_name and n != baseline]
            scripts = scripts.added(directory, extension["scripts"], baseline)
            drifted |= {n: Path(scripts.by_name[n].path) for n in new}
        if drifted:
            check_scripts_here(drifted, space, opts)
        run_ids, adopted = _adopted(session, writer, space, scripts, run_ids)
        if opts.envelope is not None and not session.refly:
            run_ids = sorted({*run_ids, *unfolded(directory, opts.envelope, manifest)})
        fill = session.rederive or session.ex.derive is not None or bool(adopted and functions)
        missing = needs_deriving(manifest, functions) if fill else {}
        if run_ids or missing:
            _need(unloaded)
        reuser = None
        if sources is not None:
            reuser = Reuser(sources, directory, manifest.header, functions)
        cluster = session.cluster(opts, directory)
        if run_ids or missing:
            with cluster:
                if missing:
                    derive_finished(writer, space, opts, cluster, missing, session)
                if run_ids:
                    if session.ex.progress:  # a sweep from someone else runs its script: say so
                        _announce(scripts, len(run_ids))
                    cluster.start_workers(len(run_ids))  # a cluster that fails writes nothing
                    if extension is not None:
                        writer.append_extension(extension)
                    Dispatcher(
                        writer,
                        space,
                        scripts,
                        opts,
                        cluster,
                        progress=session.ex.progress,
                        store=session.ex.consolidate,
                        derive=functions,
                        reuse=reuser,
                        compare={r: manifest.runs[r] for r in run_ids} if session.refly else None,
                    ).run(run_ids)
        elif session.ex.consolidate and sync_if_idle:
            assert writer.manifest is not None
            LiveStore(directory, space, writer.manifest).sync()
        if reparsed and session.ex.consolidate:  # every record of this session is on disk now
            LiveStore(directory, space, Manifest.load(writer.path)).rewrite(reparsed)
    return Sweep(directory)


def _adopted(
    session: Session, writer: ManifestWriter, space: Space, scripts: Scripts, run_ids: list[int]
) -> tuple[list[int], list[RunRecord]]:
    """Record the runs that finished unrecorded (not for refly: a done marker is the old run's)."""
    if session.refly:
        return run_ids, []
    run_ids, adopted = adopt_finished(writer, space, scripts, run_ids)
    if adopted and session.ex.progress:
        print(f"xsweep: adopted {len(adopted)} runs that finished unrecorded (not rerun)",
              file=sys.stderr)  # fmt: skip
    return run_ids, adopted


def unfolded(directory: Path, spec: Envelope, manifest: Manifest) -> list[int]:
    """Return the ok runs the sweep's saved envelope lacks (cut off before a save): rerun them."""
    folder = Folder.load(directory / STORE_NAME, spec, manifest.n_runs)
    covered = folder.covered if folder is not None else np.zeros(manifest.n_runs, dtype=bool)
    return [r for r, rec in manifest.runs.items() if rec.status == "ok" and not covered[r]]


def needs_deriving(
    manifest: Manifest, functions: Sequence[DeriveFunction], *, every: bool = False
) -> dict[int, tuple[DeriveFunction, ...]]:
    """Return, per ok run, the functions whose value it lacks (or failed); with ``every``, all."""
    out: dict[int, tuple[DeriveFunction, ...]] = {}
    summaries: list[int] = []
    for run_id, rec in manifest.runs.items():
        if rec.status != "ok" or not functions:
            continue
        have = {d.fn for d in rec.outcome.derived if d.ok}
        todo = tuple(f for f in functions if every or f.ref not in have)
        if todo and not rec.outcome.kept:
            summaries.append(run_id)
        elif todo:
            out[run_id] = todo
    if summaries:
        warnings.warn(
            f"{len(summaries)} runs kept only their summaries (keep=), not the outputs a derive "
            f"function reads: they are not derived (re-fly them in full first: xs.refly; runs "
            f"{sorted(summaries)[:5]}...)",
            UserWarning,
            stacklevel=3,
        )
    return out


def derive_finished(
    writer: ManifestWriter,
    space: Space,
    opts: Options,
    cluster: Cluster,
    todo: Mapping[int, tuple[DeriveFunction, ...]],
    session: Any,
) -> None:
    """Derive values of finished runs as Dask tasks (no GMAT) and record them as they arrive.

    Each task takes :data:`DERIVE_BATCH` runs; its results are appended to the
    manifest with one fsync, and the store's derived variables are rewritten
    block by block. The client holds only the runs' records.
    """
    from distributed import as_completed

    assert writer.manifest is not None
    manifest = writer.manifest
    schema = derived_schema(manifest, space, {f.ref for fns in todo.values() for f in fns})
    root = str(writer.dir)
    client = cluster.start_workers(len(todo) // DERIVE_BATCH + 1)
    token = uuid.uuid4().hex[:8]
    blocks = (
        _derived_blocks(writer, space, cluster, client, token, todo)
        if session.ex.consolidate
        else None
    )
    bar = progress_bar(len(todo), disable=not session.ex.progress, desc="derive")
    pending = iter(enumerate(_batches(todo)))
    completed = as_completed(with_results=True)
    nthreads = sum(client.nthreads().values()) or 1

    def submit() -> None:
        for number, (fns, ids) in itertools.islice(pending, 1):
            items = [run_item(root, manifest.runs[r]) for r in ids]
            key = f"{DERIVE_PREFIX}-{token}-{number:06d}"
            completed.add(
                client.submit(
                    execute_derive,
                    items,
                    fns,
                    engine=opts.engine,
                    gmat_root=opts.gmat_root,
                    timeout=FLOOR_S if opts.timeout == "auto" else opts.timeout,
                    key=key,
                    pure=False,
                )
            )

    try:
        for _ in range(2 * nthreads):
            submit()
        for future, result in completed:
            records = [_merged(manifest.runs[r], got, schema) for r, got in result]
            writer.append_many(records)
            for rec in records:
                manifest.runs[rec.run_id] = rec
                if blocks is not None:
                    blocks.finished(rec)
            bar.update(len(records))
            future.release()
            submit()
        if blocks is not None:
            blocks.close(client)
    except BaseException:
        if blocks is not None:
            blocks.cancel()
        raise
    finally:
        if blocks is not None:
            blocks.shutdown()
        bar.close()


def _derived_blocks(
    writer: ManifestWriter,
    space: Space,
    cluster: Cluster,
    client: Any,
    token: str,
    todo: Mapping[int, Any],
) -> BlockWriter:
    """Return the block writer that rewrites the store's derived variables as runs arrive."""
    assert writer.manifest is not None
    live = LiveStore(writer.dir, space, writer.manifest)
    live.only_derived = True
    blocks = BlockWriter(live, None if cluster.embedded else client, token)
    blocks.start(todo)
    return blocks


def _batches(
    todo: Mapping[int, tuple[DeriveFunction, ...]],
) -> list[tuple[tuple[DeriveFunction, ...], list[int]]]:
    """Group the runs by the functions they need, in batches of :data:`DERIVE_BATCH`."""
    groups = itertools.groupby(sorted(todo, key=lambda r: [f.ref for f in todo[r]]), todo.get)
    return [
        (fns, ids[i : i + DERIVE_BATCH])
        for fns, run_ids in groups
        if fns is not None
        for ids in [list(run_ids)]
        for i in range(0, len(ids), DERIVE_BATCH)
    ]


def run_item(root: str, rec: RunRecord) -> tuple[int, str, dict[str, str], dict[str, Any]]:
    """Return what a derive task needs of a run: its id, its files' root, its parameters."""
    paths = {out.name: out.path for out in rec.outcome.outputs}  # relative to the sweep
    return rec.run_id, root, paths, {**rec.labels, **rec.overrides}


def _merged(rec: RunRecord, results: Sequence[DeriveResult], schema: Any) -> RunRecord:
    """Return ``rec`` with ``results`` in place of those functions' earlier results."""
    new = {r.fn for r in results}
    kept = [d for d in rec.outcome.derived if d.fn not in new]
    derived = (*kept, *schema.check(results))
    return replace(rec, outcome=replace(rec.outcome, derived=derived))
