"""``xs.import_sweep``: a gmat-sweep 0.6.0 sweep as an xsweep sweep, its files linked.

Each recorded run becomes a manifest line of the new sweep, in its space
(:mod:`xsweep.migrate.spaces`) at the same run id. An ok run's Parquet files
(reports, ephemerides, contacts, solver logs) are hard-linked under
``runs/run-NNNNNN/`` (copied from an archive, or across file systems); a
postprocess hook's ``extra_outputs`` come along under ``extra/``, named in
``extra["gmat_sweep"]`` with the run's ``converged``, ``context`` and
``postprocess_status``. A failed run's error is GMAT's error messages (reason
``gmat-error``, when GMAT's run failed) or the exception gmat-sweep caught
(``exception``), its whole traceback in ``extra["gmat_sweep"]["stderr"]``; ``resume``
reruns it with xsweep. A ``skipped`` entry is a run not recorded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path, PurePosixPath
from typing import Any, cast

from tqdm.auto import tqdm

from xsweep.analysis.handle import Sweep
from xsweep.core.errors import ConfigError, ScriptDriftError
from xsweep.core.options import RUN_DEFAULTS, ExecutionOptions
from xsweep.core.outputs import OutputFile
from xsweep.core.paths import MANIFEST_NAME, run_dir_name
from xsweep.core.records import RunOutcome, RunRecord
from xsweep.core.vocabulary import OutputKind, Reason
from xsweep.gmat.closure import recorded_closure
from xsweep.gmat.engine import gmat_errors
from xsweep.gmat.outputs import output_filename
from xsweep.migrate.reading import Entry, GmatSweep, canonical_sha256
from xsweep.migrate.spaces import rebuild
from xsweep.plan.checks import header, new_sweep_dir
from xsweep.plan.scripts import plan_script, write_single
from xsweep.record.bucket import is_url
from xsweep.record.manifest import ManifestWriter, write_header
from xsweep.space.spaces import Space
from xsweep.store.write import consolidate as build_store

GMAT_ERROR = "gmat_run.errors.GmatRunError"  # gmat-sweep's traceback of a failed GMAT run
ENGINE_LOG = "--- GMAT engine log ---"  # and after it, GMAT's log
EXTRA_DIR = "extra"
_BATCH = 1000  # manifest lines a write


def import_sweep(
    src: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str],
    script: str | os.PathLike[str] | None = None,
    consolidate: bool = True,
    progress: bool = True,
) -> Sweep:
    """Bring a gmat-sweep 0.6.0 sweep across: a new xsweep sweep of its runs and files.

    The source is read, never written, and never run: its manifest (the last
    entry of each run wins, a torn last line is dropped) and, for an archive,
    its ``MANIFEST.hash`` first. Its parameter spec becomes the space: a grid
    (its fields in sorted order, gmat-sweep's run order), explicit samples, a
    seeded Monte Carlo drawn by gmat-sweep's own recipe (so :func:`xsweep.extend`
    continues it bit-equal with ``gmat_sweep.monte_carlo_extend``), or a seeded
    Latin hypercube as samples. Where a recipe cannot be rebuilt, the recorded
    runs are the space, and a warning says why. Run ids are gmat-sweep's.

    Parameters
    ----------
    src : path-like
        A gmat-sweep output directory (holding ``manifest.jsonl``) or an
        archive zip (``Sweep.archive`` / ``gmat-sweep archive``).
    out : path-like
        The new sweep directory; it must not exist or be empty.
    script : path-like, optional
        The mission script. gmat-sweep's manifest records its hash, not its
        path: a directory needs it; an archive holds it (``script/<name>``).
        Its canonical hash (gmat-sweep's: BOM, line ends and final newlines
        normalised) must be the one recorded.
    consolidate : bool
        Build the Zarr store, which :func:`xsweep.open_sweep` opens.
    progress : bool
        Show a progress bar over the runs (a sweep of 10^4 runs takes seconds).

    Returns
    -------
    Sweep
        Handle on the new sweep: open, resume, extend and archive it as any other.

    Raises
    ------
    ConfigError
        ``src`` is not a gmat-sweep sweep, ``out`` is not an empty local
        directory, a directory without ``script=``, or runs that cannot form a space.
    ScriptDriftError
        ``script`` is not the script the sweep ran.
    ManifestCorruptError
        The manifest cannot be read (or is of a newer gmat-sweep schema).
    BundleError
        An archive fails its ``MANIFEST.hash``.

    Examples
    --------
    A gmat-sweep output directory (``examples/importing.py`` makes one and runs this):

    >>> import xsweep as xs
    >>> xs.import_sweep("gs/", out="xs/", script="mission.script")  # doctest: +SKIP
    >>> xs.open_sweep("xs/").sel({"Sat.SMA": 7000})  # doctest: +SKIP
    """
    for where in (src, out):
        if is_url(where):
            raise ConfigError(
                f"{where}: import_sweep reads and writes local directories (an archive zip "
                "too); import here, then xs.archive or copy the sweep where it goes"
            )
    out_dir = new_sweep_dir(out)
    source = GmatSweep(src)
    created = not out_dir.exists()
    try:
        with tempfile.TemporaryDirectory(prefix="xsweep-import-") as scratch:
            path = _script(source, script, Path(scratch))
            space, ids, how = rebuild(source.header, source.entries)
            _write(source, out_dir, path, space, ids, how, progress)
    except BaseException:
        if out_dir.exists():  # it was empty or absent: nothing of the user's is in it
            shutil.rmtree(out_dir) if created else _empty(out_dir)
        raise
    finally:
        source.close()
    if consolidate:
        build_store(out_dir)
    return Sweep(out_dir)


def _empty(directory: Path) -> None:
    for child in directory.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()


def _script(source: GmatSweep, given: str | os.PathLike[str] | None, scratch: Path) -> Path:
    """Return the script to copy, checked against the recorded hash."""
    held = source.script()
    if given is not None:
        path = Path(given).expanduser()
        data = path.read_bytes()
    elif held is not None:
        path, data = scratch / held[0], held[1]
        path.write_bytes(data)
    else:
        raise ConfigError(
            f"{source.path}: gmat-sweep's manifest records the script's hash, not its path: "
            "give script='mission.script' (--script on the command line)"
        )
    recorded, found = str(source.header.raw["script_sha256"]), canonical_sha256(data)
    if found != recorded:
        raise ScriptDriftError(
            f"{path} is not the script this sweep ran (its hash {found[:12]}..., the "
            f"manifest's {recorded[:12]}...)",
            recorded,
            found,
        )
    return path


# What gmat-sweep's header recorded, kept under "imported".
KEPT = ("gmat_sweep_version", "gmat_run_version", "gmat_install_version", "python_version",
        "os_platform", "backend", "postprocess", "sweep_seed", "run_count",
        "script_sha256")  # fmt: skip


def _header(
    source: GmatSweep, copy: dict[str, Any], sha: str, space: Space, how: str
) -> dict[str, Any]:
    """Return the new sweep's header: an xsweep header, and what gmat-sweep recorded."""
    raw = source.header.raw
    opts = ExecutionOptions.of({}, defaults=RUN_DEFAULTS, caller="import_sweep").options()
    imported = {"from": "gmat-sweep", "source": str(source.path), "space": how}
    # gmat-sweep ran on a desktop install (its version kept): a rerun here takes the engine
    # xsweep finds, as a new sweep does.
    engine = {"kind": None, "gmat_version": raw.get("gmat_install_version"), "gmatpy_version": None}
    extra = {"imported": imported | {k: raw.get(k) for k in KEPT}}
    return header(copy, sha, space, engine, opts, extra)


def _write(source: GmatSweep, out_dir: Path, script: Path, space: Space,
           ids: dict[int, int], how: str, progress: bool) -> None:  # fmt: skip
    out_dir.mkdir(parents=True, exist_ok=True)
    copy, main = write_single(out_dir, plan_script(script))
    sha = recorded_closure(main, copy.get("files", ())).sha256()
    write_header(out_dir / MANIFEST_NAME, _header(source, copy, sha, space, how))
    hook = source.header.raw.get("postprocess")
    if hook:
        warnings.warn(
            f"gmat-sweep ran the postprocess hook {hook!r}: xsweep never imports code a sweep "
            "names, so runs it reruns have no extra_outputs (derive= computes per-run values "
            "in xsweep)",
            UserWarning,
            stacklevel=3,
        )
    bar = tqdm(total=len(ids), unit="run", desc="importing", disable=not progress)
    with ManifestWriter(out_dir) as writer, bar:
        batch: list[RunRecord] = []
        for entry in source.entries.values():
            if entry.run_id not in ids:  # a skipped entry: the run is not recorded
                continue
            run = space.run(ids[entry.run_id])
            outcome = _outcome(source, entry, out_dir, run_dir_name(run.run_id))
            batch.append(RunRecord.of(run.run_id, run.index, run.labels, run.overrides, sha,
                                      outcome, None))  # fmt: skip
            if len(batch) >= _BATCH:
                writer.append_many(batch)
                bar.update(len(batch))
                batch = []
        writer.append_many(batch)
        bar.update(len(batch))


def _outcome(source: GmatSweep, entry: Entry, out_dir: Path, run_dir: str) -> RunOutcome:
    """Return a run's outcome, its files brought under ``run_dir`` (paths relative to the sweep)."""
    outputs: list[OutputFile] = []
    missing: list[str] = []
    extra: dict[str, object] = {"gmat_sweep": {"run_id": entry.run_id, **entry.more}}
    if entry.status == "ok":
        for (kind, name), recorded in entry.files.items():
            rel = f"{run_dir}/{output_filename(cast(OutputKind, kind), name)}"
            brought = _bring(source, entry.run_id, recorded, out_dir / rel)
            rows = _rows(out_dir / rel) if brought else None
            if rows is None:
                missing.append(recorded)
            else:
                outputs.append(OutputFile(cast(OutputKind, kind), name, rel, rows))
        extras = {}
        for key, recorded in entry.extra.items():
            rel = f"{run_dir}/{EXTRA_DIR}/{PurePosixPath(recorded).name}"
            if _bring(source, entry.run_id, recorded, out_dir / rel):
                extras[key] = rel
            else:
                missing.append(recorded)
        if extras:
            extra["gmat_sweep"] = {**extra["gmat_sweep"], "extra_outputs": extras}  # type: ignore[dict-item]
    log = None
    if entry.log is not None and (member := source.find(entry.run_id, entry.log)) is not None:
        log = f"{run_dir}/{PurePosixPath(member).name}"
        source.bring(member, out_dir / log)
    if missing:
        return RunOutcome(
            "failed", "exception", (), entry.started, entry.ended, entry.duration_s,
            error=f"imported from gmat-sweep without readable files {missing}: rerun by resume",
            log=log, extra=extra,
        )  # fmt: skip
    if entry.status == "ok":
        return RunOutcome("ok", None, tuple(outputs), entry.started, entry.ended,
                          entry.duration_s, log=log, extra=extra)  # fmt: skip
    reason, error = _failure(entry.stderr or "")
    if entry.stderr:  # the whole traceback, GMAT's log with it
        extra["gmat_sweep"] = {**extra["gmat_sweep"], "stderr": entry.stderr}  # type: ignore[dict-item]
    return RunOutcome("failed", reason, (), entry.started, entry.ended, entry.duration_s,
                      error=error, log=log, extra=extra)  # fmt: skip


def _failure(stderr: str) -> tuple[Reason, str]:
    """Return why a gmat-sweep run failed, as xsweep says it: GMAT's errors, or the exception."""
    trace, _, log = stderr.partition(ENGINE_LOG)
    lines = [line for line in trace.splitlines() if line.strip()]
    raised = lines[-1].strip() if lines else "failed in gmat-sweep (no message recorded)"
    if GMAT_ERROR not in trace:
        return "exception", raised
    return "gmat-error", "\n".join(gmat_errors(log)) or raised


def _bring(source: GmatSweep, run_id: int, recorded: str, target: Path) -> bool:
    """Bring the file an entry records to ``target``; False if the source has no such file."""
    member = source.find(run_id, recorded)
    if member is not None:
        source.bring(member, target)
    return member is not None


def _rows(path: Path) -> int | None:
    """Return a Parquet file's rows (its footer), or None if it is not a readable one."""
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # cut short, or not Parquet: the run is rerun by resume
        return None
