"""Planning a sweep: its options, the script and its drift, the plan check, the header.

A plan is checked before anything is written: the script loads in a GMAT
child (a throw-away one here, or a worker's warm one on a cluster the caller
gave) and run 0's values are written into it, so an unknown field or a value
of the wrong type refuses the whole sweep. Then :func:`write_plan` creates the
sweep directory: the script's copy (``mission.script``, or the closure of a
script with includes under ``script/``, :mod:`xsweep.gmat.closure`) and the manifest
header. Resume and
extend reopen a sweep here (:func:`reopen`): its recorded options, its space
redrawn bit for bit, and the script checked against the recorded hash.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xsweep.core.errors import (
    ConfigError,
    XsweepError,
)
from xsweep.core.keep import recorded_keep
from xsweep.core.options import ENGINE_KINDS, Options, options
from xsweep.core.paths import MANIFEST_NAME, SCRIPT_NAME
from xsweep.core.records import RunRecord, json_safe, now_iso
from xsweep.gmat.child import CheckRequest, GmatChild
from xsweep.gmat.closure import recorded_closure
from xsweep.gmat.engine import EngineInfo
from xsweep.plan.scripts import (
    PlannedScript,
    ScriptCopy,
    Scripts,
    added_variants,
    is_variant_space,
    plan_script,
    staged,
    variant_names,
    write_single,
    write_variant,
)
from xsweep.record.manifest import (
    Manifest,
    ManifestWriter,
    platform_versions,
    write_header,
)
from xsweep.space.refine import append_samples, refine
from xsweep.space.spaces import Space

if TYPE_CHECKING:
    pass


def check_plan_here(
    script: Path,
    space: Space,
    opts: Options,
    child: GmatChild | None = None,
    *,
    keep: bool = False,
) -> EngineInfo:
    """Load the script in a GMAT child and write run 0's values into it.

    Every field is checked (existence, close-name suggestions, value type)
    before anything is written or any worker starts. The check runs in a
    child so the client process never loads GMAT; pass ``child`` to use one
    already booting. The child is closed afterwards unless ``keep``.
    """
    if child is None:
        child = GmatChild(opts.engine, opts.gmat_root, wait=False)
    try:
        info = child.check(
            CheckRequest(str(script), space.run(0).overrides, opts.allow_overwritten)
        )
    finally:
        if not keep:
            child.close()
    assert isinstance(info, EngineInfo)
    return info


def check_scripts_here(
    planned: Mapping[str | None, PlannedScript | Path],
    space: Space,
    opts: Options,
    child: GmatChild | None = None,
    *,
    keep: bool = False,
) -> EngineInfo:
    """Check the plan against every script (variant) in turn, in one GMAT child.

    A planned script is checked laid out as its copy will be; a path, as it is.
    """
    items = list(planned.items())
    if child is None:
        child = GmatChild(opts.engine, opts.gmat_root, wait=False)
    for number, (name, one) in enumerate(items):
        last = number == len(items) - 1
        layout = staged(one) if isinstance(one, PlannedScript) else contextlib.nullcontext(one)
        with layout as main, named_variant(name):
            info = check_plan_here(main, space, opts, child, keep=keep or not last)
    return info


@contextlib.contextmanager
def named_variant(name: str | None) -> Iterator[None]:
    """Say which script variant an error of the block is about."""
    try:
        yield
    except XsweepError as exc:
        if name is not None and exc.args and isinstance(exc.args[0], str):
            exc.args = (f"script variant {name!r}: {exc.args[0]}", *exc.args[1:])
        raise


def new_sweep_dir(out: str | os.PathLike[str]) -> Path:
    """Return ``out`` resolved; refuse a sweep there already, or a directory not empty."""
    out_dir = Path(out).expanduser().resolve()
    if (out_dir / MANIFEST_NAME).exists():
        raise ConfigError(
            f"{out_dir} already holds a sweep: give another output directory (or remove "
            "that one) for this space; resuming it would run that sweep's own space"
        )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(f"out={str(out_dir)!r} exists and is not an empty directory")
    return out_dir


def write_plan(
    out_dir: Path,
    planned: Mapping[str | None, PlannedScript],
    space: Space,
    opts: Options,
    info: EngineInfo,
) -> Scripts:
    """Create the sweep directory: the scripts' copies and the manifest header.

    ``planned`` maps ``None`` to the sweep's one script, or each variant's
    name to its script. Returns the copies the runs load and their hashes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    extra: dict[str, Any] = {}
    if None in planned:
        script, main = write_single(out_dir, planned[None])
        sha = recorded_closure(
            main, script.get("files", ())
        ).sha256()  # of the copy: what the runs load
        scripts = Scripts.single(main, sha)
    else:
        records: dict[str, dict[str, Any]] = {}
        paths: dict[str | None, ScriptCopy] = {}
        for name, one in planned.items():
            assert name is not None
            records[name], main = write_variant(out_dir, name, one.closure, one.tree)
            paths[name] = ScriptCopy(str(main), records[name]["sha256"])
        first = next(iter(records.values()))  # what a reader of one script shows
        script = {k: v for k, v in first.items() if k != "sha256"}
        sha = first["sha256"]
        scripts = Scripts(paths)
        extra["scripts"] = records
    engine = {"kind": info.kind, "gmat_version": info.gmat_version,
              "gmatpy_version": info.gmatpy_version}  # fmt: skip
    write_header(out_dir / MANIFEST_NAME, header(script, sha, space, engine, opts, extra))
    return scripts


def header(
    script: Mapping[str, Any],
    sha256: str,
    space: Space,
    engine: Mapping[str, Any],
    opts: Options,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a new sweep's manifest header: its id, script, space, engine and options."""
    return {
        "sweep_id": uuid.uuid4().hex,
        "created": now_iso(),
        "script": dict(script),
        "script_sha256": sha256,
        **(extra or {}),
        "n_runs": space.n_runs,
        "dims": dict(zip(space.dims, space.shape, strict=True)),
        "fields": list(space.fields),
        "seeds": space.seeds,
        "space": space.to_dict(),
        "engine": dict(engine),
        "options": opts.to_dict(),
        "versions": platform_versions(),
    }


def outputs_intact(sweep_dir: Path, record: RunRecord) -> str | None:
    """Return why an ok run's outputs are damaged, or None if they are intact."""
    import pyarrow.parquet as pq

    if not record.outcome.kept:  # its summaries are in its line: no files to check
        return None
    for out in record.outcome.outputs:
        path = sweep_dir / out.path
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except FileNotFoundError:
            return f"{out.path} is missing"
        except Exception as exc:
            return f"{out.path} is unreadable ({type(exc).__name__})"
        if rows != out.rows:
            return f"{out.path} has {rows} rows, the manifest recorded {out.rows}"
    return None


def reopen(writer: ManifestWriter, given: Mapping[str, Any]) -> tuple[Manifest, Options, Space]:
    """Read back a locked sweep: its manifest, its options (``given`` ones win), its space.

    The space is redrawn and must match the manifest bit for bit.
    """
    assert writer.manifest is not None
    manifest = writer.manifest
    opts = resume_options(manifest, given)
    space = Space.from_dict(manifest.space, verify=True)
    if space.n_runs != manifest.n_runs:
        raise ConfigError(
            f"the manifest's space has {space.n_runs} runs but it records n_runs={manifest.n_runs}"
        )
    return manifest, opts, space


def resume_options(manifest: Manifest, given: Mapping[str, Any]) -> Options:
    """Return the recorded options, overridden by those ``given`` (not None)."""
    recorded = dict(manifest.header.options)
    kind = manifest.header.engine.kind
    merged = {
        "engine": kind if kind in ENGINE_KINDS else recorded.get("engine", "auto"),
        "timeout": recorded.get("timeout"),
        "retries": recorded.get("retries", 0),
        "isolation": recorded.get("isolation", "worker"),
        "keep_raw": recorded.get("keep_raw", False),
        "runs_per_task": recorded.get("runs_per_task", 1),
        "gmat_root": None,
        "allow_overwritten": False,
        "keep": recorded_keep(recorded.get("keep")),
        "envelope": recorded.get("envelope"),
    }
    merged.update({k: v for k, v in given.items() if v is not None})
    opts = options(**merged)
    if opts.keep.where_ref is not None:
        raise ConfigError(
            f"this sweep keeps in full the runs {opts.keep.where_ref} picks: give keep= again "
            "(xsweep never imports a function a sweep names)"
        )
    return opts


def unfinished_runs(path: Path, manifest: Manifest, space: Space) -> list[int]:
    """Return the runs to rerun: never recorded, failed, or ok with damaged outputs."""
    todo = []
    for run_id in range(space.n_runs):
        rec = manifest.runs.get(run_id)
        if rec is None or rec.status != "ok":
            todo.append(run_id)
            continue
        damage = outputs_intact(path, rec)
        if damage is not None:
            warnings.warn(f"run {run_id}: {damage}; rerunning it", UserWarning, stacklevel=5)
            todo.append(run_id)
    return todo


# What a continuation runs: given the locked sweep, the space to run in, the run ids, and
# the extension record to append (once the workers started) if the space grew.
Plan = Callable[[ManifestWriter, Manifest, Space], tuple[Space, list[int], dict[str, Any] | None]]


def unfinished_plan(
    writer: ManifestWriter, manifest: Manifest, space: Space
) -> tuple[Space, list[int], None]:
    """Return the space as it is and its failed, unrecorded or damaged runs (resume's)."""
    return space, unfinished_runs(writer.dir, manifest, space), None


def unrecorded_plan(
    writer: ManifestWriter, manifest: Manifest, space: Space
) -> tuple[Space, list[int], None]:
    """Return the space as it is and its never-recorded runs (a cut-off batch's rest)."""
    return space, [i for i in range(space.n_runs) if i not in manifest.runs], None


def grown_plan(
    n: int, writer: ManifestWriter, manifest: Manifest, space: Space
) -> tuple[Space, list[int], dict[str, Any]]:
    """Return the space grown by ``n`` samples, its new runs, and the extension record."""
    bigger = space.extended(n)
    record = {"created": now_iso(), "n": n, "n_runs": bigger.n_runs, "space": bigger.to_dict()}
    return bigger, list(range(space.n_runs, bigger.n_runs)), record


def refined_plan(
    grid: Mapping[str, Any], writer: ManifestWriter, manifest: Manifest, space: Space
) -> tuple[Space, list[int], dict[str, Any]]:
    """Return the space with ``grid``'s new values, its new runs, and the extension record.

    Values already in the sweep are skipped, with a warning naming them.
    """
    bigger, skipped = refine(space, grid)
    if skipped:
        warnings.warn(
            f"skipping values the sweep already has: {skipped}", UserWarning, stacklevel=4
        )
    added = {
        dim: [json_safe(v) for v in bigger.dataset[dim].values[start:]]
        for dim, start, _ in bigger.steps[len(space.steps) :]
    }
    record = {"created": now_iso(), "grid": added, "n_runs": bigger.n_runs,
              "space": bigger.to_dict()}  # fmt: skip
    return bigger, list(range(space.n_runs, bigger.n_runs)), record


def sampled_plan(
    table: Any, writer: ManifestWriter, manifest: Manifest, space: Space
) -> tuple[Space, list[int], dict[str, Any]]:
    """Return the space with explicit new rows on its samples dim, its new runs, the record."""
    bigger = append_samples(space, table)
    dim, start, _ = bigger.steps[-1]
    added = {
        str(name): [json_safe(v) for v in bigger.dataset[name].values[start:]]
        for name in bigger.dataset.data_vars
        if dim in bigger.dataset[name].dims
    }
    record = {"created": now_iso(), "samples": added, "n_runs": bigger.n_runs,
              "space": bigger.to_dict()}  # fmt: skip
    return bigger, list(range(space.n_runs, bigger.n_runs)), record


def variant_plan(
    scripts: Mapping[str, str | os.PathLike[str]],
    baseline: str | None,
    files: Iterable[str | os.PathLike[str]],
    writer: ManifestWriter,
    manifest: Manifest,
    space: Space,
) -> tuple[Space, list[int], dict[str, Any]]:
    """Return the space with new script variants, their runs, and the extension record.

    Their copies are written here (checked by the caller before they run). A
    sweep of one script becomes the variant ``baseline`` (its file's stem by
    default): its runs keep their ids, and its copy stays where it is.
    """
    names = variant_names(scripts)
    records: dict[str, dict[str, Any]] = {}
    record: dict[str, Any] = {"created": now_iso()}
    if not is_variant_space(space):
        header = manifest.header
        baseline = baseline or Path(header.script.name or SCRIPT_NAME).stem
        records[baseline] = {**header.script.to_json(), "sha256": header.script_sha256}
        record["baseline"] = baseline
    elif baseline is not None:
        raise ConfigError("baseline= names the script of a sweep of one script; this one has "
                          "variants already")  # fmt: skip
    bigger = added_variants(space, names, baseline)
    for name in names:
        planned = plan_script(scripts[name], files)
        records[name], _ = write_variant(writer.dir, name, planned.closure, planned.tree)
    record |= {"scripts": records, "n_runs": bigger.n_runs, "space": bigger.to_dict()}
    return bigger, list(range(space.n_runs, bigger.n_runs)), record
