"""Sweeps: :func:`run`, :func:`resume` and :func:`extend`, the pipeline on the client.

Each one plans (``_plan``: options, the script, the plan check, the manifest
header), takes the sweep's lock, starts or connects to a Dask cluster
(``_cluster``), and hands the runs to the client loop (``_dispatch``), which
records every outcome in the manifest and keeps the store current. Resume and
extend share one continuation: reopen the locked sweep, check the script for
drift, then run what is left (resume) or what was added (extend).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from xsweep._cluster import Cluster
from xsweep._derive import resolve
from xsweep._dispatch import Dispatcher
from xsweep._errors import ConfigError, SpaceError, disk_full_is_resumable
from xsweep._handle import Sweep
from xsweep._manifest import ManifestWriter
from xsweep._paths import MANIFEST_NAME
from xsweep._plan import (
    check_plan_on,
    check_scripts_here,
    check_workers,
    grown_plan,
    options,
    refined_plan,
    unfinished_plan,
    variant_plan,
    write_plan,
)
from xsweep._scripts import PlannedScript, ScriptArg, plan_script, variant_names, with_variants
from xsweep._session import Session, continue_sweep
from xsweep._space import Space
from xsweep.gmat.child import GmatChild, close_spares, offer_child, take_child

if TYPE_CHECKING:
    import xarray as xr
    from distributed import Client


def run(
    script: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
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
    cluster_timeout: float = 60.0,
    files: Sequence[str | os.PathLike[str]] = (),
    derive: Any = None,
) -> Sweep:
    """Run every point of ``space`` as a Dask task and record each outcome.

    Planning comes first: the script is loaded in a throw-away GMAT child (on a
    cluster passed as ``client``, in a worker's warm one) and every field of
    the space is checked (it exists, it takes the value's type); a bad plan
    raises and writes nothing. Then ``out`` gets a copy of the script
    (``mission.script``; with the files it includes, ``script/``) and the
    manifest header, and every run is a Dask task keyed ``gmat-run-<token>-<run_id>``.
    Each outcome is appended to ``manifest.jsonl`` (fsynced) as it completes;
    each run's outputs are Parquet files under ``runs/run-NNNNNN/``.

    A run that fails (GMAT error, exception, crashed child, timeout) is
    recorded as ``failed`` with its reason and message; the sweep goes on.
    ``KeyboardInterrupt`` cancels pending tasks, shuts down the cluster this
    call started and every GMAT child, and leaves a manifest holding exactly
    the finished runs: continue with :func:`resume`.

    Parameters
    ----------
    script : path-like, or mapping of str to path-like
        The GMAT mission script; or script variants, ``{"baseline":
        "mission.script", "bigger_tank": "tank.script"}``: every point of the
        space runs once per variant, on a ``script`` dim in front of the
        space's dims (``ds.sel(script="bigger_tank")``). Every variant is
        checked in the plan, copied under ``variants/<name>/`` and hashed on
        its own; outputs a variant lacks are NaN for its runs, flagged
        ``not-in-script`` in ``output_problems``.
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
        (``dashboard_address``, ``memory_limit``...). Its workers are threads
        of this process, each driving its own GMAT child process;
        ``{"processes": True}`` makes them processes (a script then needs an
        ``if __name__ == "__main__":`` guard: spawned workers re-import it).
    cluster_timeout : float
        Seconds to wait for the cluster: its workers to start, a scheduler
        address to answer, the planning check on a given cluster. Past it,
        :class:`ClusterStartError` (nothing is written for the sweep).
    files : sequence of path-like
        Side files the script reads that the sweep should keep with it (an
        ephemeris or attitude input, a data file given by relative path),
        copied in at their place relative to the script. Included files
        (``#Include``) are found and copied without being named here.
    derive : callable, str, or a list of them
        Derived quantities: each function is called once per ok run, in the
        GMAT child that ran it, as ``fn(outputs, params)`` (the run's parsed
        frames by output name, its labels and field values) and returns a
        mapping of names to scalars or small arrays, stored over the
        parameter dims (see the Derived quantities page). A ``"module:function"``
        string is imported by name. A function that raises marks that run's
        values ``derive-failed``; the run stays ok.

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
    ClusterStartError
        The cluster's workers did not start within ``cluster_timeout`` (the
        message names the worker's own error).
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
    opts = options(
        engine=engine,
        gmat_root=gmat_root,
        timeout=timeout,
        retries=retries,
        isolation=isolation,
        keep_raw=keep_raw,
        runs_per_task=runs_per_task,
    )
    check_workers(workers)
    functions = resolve(derive)
    sp = space if isinstance(space, Space) else Space(space, dims=dims)
    if isinstance(script, Mapping):
        sp = with_variants(sp, variant_names(script))
    out_dir = Path(out).expanduser().resolve()
    if (out_dir / MANIFEST_NAME).exists():
        raise ConfigError(
            f"{out_dir} already holds a sweep; continue it with xs.resume({str(out_dir)!r}) "
            f"or 'xsweep resume {out_dir}'"
        )
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(f"out={str(out_dir)!r} exists and is not an empty directory")
    planned: dict[str | None, PlannedScript] = (
        {name: plan_script(path, files) for name, path in script.items()}
        if isinstance(script, Mapping)
        else {None: plan_script(script, files)}
    )
    cluster = Cluster(
        client, workers, progress, cluster_kwargs, opts, timeout=cluster_timeout, path=out_dir
    )
    # On a cluster the caller gave, a worker's warm GMAT child checks the plan; otherwise a
    # planning child boots here while the embedded scheduler starts (its workers start
    # only once the plan passed, and before anything is written).
    child = None
    if not cluster.plans_on_workers:  # one the caller started early (the CLI), else a new one
        child = take_child(opts.engine, opts.gmat_root) or GmatChild(
            opts.engine, opts.gmat_root, wait=False
        )
    try:  # what is checked is what is copied: the bytes read once, laid out as the copy
        with cluster:
            if child is None:
                dask_client = cluster.start_workers()
                info = check_plan_on(
                    dask_client, planned, sp, opts, timeout=cluster_timeout, path=out_dir
                )
            else:
                info = check_scripts_here(planned, sp, opts, child, keep=cluster.workers_here)
                if cluster.workers_here:  # the first worker runs on the planning child
                    offer_child(child)
                    child = None
                cluster.start_workers(sp.n_runs)
            scripts = write_plan(out_dir, planned, sp, opts, info)
            with disk_full_is_resumable(out_dir), ManifestWriter(out_dir) as writer:
                if functions:
                    assert writer.manifest is not None
                    writer.manifest.derive = [f.to_dict() for f in functions]
                    writer.append_derive(writer.manifest.derive)
                dispatcher = Dispatcher(
                    writer,
                    sp,
                    scripts,
                    opts,
                    cluster,
                    progress=progress,
                    store=consolidate,
                    derive=functions,
                )
                dispatcher.run(range(sp.n_runs))
    finally:
        if child is not None:
            child.close()
        close_spares()  # one no worker adopted
    return Sweep(out_dir)


def resume(
    path: str | os.PathLike[str],
    *,
    client: Client | str | None = None,
    script: ScriptArg = None,
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
    cluster_timeout: float = 60.0,
    reparse: bool = False,
    derive: Any = None,
    rederive: bool = False,
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
    client, workers, progress, consolidate, cluster_kwargs, cluster_timeout
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
    reparse : bool
        Also parse again, from their kept raw files and without GMAT, the
        outputs gmat-run could not parse (:meth:`Sweep.output_problems`).
    derive : callable, str, or a list of them
        Derive functions to add to (or, by the same name, replace in) those
        the sweep records; recorded ones are reloaded by name. Given, the
        values finished runs lack (never computed, or ``derive-failed``) are
        computed too, without GMAT.
    rederive : bool
        Compute the derived values finished runs lack, without GMAT, with the
        recorded functions (after fixing one that failed, say).

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
    check_workers(workers)
    session = Session(**{k: v for k, v in locals().items() if k != "path"})
    return continue_sweep(path, session, unfinished_plan, sync_if_idle=True)


_EXTEND_OWN = ("path", "n", "grid", "scripts", "baseline", "files")  # not Session's


def extend(
    path: str | os.PathLike[str],
    n: int | None = None,
    *,
    grid: Mapping[str, Any] | None = None,
    scripts: Mapping[str, str | os.PathLike[str]] | None = None,
    baseline: str | None = None,
    files: Sequence[str | os.PathLike[str]] = (),
    client: Client | str | None = None,
    script: ScriptArg = None,
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
    cluster_timeout: float = 60.0,
    derive: Any = None,
) -> Sweep:
    """Add samples, grid values or script variants to a sweep and run only the new points.

    The existing runs stay bit-equal and keep their run ids; the new runs get
    ids after them. The extension is recorded in the manifest (an ``extend``
    line holding the new space) before any new run starts. Runs that failed
    earlier are not rerun (use :func:`resume`).

    Parameters
    ----------
    path : path-like
        The sweep directory.
    n : int, optional
        Number of samples to add (>= 1) to the sweep's Monte Carlo, Latin
        hypercube or quasi-random dim.
    grid : mapping of str to values, optional
        New values for grid dims, e.g. ``{"Sat.SMA": [7050.0, 7150.0]}``. Each
        dim grows at its end (``open_sweep`` sorts it back); the new points
        are run crossed with every other dim. A value the sweep already has
        is skipped with a warning.
    scripts : mapping of str to path-like, optional
        New script variants, ``{"bigger_tank": "tank.script"}``: the whole
        space runs once on each, on the ``script`` dim (see :func:`run`).
        Give one of ``n``, ``grid`` and ``scripts``.
    baseline : str, optional
        For a sweep of one script given ``scripts``: the variant name its
        runs get (default: the script file's stem). They keep their run ids,
        outputs and manifest lines; the store is rebuilt with the new dim.
    files : sequence of path-like
        Side files the new variants read (as for :func:`run`).
    client, script, allow_script_drift, workers, timeout, retries, isolation, engine, gmat_root, keep_raw, runs_per_task, progress, consolidate, cluster_kwargs, cluster_timeout, derive
        As for :func:`resume`.

    Returns
    -------
    Sweep

    Raises
    ------
    SpaceError
        The space has no random dim to extend, ``n`` is not a positive integer,
        or a ``grid`` name is not a grid dim of the sweep (a new dim is refused:
        the old runs have no value for it).
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
    check_workers(workers)
    if sum(x is not None for x in (n, grid, scripts)) != 1:
        raise SpaceError(
            "extend needs one of n (more samples), grid (new grid values) or scripts "
            "(new script variants)"
        )
    session = Session(**{k: v for k, v in locals().items() if k not in _EXTEND_OWN})
    plan: Any
    if n is not None:
        plan = functools.partial(grown_plan, n)
    elif grid is not None:
        plan = functools.partial(refined_plan, grid)
    else:
        assert scripts is not None
        plan = functools.partial(variant_plan, scripts, baseline, files)
    return continue_sweep(path, session, plan, sync_if_idle=False)
