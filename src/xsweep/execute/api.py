"""Sweeps: :func:`run`, the pipeline on the client.

It plans (``_plan``: options, the script, the plan check, the manifest
header), takes the sweep's lock, starts or connects to a Dask cluster
(``_cluster``), and hands the runs to the client loop (``_dispatch``), which
records every outcome in the manifest and keeps the store current. Continuing
a sweep (:func:`xsweep.resume`, :func:`xsweep.extend`) is ``_continue``'s.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Unpack

from xsweep.analysis.handle import Sweep
from xsweep.core.errors import disk_full_is_resumable
from xsweep.core.hooks import DeriveFunction, resolve
from xsweep.core.options import (
    RUN_DEFAULTS,
    Execution,
    ExecutionOptions,
    Options,
    execution_keywords,
)
from xsweep.execute import background
from xsweep.execute.cluster import Cluster, check_plan_on, cluster_for
from xsweep.execute.dispatch import Dispatcher
from xsweep.execute.remote import on_url
from xsweep.gmat.child import GmatChild
from xsweep.gmat.pool import offer_child, take_child
from xsweep.plan.checks import check_scripts_here, new_sweep_dir, write_plan
from xsweep.plan.reuse import Reuser, Source, reuse_sources
from xsweep.plan.scripts import PlannedScript, Scripts, plan_script, variant_names, with_variants
from xsweep.record.manifest import ManifestWriter
from xsweep.space.spaces import Space

if TYPE_CHECKING:
    import xarray as xr


@on_url("out", new=True)
@execution_keywords(RUN_DEFAULTS)
def run(
    script: str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]],
    space: xr.Dataset | Space,
    *,
    out: str | os.PathLike[str],
    dims: Sequence[str] | None = None,
    files: Sequence[str | os.PathLike[str]] = (),
    wait: bool = True,
    **execution: Unpack[Execution],
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
    out : path-like or str
        The sweep directory to create. It must not exist or be empty. Or an
        fsspec URL (``s3://bucket/sweeps/a``): the session is staged on local
        disk and every run's files and manifest line reach the object store
        before the run counts as done; the store is uploaded at the end.
    dims : sequence of str, optional
        Order of the dims that run ids follow (C order), when ``space`` is a
        Dataset. Defaults to the Dataset's dim order.
    files : sequence of path-like
        Side files the script reads that the sweep should keep with it (an
        ephemeris or attitude input, a data file given by relative path),
        copied in at their place relative to the script. Included files
        (``#Include``) are found and copied without being named here.
    wait : bool
        ``False``: return once the plan is checked and written, and run the
        sweep on a thread of this process; the returned handle's
        :meth:`~xsweep.Sweep.wait` waits for it (and raises what it raised),
        :meth:`~xsweep.Sweep.stop` stops it as Ctrl-C would. In a Jupyter
        kernel its card shows and refreshes until the sweep ends. Only for a
        local ``out``; no progress bar is printed.

    Returns
    -------
    Sweep
        Handle on the sweep directory.

    Other Parameters
    ----------------
    client : distributed.Client or str, optional
        An existing Dask client, or a scheduler address (``"tcp://host:8786"``).
        Nothing is started or shut down then; a worker's warm GMAT child checks
        the plan. Workers must see ``out`` at the same path (a shared file
        system). By default an embedded ``LocalCluster`` is started for this
        call: single-threaded worker processes (see ``workers``), dashboard on.
    workers : int, optional
        Worker processes of the embedded cluster (default: one per core, but
        no more than the sweep has tasks).
    timeout : float, "auto" or "off"
        Seconds a run may take; a run past it is killed (its GMAT child is
        respawned) and recorded as ``failed`` with reason ``timeout``.
        ``"auto"`` (default): ``max(600 s, 20 x the median ok run)``, and
        3600 s until a run has finished; ``"off"`` (or ``None``): no bound.
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
    runs_per_task : int or "auto"
        Runs per Dask task. ``"auto"`` (default) sizes tasks from the runs'
        measured duration: one run a task at first, then as many as fill
        about 0.25 s, never more than keep every worker busy to the end. A
        run of 0.25 s or more stays its own task; short runs are fused the
        way Dask fuses small chunks, since Dask costs a few ms of CPU per
        task on every side (client, scheduler, worker). ``1`` makes every
        run its own task (its own key on the dashboard); an integer fixes
        the batch. Each run keeps its own outcome, timeout, retries and
        manifest line either way (see the Performance page).
    keep : {"all", "summary"} or xsweep.Keep
        What a run keeps. ``"all"`` (default): every output in full.
        ``"summary"``: each output's summary (final row, each column's
        minimum and maximum and when they happened) in the run's manifest
        line and the store's ``summaries/<name>`` groups, and no per-run
        files; failed runs keep their log. :class:`xsweep.Keep` keeps chosen
        runs in full too (every k-th, a seeded fraction, those a predicate
        over the summaries picks). See the Campaigns page.
    allow_overwritten : bool
        Sweep a field the mission sequence sets before the run uses it (the
        variable of a ``Vary``, or an assignment before the first
        ``Propagate``). Refused by default, with the command and its line:
        the swept value would be overwritten. Allow it where the value is a
        starting point the sequence uses (a ``Vary``'s initial guess).
    progress : bool
        Show a progress bar and print the dashboard link.
    consolidate : bool
        Build the Zarr store ``sweep.zarr`` at the end (:func:`xsweep.consolidate`),
        which :func:`xsweep.open_sweep` opens.
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
    derive : callable, str, or a list of them
        Derived quantities: each function is called once per ok run, in the
        GMAT child that ran it, as ``fn(outputs, params)`` (the run's parsed
        frames by output name, its labels and field values) and returns a
        mapping of names to scalars or small arrays, stored over the
        parameter dims (see the Derived quantities page). A ``"module:function"``
        string is imported by name. A function that raises marks that run's
        values ``derive-failed``; the run stays ok. On the first run that
        finishes, it stops the sweep instead (:class:`DeriveError`).
    reuse : {None, "content"}
        ``"content"``: a run whose fingerprint (script hash, overrides, engine
        version) matches an ok run of this sweep, or of a sweep in
        ``reuse_from``, is linked to it instead of run: recorded ok with
        ``extra["reused"]`` naming its source, its outputs the source's files
        (hard-linked in from another sweep). Off by default: a script is not
        always a pure function of its fields (a ``Write`` of a per-process
        counter such as ``NAIFId``, or a file it reads that the hash does not
        cover, can make two identical runs differ).
    reuse_from : sequence of path-like
        Finished sweep directories whose ok runs ``reuse="content"`` may link.
    storage_options : mapping, optional
        For a sweep at a URL: the fsspec file system's options (credentials,
        ``endpoint_url``...). See the "Cloud" section of the running docs.

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
    if not wait:
        quiet: Execution = {**execution, "progress": False}
        call = functools.partial(run, script, space, out=out, dims=dims, files=files, **quiet)
        return background.start(call, Path(out).expanduser().resolve())
    ex = ExecutionOptions.of(execution, defaults=RUN_DEFAULTS, caller="run")
    opts = ex.options()
    sources = reuse_sources(Path(out), None, ex.reuse_from) if ex.reuse is not None else None
    functions = resolve(ex.derive)
    sp = space if isinstance(space, Space) else Space(space, dims=dims)
    if isinstance(script, Mapping):
        sp = with_variants(sp, variant_names(script))
    out_dir = new_sweep_dir(out)
    planned: dict[str | None, PlannedScript] = (
        {name: plan_script(path, files) for name, path in script.items()}
        if isinstance(script, Mapping)
        else {None: plan_script(script, files)}
    )
    cluster = cluster_for(ex, opts, out_dir)
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
                    dask_client, planned, sp, opts, timeout=ex.cluster_timeout, path=out_dir
                )
            else:
                info = check_scripts_here(planned, sp, opts, child, keep=True)
                # The first in-process worker runs on the planning child; with worker
                # processes, the next sweep of this process checks its plan on it.
                offer_child(child)
                child = None
                cluster.start_workers(sp.n_runs)
            scripts = write_plan(out_dir, planned, sp, opts, info)
            with disk_full_is_resumable(out_dir), ManifestWriter(out_dir) as writer:
                _run_all(writer, sp, scripts, opts, cluster, ex, functions, sources)
    finally:
        if child is not None:  # a plan refused: the next try here checks on it, warm
            offer_child(child)
    return Sweep(out_dir)


def _run_all(
    writer: ManifestWriter,
    space: Space,
    scripts: Scripts,
    opts: Options,
    cluster: Cluster,
    ex: ExecutionOptions,
    functions: tuple[DeriveFunction, ...],
    sources: dict[str, Source] | None,
) -> None:
    """Record the derive functions, then run every run of a new sweep."""
    assert writer.manifest is not None
    if functions:
        writer.manifest.derive = [f.to_dict() for f in functions]
        writer.append_derive(writer.manifest.derive)
    reuser = None
    if sources is not None:
        reuser = Reuser(sources, writer.dir, writer.manifest.header, functions)
    dispatcher = Dispatcher(
        writer,
        space,
        scripts,
        opts,
        cluster,
        progress=ex.progress,
        store=ex.consolidate,
        derive=functions,
        reuse=reuser,
    )
    dispatcher.run(range(space.n_runs))
