"""Sweeps: plan, execute every run as a Dask task, record outcomes; resume and extend.

The client side of a sweep. Planning checks the fields in a throw-away GMAT
child (never in this process), then writes the sweep directory's
``mission.script`` and manifest header. Execution submits one ``dask.delayed``
task per run through a bounded in-flight window, and appends each outcome to
the manifest (fsynced) as it completes. Tasks return small
:class:`RunOutcome` records, never data, so the client's memory does not grow
with the number of runs.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from xsweep._atomic import atomic_path
from xsweep._child import CheckRequest, GmatChild, RunRequest
from xsweep._engine import EngineInfo
from xsweep._errors import (
    _NO_SPACE,
    ClusterError,
    ConfigError,
    DiskFullError,
    EngineError,
    RunFailedError,
    ScriptDriftError,
    ScriptLoadError,
    ScriptNotFoundError,
    XsweepError,
)
from xsweep._execute import Isolation, execute_run, execute_runs
from xsweep._manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestWriter,
    json_safe,
    platform_versions,
    script_sha256,
    write_header,
)
from xsweep._records import RunOutcome, now_iso
from xsweep._space import Run, Space

if TYPE_CHECKING:
    import xarray as xr
    from distributed import Client

    from xsweep._store import LiveStore

SCRIPT_NAME = "mission.script"
RUNS_DIR = "runs"
_ENGINES = ("auto", "embedded", "desktop")
_ISOLATIONS = ("worker", "process")


def run_dir_name(run_id: int) -> str:
    """Return a run's directory, relative to the sweep directory (POSIX)."""
    return f"{RUNS_DIR}/run-{run_id:06d}"


@dataclass(frozen=True)
class _Options:
    """How runs execute; recorded in the header, reused by resume and extend."""

    engine: str
    gmat_root: str | None
    timeout: float | None
    retries: int
    isolation: Isolation
    keep_raw: bool
    runs_per_task: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "timeout": self.timeout,
            "retries": self.retries,
            "isolation": self.isolation,
            "keep_raw": self.keep_raw,
            "runs_per_task": self.runs_per_task,
        }


def _options(
    *,
    engine: Any,
    gmat_root: Any,
    timeout: Any,
    retries: Any,
    isolation: Any,
    keep_raw: Any,
    runs_per_task: Any = 1,
) -> _Options:
    """Validate the execution options; raise ConfigError on the first bad one."""
    if engine not in _ENGINES:
        raise ConfigError(f"engine must be one of {_ENGINES}, got {engine!r}")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        raise ConfigError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"retries must be a non-negative integer, got {retries!r}")
    if isolation not in _ISOLATIONS:
        raise ConfigError(f"isolation must be one of {_ISOLATIONS}, got {isolation!r}")
    if isinstance(runs_per_task, bool) or not isinstance(runs_per_task, int) or runs_per_task < 1:
        raise ConfigError(f"runs_per_task must be a positive integer, got {runs_per_task!r}")
    return _Options(
        engine=engine,
        gmat_root=None if gmat_root is None else str(Path(gmat_root).expanduser()),
        timeout=None if timeout is None else float(timeout),
        retries=retries,
        isolation=isolation,
        keep_raw=bool(keep_raw),
        runs_per_task=runs_per_task,
    )


def _check_workers(workers: Any) -> None:
    if workers is not None and (
        isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
    ):
        raise ConfigError(f"workers must be a positive integer or None, got {workers!r}")


def _script_file(script: str | os.PathLike[str]) -> Path:
    path = Path(script).expanduser().resolve()
    if not path.is_file():
        raise ScriptNotFoundError(path)
    return path


def _check_plan(
    script: Path, space: Space, opts: _Options, child: GmatChild | None = None
) -> EngineInfo:
    """Load the script in a throw-away GMAT child and write run 0's values into it.

    Every field is checked (existence, close-name suggestions, value type)
    before anything is written or any worker starts. The check runs in a
    child so the client process never loads GMAT; pass ``child`` to use one
    already booting. The child is closed either way.
    """
    if child is None:
        child = GmatChild(opts.engine, opts.gmat_root, wait=False)
    try:
        info = child.check(CheckRequest(str(script), space.run(0).overrides))
    finally:
        child.close()
    assert isinstance(info, EngineInfo)
    return info


def _check_plan_on(
    dask_client: Client, script: Path, text: bytes, space: Space, opts: _Options
) -> EngineInfo:
    """Run the planning check as a task on a worker's warm GMAT child (on a given cluster).

    No GMAT boots in this process for it, and the engine recorded is the one
    the workers run.
    """
    from xsweep._execute import check_plan

    future = dask_client.submit(
        check_plan,
        str(script),
        text,
        space.run(0).overrides,
        opts.engine,
        opts.gmat_root,
        key=f"xsweep-plan-{uuid.uuid4().hex[:8]}",
        pure=False,
    )
    try:
        result = future.result()
    except XsweepError:
        raise
    except Exception as exc:  # the cluster's failure, not the plan's
        raise EngineError(
            f"the planning check could not run on the cluster: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        future.release()
    if isinstance(result, ScriptLoadError):
        result.script = script  # a worker may have checked a copy of it
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, EngineInfo)
    return result


class Sweep:
    """Handle on a sweep directory: its manifest, counts and failures.

    Returned by :func:`run`, :func:`resume` and :func:`extend`; also opens an
    existing (finished, partial or running) sweep directory.

    Parameters
    ----------
    path : path-like
        The sweep directory (the one holding ``manifest.jsonl``), or an
        archive bundle (read-only: a bundle can be inspected and opened, and
        resumed once extracted).

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> sweep = xs.run(
    ...     "examples/missions/leo_report.script",
    ...     xs.grid({"Sat.SMA": [7000, 7100], "TOF": [60]}),
    ...     out=out,
    ...     workers=1,
    ...     progress=False,
    ... )
    >>> sweep.counts
    {'ok': 2, 'failed': 0, 'pending': 0}
    >>> runs = xs.Sweep(out).runs()
    >>> runs["status"].tolist(), runs["Sat.SMA"].tolist()
    (['ok', 'ok'], [7000, 7100])
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from xsweep._archive import is_bundle

        self.path = Path(path).expanduser().resolve()
        self.is_bundle = is_bundle(self.path)
        if not self.is_bundle and not (self.path / MANIFEST_NAME).is_file():
            raise ConfigError(f"{self.path} is not a sweep directory (no {MANIFEST_NAME})")

    @property
    def manifest(self) -> Manifest:
        """The manifest as it is on disk now (re-read on every access)."""
        if self.is_bundle:
            from xsweep._archive import read_manifest

            return read_manifest(self.path)
        return Manifest.load(self.path / MANIFEST_NAME)

    @property
    def counts(self) -> dict[str, int]:
        """Runs by status: ``ok``, ``failed`` and ``pending`` (never recorded)."""
        return self.manifest.counts()

    @property
    def n_runs(self) -> int:
        """Number of planned runs (extensions included)."""
        return self.manifest.n_runs

    @property
    def space(self) -> Space:
        """The sweep's parameter space, rebuilt from the manifest."""
        return Space.from_dict(self.manifest.space, verify=False)

    def runs(self) -> pd.DataFrame:
        """Every recorded run's latest outcome, indexed by ``run_id``.

        Columns: ``status``, ``reason``, ``error``, ``duration_s``,
        ``gmat_s``, ``attempts``, ``host``, ``pid``, ``started``, ``ended``,
        ``log``, then one column per label and per field (the overrides).
        """
        return _runs_frame(self.manifest.runs.values())

    def failed(self) -> pd.DataFrame:
        """Return the runs whose latest outcome is ``failed``: reason, message, overrides."""
        return _runs_frame(self.manifest.failed().values())

    def read(self, run_id: int, output: str | None = None) -> pd.DataFrame:
        """Read one run's output from its Parquet file, as gmat-run parsed it.

        Parameters
        ----------
        run_id : int
            The run.
        output : str, optional
            The output's GMAT name (``"RF"``); needed when the run has several.

        Returns
        -------
        pandas.DataFrame
            The output, with its ``attrs`` (epoch scales, headers).

        Raises
        ------
        ConfigError
            The run has no recorded outputs, or ``output`` names none of them.
        """
        rec = self.manifest.runs.get(int(run_id))
        if rec is None or not rec.get("outputs"):
            state = "was never recorded" if rec is None else f"is {rec['status']} with no outputs"
            raise ConfigError(f"run {run_id} {state}")
        outputs = rec["outputs"]
        names = [o["name"] for o in outputs]
        chosen = [o for o in outputs if output is None or o["name"] == output]
        if len(chosen) != 1:
            raise ConfigError(f"run {run_id} has outputs {names}; pass output= one of them")
        member = chosen[0]["path"]
        if self.is_bundle:
            from xsweep._archive import read_member_parquet

            return read_member_parquet(self.path, member)
        return pd.read_parquet(self.path / member)

    def open(self, *, group: str | None = None) -> Any:
        """Open the sweep's consolidated store lazily (see :func:`xsweep.open_sweep`)."""
        from xsweep._store import open_sweep

        return open_sweep(self.path, group=group)

    def raise_for_failed(self) -> None:
        """Raise :class:`RunFailedError` for the first failed run, if there is one."""
        failed = self.manifest.failed()
        if failed:
            run_id = min(failed)
            rec = failed[run_id]
            raise RunFailedError(run_id, str(rec["reason"]), str(rec.get("error") or ""))

    def __repr__(self) -> str:
        counts = self.counts
        parts = ", ".join(f"{v} {k}" for k, v in counts.items())
        return f"<xsweep.Sweep {str(self.path)!r}: {sum(counts.values())} runs, {parts}>"


_RUN_COLUMNS = (
    "status",
    "reason",
    "error",
    "duration_s",
    "gmat_s",
    "attempts",
    "host",
    "pid",
    "started",
    "ended",
    "log",
)


def _runs_frame(records: Any) -> pd.DataFrame:
    rows = []
    for rec in records:
        row = {c: rec.get(c) for c in _RUN_COLUMNS}
        row["attempts"] = rec.get("extra", {}).get("attempts")
        row.update(rec.get("labels", {}))
        row.update(rec.get("overrides", {}))
        row["run_id"] = rec["run_id"]
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["run_id", *_RUN_COLUMNS] if not rows else None)
    return frame.set_index("run_id").sort_index()


# --- run ---------------------------------------------------------------------


def _write_plan(
    out_dir: Path, source: Path, text: bytes, space: Space, opts: _Options, info: EngineInfo
) -> str:
    """Create the sweep directory: ``mission.script`` (``text``) and the manifest header."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / SCRIPT_NAME, fsync=True) as tmp:
        tmp.write_bytes(text)
    sha = script_sha256(out_dir / SCRIPT_NAME)
    write_header(
        out_dir / MANIFEST_NAME,
        {
            "sweep_id": uuid.uuid4().hex,
            "created": now_iso(),
            "script": {"file": SCRIPT_NAME, "source": str(source), "name": source.name},
            "script_sha256": sha,
            "n_runs": space.n_runs,
            "dims": dict(zip(space.dims, space.shape, strict=True)),
            "fields": list(space.fields),
            "seeds": space.seeds,
            "space": space.to_dict(),
            "engine": {
                "kind": info.kind,
                "gmat_version": info.gmat_version,
                "gmatpy_version": info.gmatpy_version,
            },
            "options": opts.to_dict(),
            "versions": platform_versions(),
        },
    )
    return sha


def run(
    script: str | os.PathLike[str],
    space: xr.Dataset | Space,
    *,
    out: str | os.PathLike[str],
    client: Client | str | None = None,
    workers: int | None = None,
    timeout: float | None = None,
    retries: int = 0,
    isolation: Literal["worker", "process"] = "worker",
    engine: Literal["auto", "embedded", "desktop"] = "auto",
    gmat_root: str | os.PathLike[str] | None = None,
    keep_raw: bool = False,
    runs_per_task: int = 1,
    progress: bool = True,
    consolidate: bool = True,
    dims: Sequence[str] | None = None,
    cluster_kwargs: Mapping[str, Any] | None = None,
) -> Sweep:
    """Run every point of ``space`` as a Dask task and record each outcome.

    Planning comes first: the script is loaded in a throw-away GMAT child (on a
    cluster passed as ``client``, in a worker's warm one) and every field of
    the space is checked (it exists, it takes the value's type); a bad plan
    raises and writes nothing. Then ``out`` gets a copy of
    the script (``mission.script``) and the manifest header, and every run is
    submitted as a ``dask.delayed`` task keyed ``gmat-run-<token>-<run_id>``.
    Each outcome is appended to ``manifest.jsonl`` (fsynced) as it completes;
    each run's outputs are Parquet files under ``runs/run-NNNNNN/``.

    A run that fails (GMAT error, exception, crashed child, timeout) is
    recorded as ``failed`` with its reason and message; the sweep goes on.
    ``KeyboardInterrupt`` cancels pending tasks, shuts down the cluster this
    call started and every GMAT child, and leaves a manifest holding exactly
    the finished runs: continue with :func:`resume`.

    Parameters
    ----------
    script : path-like
        The GMAT mission script.
    space : xarray.Dataset or Space
        The parameter space (:func:`xsweep.grid`, :func:`xsweep.monte_carlo`...).
    out : path-like
        The sweep directory to create. It must not exist or be empty.
    client : distributed.Client or str, optional
        An existing Dask client, or a scheduler address (``"tcp://host:8786"``).
        Nothing is started or shut down then; a worker's warm GMAT child checks
        the plan. Workers must see ``out`` at the same path (a shared file
        system). By default an embedded ``LocalCluster`` is started for this
        call: single-threaded worker processes (see ``workers``), dashboard on.
    workers : int, optional
        Worker processes of the embedded cluster (default: one per core, but
        no more than the sweep has tasks).
    timeout : float, optional
        Seconds a run may take; a run past it is killed (its GMAT child is
        respawned) and recorded as ``failed`` with reason ``timeout``.
    retries : int
        Times to retry a run whose GMAT child crashed (other failures are
        deterministic and never retried).
    isolation : {"worker", "process"}
        ``"worker"``: each Dask worker hands runs to one warm GMAT child.
        ``"process"``: a fresh interpreter per run (slower, nothing shared).
    engine : {"auto", "embedded", "desktop"}
        The GMAT engine (see :func:`xsweep.get_engine`).
    gmat_root : path-like, optional
        Desktop GMAT install root.
    keep_raw : bool
        Keep GMAT's own output files under each run's ``gmat/``.
    runs_per_task : int
        Runs per Dask task. The default, 1, makes every run its own task
        (its own key on the dashboard, its outcome recorded the moment it
        ends). Dask costs a few ms of CPU per task on every side (client,
        scheduler, worker); for short missions on few cores, ``8`` or more
        amortises that (see the Performance page). Each run keeps its own
        outcome, timeout and retries either way.
    progress : bool
        Show a progress bar and print the dashboard link.
    consolidate : bool
        Build the Zarr store ``sweep.zarr`` at the end (:func:`xsweep.consolidate`),
        which :func:`xsweep.open_sweep` opens.
    dims : sequence of str, optional
        Order of the dims that run ids follow (C order), when ``space`` is a
        Dataset. Defaults to the Dataset's dim order.
    cluster_kwargs : mapping, optional
        Extra keyword arguments for the embedded ``distributed.LocalCluster``
        (``dashboard_address``, ``memory_limit``...).

    Returns
    -------
    Sweep
        Handle on the sweep directory.

    Raises
    ------
    ConfigError
        Bad options, ``out`` not empty, or a bad plan: :class:`FieldError`,
        :class:`FieldTypeError`, :class:`ScriptNotFoundError`,
        :class:`ScriptLoadError`, :class:`SpaceError`.
    ClusterError
        The Dask cluster failed under the sweep.
    SweepLockedError
        Another process is writing ``out``.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> space = xs.grid({"Sat.SMA": [7000, 7100, 7200]})
    >>> sweep = xs.run(
    ...     "examples/missions/leo_report.script",
    ...     space,
    ...     out=tempfile.mkdtemp(),
    ...     workers=1,
    ...     progress=False,
    ... )
    >>> sweep.counts["ok"]
    3
    """
    opts = _options(
        engine=engine,
        gmat_root=gmat_root,
        timeout=timeout,
        retries=retries,
        isolation=isolation,
        keep_raw=keep_raw,
        runs_per_task=runs_per_task,
    )
    _check_workers(workers)
    sp = space if isinstance(space, Space) else Space(space, dims=dims)
    out_dir = Path(out).expanduser().resolve()
    if (out_dir / MANIFEST_NAME).exists():
        raise ConfigError(
            f"{out_dir} already holds a sweep; continue it with xs.resume({str(out_dir)!r}) "
            f"or 'xsweep resume {out_dir}'"
        )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(f"out={str(out_dir)!r} exists and is not an empty directory")
    source = _script_file(script)
    cluster = _Cluster(client, workers, progress, cluster_kwargs, opts)
    # On a cluster the caller gave, a worker's warm GMAT child checks the plan; otherwise a
    # planning child boots here while the embedded scheduler starts (its workers start
    # only once the plan passed).
    child = None if cluster.plans_on_workers else GmatChild(opts.engine, opts.gmat_root, wait=False)
    text = source.read_bytes()  # what is checked on a cluster is what is copied
    try:
        with cluster:
            if child is None:
                info = _check_plan_on(cluster.start_workers(), source, text, sp, opts)
            else:
                info = _check_plan(source, sp, opts, child)
            sha = _write_plan(out_dir, source, text, sp, opts, info)
            with _no_space_is_resumable(out_dir), ManifestWriter(out_dir) as writer:
                _execute(
                    writer,
                    sp,
                    range(sp.n_runs),
                    out_dir / SCRIPT_NAME,
                    sha,
                    opts,
                    cluster,
                    progress=progress,
                    store=consolidate,
                )
    finally:
        if child is not None:
            child.close()
    return Sweep(out_dir)


# --- resume and extend -------------------------------------------------------


@contextlib.contextmanager
def _no_space_is_resumable(sweep_dir: Path) -> Iterator[None]:
    """Turn a full disk under a sweep (a manifest append, the lock file) into DiskFullError."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, XsweepError) or exc.errno not in _NO_SPACE:
            raise
        raise DiskFullError(f"no space left on the device ({exc})", sweep_dir) from exc


def _sweep_dir(path: str | os.PathLike[str]) -> Path:
    from xsweep._archive import is_bundle

    sweep_dir = Path(path).expanduser().resolve()
    if is_bundle(sweep_dir):
        raise ConfigError(
            f"{sweep_dir} is an archive bundle, which is read-only; unpack it with "
            "xs.extract(bundle, dest) and resume the directory"
        )
    if not (sweep_dir / MANIFEST_NAME).is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep directory (no {MANIFEST_NAME})")
    return sweep_dir


def _resolve_script(
    sweep_dir: Path,
    manifest: Manifest,
    script: str | os.PathLike[str] | None,
    allow_script_drift: bool,
) -> tuple[Path, str, bool]:
    """Return the script to run, its hash, and whether it drifted from the record."""
    recorded = str(manifest.header["script_sha256"])
    candidate = _script_file(sweep_dir / SCRIPT_NAME if script is None else script)
    found = script_sha256(candidate)
    if found == recorded:
        return candidate, found, False
    what = f"{candidate}" if script is not None else f"{SCRIPT_NAME} in the sweep directory"
    if not allow_script_drift:
        raise ScriptDriftError(
            f"{what} differs from the script this sweep ran (recorded sha256 {recorded}, "
            f"found {found}); pass allow_script_drift=True to run the rest with it anyway",
            recorded,
            found,
        )
    warnings.warn(
        f"script drift: {what} has sha256 {found}, the sweep recorded {recorded}; the "
        "remaining runs use it (each run's record carries the hash it ran with)",
        UserWarning,
        stacklevel=3,
    )
    # Keep the sweep self-contained: the drifted script is copied in, named by its hash.
    copy = sweep_dir / f"mission-{found[:12]}.script"
    if not copy.exists():
        with atomic_path(copy, fsync=True) as tmp:
            tmp.write_bytes(candidate.read_bytes())
    return copy, found, True


def _outputs_intact(sweep_dir: Path, record: Mapping[str, Any]) -> str | None:
    """Return why an ok run's outputs are damaged, or None if they are intact."""
    import pyarrow.parquet as pq

    for out in record.get("outputs", ()):
        path = sweep_dir / out["path"]
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except FileNotFoundError:
            return f"{out['path']} is missing"
        except Exception as exc:
            return f"{out['path']} is unreadable ({type(exc).__name__})"
        if rows != out["rows"]:
            return f"{out['path']} has {rows} rows, the manifest recorded {out['rows']}"
    return None


def _reopen(writer: ManifestWriter, given: Mapping[str, Any]) -> tuple[Manifest, _Options, Space]:
    """Read back a locked sweep: its manifest, its options (``given`` ones win), its space.

    The space is redrawn and must match the manifest bit for bit.
    """
    assert writer.manifest is not None
    manifest = writer.manifest
    opts = _resume_options(manifest, given)
    space = Space.from_dict(manifest.space, verify=True)
    if space.n_runs != manifest.n_runs:
        raise ConfigError(
            f"the manifest's space has {space.n_runs} runs but it records n_runs={manifest.n_runs}"
        )
    return manifest, opts, space


def _resume_options(manifest: Manifest, given: Mapping[str, Any]) -> _Options:
    recorded = dict(manifest.header.get("options", {}))
    kind = manifest.header.get("engine", {}).get("kind")
    merged = {
        "engine": kind if kind in _ENGINES else recorded.get("engine", "auto"),
        "timeout": recorded.get("timeout"),
        "retries": recorded.get("retries", 0),
        "isolation": recorded.get("isolation", "worker"),
        "keep_raw": recorded.get("keep_raw", False),
        "runs_per_task": recorded.get("runs_per_task", 1),
        "gmat_root": None,
    }
    merged.update({k: v for k, v in given.items() if v is not None})
    return _options(**merged)


def resume(
    path: str | os.PathLike[str],
    *,
    client: Client | str | None = None,
    script: str | os.PathLike[str] | None = None,
    allow_script_drift: bool = False,
    workers: int | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    isolation: Literal["worker", "process"] | None = None,
    engine: Literal["auto", "embedded", "desktop"] | None = None,
    gmat_root: str | os.PathLike[str] | None = None,
    keep_raw: bool | None = None,
    runs_per_task: int | None = None,
    progress: bool = True,
    consolidate: bool = True,
    cluster_kwargs: Mapping[str, Any] | None = None,
) -> Sweep:
    """Finish a sweep: rerun its failed and never-recorded runs, and only those.

    The space is rebuilt from the manifest (random draws are redrawn and must
    match bit for bit) and the script is checked against the recorded hash.
    Finished runs' files are not touched, except an ``ok`` run whose Parquet
    is missing or truncated: it is rerun, with a warning. Paths in the
    manifest are relative, so a sweep directory copied elsewhere resumes there.

    Parameters
    ----------
    path : path-like
        The sweep directory.
    client, workers, progress, consolidate, cluster_kwargs
        As for :func:`run`.
    script : path-like, optional
        Run this script instead of the sweep's ``mission.script``. It must
        have the recorded hash unless ``allow_script_drift``.
    allow_script_drift : bool
        Run a script whose hash differs from the recorded one, with a warning
        naming both hashes. Each run record carries the hash it ran with.
    timeout, retries, isolation, engine, keep_raw, runs_per_task
        Default to the values the sweep was started with.
    gmat_root : path-like, optional
        Desktop GMAT install root on this machine.

    Returns
    -------
    Sweep

    Raises
    ------
    ConfigError
        Not a sweep directory, bad options.
    ScriptDriftError
        The script's hash differs from the recorded one.
    SpaceError
        The space in the manifest does not redraw bit for bit.
    ManifestCorruptError, SweepLockedError

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"Sat.SMA": [6200, 7000]})  # 6200 km is inside the Earth
    >>> mission = "examples/missions/leo_drag.script"
    >>> xs.run(mission, space, out=out, workers=1, progress=False).counts
    {'ok': 1, 'failed': 1, 'pending': 0}
    >>> xs.resume(out, workers=1, progress=False).failed()["reason"].tolist()
    ['gmat-error']
    """
    _check_workers(workers)
    sweep_dir = _sweep_dir(path)
    given = {
        "engine": engine,
        "gmat_root": gmat_root,
        "timeout": timeout,
        "retries": retries,
        "isolation": isolation,
        "keep_raw": keep_raw,
        "runs_per_task": runs_per_task,
    }
    with _no_space_is_resumable(sweep_dir), ManifestWriter(sweep_dir) as writer:
        manifest, opts, space = _reopen(writer, given)
        to_run, sha, drifted = _resolve_script(sweep_dir, manifest, script, allow_script_drift)
        if drifted:
            _check_plan(to_run, space, opts)
        todo = []
        for run_id in range(space.n_runs):
            rec = manifest.runs.get(run_id)
            if rec is None or rec["status"] != "ok":
                todo.append(run_id)
                continue
            damage = _outputs_intact(sweep_dir, rec)
            if damage is not None:
                warnings.warn(f"run {run_id}: {damage}; rerunning it", UserWarning, stacklevel=2)
                todo.append(run_id)
        if todo:
            with _Cluster(client, workers, progress, cluster_kwargs, opts) as cluster:
                _execute(
                    writer,
                    space,
                    todo,
                    to_run,
                    sha,
                    opts,
                    cluster,
                    progress=progress,
                    store=consolidate,
                )
        elif consolidate:
            from xsweep._store import LiveStore

            assert writer.manifest is not None
            LiveStore(sweep_dir, space, writer.manifest).sync()
    return Sweep(sweep_dir)


def extend(
    path: str | os.PathLike[str],
    n: int,
    *,
    client: Client | str | None = None,
    script: str | os.PathLike[str] | None = None,
    allow_script_drift: bool = False,
    workers: int | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    isolation: Literal["worker", "process"] | None = None,
    engine: Literal["auto", "embedded", "desktop"] | None = None,
    gmat_root: str | os.PathLike[str] | None = None,
    keep_raw: bool | None = None,
    runs_per_task: int | None = None,
    progress: bool = True,
    consolidate: bool = True,
    cluster_kwargs: Mapping[str, Any] | None = None,
) -> Sweep:
    """Add ``n`` samples to a Monte Carlo or Latin hypercube sweep and run only them.

    The existing samples stay bit-equal and keep their run ids; the new runs
    get ids after them. The extension is recorded in the manifest (an
    ``extend`` line holding the new space) before any new run starts. Runs
    that failed earlier are not rerun (use :func:`resume`).

    Parameters
    ----------
    path : path-like
        The sweep directory.
    n : int
        Number of samples to add (>= 1).
    client, script, allow_script_drift, workers, timeout, retries, isolation, engine, gmat_root, keep_raw, runs_per_task, progress, consolidate, cluster_kwargs
        As for :func:`resume`.

    Returns
    -------
    Sweep

    Raises
    ------
    SpaceError
        The space has no random dim to extend, or ``n`` is not a positive integer.
    ConfigError, ScriptDriftError, ManifestCorruptError, SweepLockedError
        As for :func:`resume`.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.monte_carlo(2, {"Sat.SMA": ("normal", 7000, 5)}, seed=1)
    >>> mission = "examples/missions/leo_report.script"
    >>> _ = xs.run(mission, space, out=out, workers=1, progress=False)
    >>> xs.extend(out, 2, workers=1, progress=False).counts
    {'ok': 4, 'failed': 0, 'pending': 0}
    """  # noqa: E501
    _check_workers(workers)
    sweep_dir = _sweep_dir(path)
    given = {
        "engine": engine,
        "gmat_root": gmat_root,
        "timeout": timeout,
        "retries": retries,
        "isolation": isolation,
        "keep_raw": keep_raw,
        "runs_per_task": runs_per_task,
    }
    with _no_space_is_resumable(sweep_dir), ManifestWriter(sweep_dir) as writer:
        manifest, opts, space = _reopen(writer, given)
        bigger = space.extended(n)
        to_run, sha, drifted = _resolve_script(sweep_dir, manifest, script, allow_script_drift)
        if drifted:
            _check_plan(to_run, space, opts)
        writer.append(
            {"created": now_iso(), "n": n, "n_runs": bigger.n_runs, "space": bigger.to_dict()},
            kind="extend",
        )
        with _Cluster(client, workers, progress, cluster_kwargs, opts) as cluster:
            _execute(
                writer,
                bigger,
                range(space.n_runs, bigger.n_runs),
                to_run,
                sha,
                opts,
                cluster,
                progress=progress,
                store=consolidate,
            )
    return Sweep(sweep_dir)


# --- execution ---------------------------------------------------------------


# The embedded cluster runs long tasks on cores GMAT keeps busy: its idle housekeeping
# (event-loop watchdog every 20 ms, memory and system monitors) costs ~8% of a core at
# Dask's defaults and ~4% with these, and the workers' statistical profiler (a stack
# sample every 10 ms of every task) ~1 ms of CPU per run. Applied to the clusters
# xsweep starts, not to the caller's.
_QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
}


class _Cluster:
    """The Dask side of a sweep: the caller's cluster, or an embedded one.

    Entering starts only what costs no worker: the embedded cluster's
    scheduler (and dashboard), or the connection to a given address. Workers
    start in :meth:`start_workers`, after planning succeeded; the embedded
    scheduler's start-up overlaps the planning check that way.
    """

    def __init__(
        self,
        client: Client | str | None,
        workers: int | None,
        progress: bool,
        cluster_kwargs: Mapping[str, Any] | None,
        opts: _Options,
    ) -> None:
        from distributed import Client

        if client is not None and not isinstance(client, Client | str):
            raise ConfigError(
                f"client must be a distributed.Client or a scheduler address, got {client!r}"
            )
        self.given = client
        self.workers = workers
        self.progress = progress
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.opts = opts
        self._stack = contextlib.ExitStack()
        self.client: Client | None = client if isinstance(client, Client) else None
        self.cluster: Any = None
        self._started = False

    @property
    def embedded(self) -> bool:
        """Whether xsweep started this cluster (rather than the caller)."""
        return self.cluster is not None

    @property
    def plans_on_workers(self) -> bool:
        """Whether the planning check runs on a worker: a given cluster with warm children."""
        return self.given is not None and self.opts.isolation == "worker"

    def plugin(self) -> Any:
        from xsweep._execute import GmatChildPlugin

        if self.opts.isolation != "worker":
            return None
        return GmatChildPlugin(self.opts.engine, self.opts.gmat_root)

    def __enter__(self) -> _Cluster:
        import dask
        from distributed import Client, LocalCluster

        try:
            if isinstance(self.given, str):
                self.client = self._stack.enter_context(Client(self.given))
            elif self.given is None:
                plugin = self.plugin()
                kwargs: dict[str, Any] = {
                    "n_workers": 0,
                    "threads_per_worker": 1,
                    "processes": True,
                    # Each worker boots its GMAT child while it starts up.
                    "plugins": () if plugin is None else (plugin,),
                    **self.cluster_kwargs,
                }
                config = dict(_QUIET_CLUSTER)
                if kwargs["processes"]:  # worker processes, started by nannies
                    kwargs.setdefault("preload", ["xsweep._worker"])  # Ctrl-C: the client's
                    # A spawned worker re-imports the main module (the xsweep CLI, the
                    # user's script) before it applies its own ``env``; set before the
                    # spawn, XSWEEP_LEAN keeps that import from loading xarray and pandas.
                    # The nannies set it in this process too: taken back at the end.
                    spawn_env = dask.config.get("distributed.nanny.pre-spawn-environ", {})
                    config["distributed.nanny.pre-spawn-environ"] = {
                        **spawn_env,
                        "XSWEEP_LEAN": "1",
                    }
                    self._stack.callback(_restore_env, "XSWEEP_LEAN", os.environ.get("XSWEEP_LEAN"))
                self._stack.enter_context(dask.config.set(config))
                self.cluster = self._stack.enter_context(LocalCluster(**kwargs))
                self.client = self._stack.enter_context(Client(self.cluster))
        except BaseException:
            self._stack.close()
            raise
        return self

    def start_workers(self, runs: int | None = None) -> Client:
        """Start the embedded workers (or install the plugin on the caller's); return the client.

        Without an explicit ``workers``, the embedded cluster gets one worker per
        core, but no more than ``runs`` runs can keep busy.
        """
        from dask.system import CPU_COUNT

        assert self.client is not None
        if self._started:
            return self.client
        self._started = True
        if self.cluster is not None:
            if self.progress:
                print(f"xsweep: Dask dashboard at {self.client.dashboard_link}", file=sys.stderr)
            tasks = CPU_COUNT if runs is None else -(-runs // self.opts.runs_per_task)
            n = self.workers or max(1, min(CPU_COUNT, tasks))
            self.cluster.scale(n)
            self.client.wait_for_workers(n)
        else:
            plugin = self.plugin()
            if plugin is not None:
                self.client.register_plugin(plugin)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _failed(reason: Literal["crashed", "exception"], error: str) -> RunOutcome:
    now = now_iso()
    return RunOutcome(
        status="failed",
        reason=reason,
        outputs=(),
        started=now,
        ended=now,
        duration_s=0.0,
        error=error,
    )


def _execute(
    writer: ManifestWriter,
    space: Space,
    run_ids: Sequence[int],
    script: Path,
    sha: str,
    opts: _Options,
    cluster: _Cluster,
    *,
    progress: bool,
    store: bool = True,
) -> None:
    """Run ``run_ids`` on Dask and append each outcome to the manifest as it completes.

    With ``store``, ``sweep.zarr`` is kept up to date as blocks of runs
    complete (:class:`~xsweep._store.LiveStore`): each block's write is a task
    on the caller's cluster or, on an embedded one, a call on one background
    thread of this process, which has xarray, Zarr and
    pyarrow loaded already (a lean worker would first import them: ~1 s of
    CPU, and the sweep's last block waits for it). A store write that fails is
    a warning, not a failed sweep: the store is derived and
    :func:`xsweep.consolidate` rebuilds it.

    With ``opts.runs_per_task`` > 1, consecutive runs share a task (keyed
    ``gmat-run-<token>-<first run_id>-<count>``), each still with its own
    outcome, timeout and retries.

    Tasks go in through ``Client.submit`` (one task per run, keyed
    ``gmat-run-<token>-<run_id>``) rather than ``dask.delayed`` + ``compute``:
    the same task, without a graph optimisation pass per run, which costs
    about 0.75 ms of client CPU per run on a machine whose cores GMAT keeps busy.
    """
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker
    from tqdm.auto import tqdm

    sweep_dir = writer.dir
    sweep_root, script_path = str(sweep_dir), str(script)
    token = uuid.uuid4().hex[:8]  # keys stay unique across sweeps sharing one cluster
    counts = {"ok": 0, "failed": 0}
    bar = tqdm(total=len(run_ids), unit="run", desc="gmat-run", disable=not progress)
    dask_client = cluster.start_workers(len(run_ids))
    nthreads = sum(dask_client.nthreads().values()) or 1
    window = max(4, 2 * nthreads)
    per_task = opts.runs_per_task
    pending = iter(run_ids)
    inflight: dict[str, tuple[Any, list[Run]]] = {}
    writing: dict[str, tuple[Any, int]] = {}  # store block writes
    # One writer thread: blocks are written in order, one at a time, as a worker would.
    here = ThreadPoolExecutor(1, thread_name_prefix="xsweep-store") if cluster.embedded else None
    written_here: list[tuple[Future[None], int]] = []
    completed = as_completed(with_results=True, raise_errors=False)
    live: LiveStore | None = None
    if store:
        from xsweep._store import LiveStore

        assert writer.manifest is not None
        live = LiveStore(sweep_dir, space, writer.manifest)

    def store_failed(exc: BaseException, what: str) -> None:
        nonlocal live
        live = None  # stop updating; the rest of the sweep still runs
        warnings.warn(
            f"{sweep_dir / 'sweep.zarr'} is not up to date: writing {what} failed "
            f"({type(exc).__name__}: {exc}); xs.consolidate({str(sweep_dir)!r}) rebuilds it",
            UserWarning,
            stacklevel=4,
        )

    def write_blocks(blocks: list[int]) -> None:
        for block in blocks:
            if live is None:
                return
            try:
                call = live.task(block)
            except Exception as exc:
                store_failed(exc, live.describe(block))
                return
            if here is not None:
                written_here.append((here.submit(call), block))
                continue
            key = f"xsweep-store-{token}-{block:06d}"
            future = dask_client.submit(call, key=key, pure=False)
            writing[key] = (future, block)
            completed.add(future)

    def reap(wait: bool) -> None:
        """Take in this process's finished block writes (all of them, with ``wait``)."""
        while written_here and (wait or written_here[0][0].done()):
            done, block = written_here.pop(0)
            exc = done.exception()
            if exc is not None and live is not None:
                store_failed(exc, live.describe(block))

    # Bound in a partial: Client.submit would take ``retries=`` as its own option.
    if per_task == 1:
        task: Any = functools.partial(
            execute_run, timeout=opts.timeout, retries=opts.retries, isolation=opts.isolation
        )
    else:
        task = functools.partial(
            execute_runs, timeout=opts.timeout, retries=opts.retries, isolation=opts.isolation
        )

    def record(run: Run, outcome: RunOutcome) -> None:
        rec = {
            "run_id": run.run_id,
            "index": list(run.index),
            "labels": {k: json_safe(v) for k, v in run.labels.items()},
            "overrides": {k: json_safe(v) for k, v in run.overrides.items()},
            "script_sha256": sha,
            **outcome.rebased(run_dir_name(run.run_id)).to_dict(),
        }
        writer.append(rec)
        if live is not None:
            write_blocks(live.finished(rec))
        counts[outcome.status] += 1
        bar.set_postfix(counts, refresh=False)
        bar.update(1)

    def submit_next() -> None:
        runs = [space.run(run_id) for run_id in itertools.islice(pending, per_task)]
        if not runs:
            return
        requests = []
        for run in runs:
            # os.path, not pathlib: pathlib interns every path part it parses, for good.
            run_dir = os.path.join(sweep_root, run_dir_name(run.run_id))
            if os.path.lexists(run_dir):  # leftovers of an unrecorded or failed attempt
                shutil.rmtree(run_dir)
            requests.append(
                RunRequest(
                    script_path,
                    run.overrides,
                    run_dir,
                    opts.engine,
                    opts.gmat_root,
                    opts.keep_raw,
                )
            )
        key = f"gmat-run-{token}-{runs[0].run_id:06d}"
        if per_task == 1:
            future = dask_client.submit(task, requests[0], key=key, pure=False)
        else:
            key += f"-{len(runs)}"
            future = dask_client.submit(task, requests, key=key, pure=False)
        inflight[key] = (future, runs)
        completed.add(future)

    def record_all(runs: list[Run], result: Any) -> None:
        if isinstance(result, list):  # one outcome each; a full disk ends it early
            for run, outcome in zip(runs, result, strict=False):
                record(run, outcome_of(outcome))
        else:
            failure = outcome_of(result)  # one run's outcome, or the task's exception
            for run in runs:
                record(run, failure)

    def outcome_of(result: Any) -> RunOutcome:
        if isinstance(result, RunOutcome):
            return result
        if isinstance(result, KilledWorker):
            return _failed("crashed", f"the Dask workers running it died: {result}")
        if isinstance(result, DiskFullError):
            raise DiskFullError(result.reason, sweep_dir)  # the worker's path may differ
        if isinstance(result, OSError) and result.errno in _NO_SPACE:
            raise DiskFullError(f"no space left on the device ({result})", sweep_dir)
        if isinstance(result, FutureCancelledError):
            # Never a run's outcome: it did not run. A lost scheduler cancels every
            # future while the client reconnects; those runs stay pending.
            why = getattr(result, "reason", None) or "cancelled"
            raise ClusterError(f"lost the Dask cluster (tasks cancelled: {why})", sweep_dir)
        if isinstance(result, OSError) and dask_client.status not in ("running", "connecting"):
            raise ClusterError(f"lost the Dask cluster ({type(result).__name__})", sweep_dir)
        if isinstance(result, BaseException):
            return _failed("exception", f"{type(result).__name__}: {result}")
        return _failed("exception", f"the task returned {type(result).__name__}")

    try:
        for _ in range(window):
            submit_next()
        if live is not None:  # while the first runs run
            try:
                first = live.start(run_ids)
            except Exception as exc:
                store_failed(exc, "its metadata")
            else:
                write_blocks(first)
        for future, result in completed:
            if future.status == "error":  # as_completed gives (type, exception, traceback)
                result = result[1] if isinstance(result, tuple) else result
            if future.key in writing:
                _, block = writing.pop(future.key)
                if isinstance(result, BaseException) and live is not None:
                    store_failed(result, live.describe(block))
                future.release()
                continue
            _, runs = inflight.pop(future.key)
            record_all(runs, result)
            future.release()
            submit_next()
            reap(wait=False)
        reap(wait=True)
        if live is not None:
            try:
                live.finish(dask_client)
            except Exception as exc:
                store_failed(exc, "the rechunked store")
    except BaseException:
        # Ctrl-C, a lost cluster, a full disk: keep what already finished, cancel the
        # rest (on a caller's cluster too), and let the embedded cluster close.
        with contextlib.suppress(Exception):
            for future, runs in list(inflight.values()):
                if future.status == "finished":
                    record_all(runs, future.result(timeout=1))
        with contextlib.suppress(Exception):
            dask_client.cancel([future for future, _ in (*inflight.values(), *writing.values())])
        raise
    finally:
        if here is not None:  # a block being written is finished; queued ones are dropped
            here.shutdown(wait=True, cancel_futures=True)
        bar.close()
