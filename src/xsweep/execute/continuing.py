"""Continuing a sweep: resume what is left, extend what is added, refly chosen runs.

:func:`resume`, :func:`extend` and :func:`refly` share one continuation
(``_session``): reopen the locked sweep, check the script for drift, then run what
is left (resume), what was added (extend) or what was chosen (refly).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack

import numpy as np
import xarray as xr

from xsweep.analysis.convergence import Z95, per_run_values
from xsweep.analysis.handle import Sweep
from xsweep.core.errors import ConfigError, SpaceError
from xsweep.core.options import (
    EXTEND_DEFAULTS,
    RESUME_DEFAULTS,
    Execution,
    ExecutionOptions,
    ResumeExecution,
    execution_keywords,
)
from xsweep.execute.refly import FULL, chosen_runs
from xsweep.execute.remote import on_url
from xsweep.execute.session import Session, continue_sweep
from xsweep.plan.checks import (
    grown_plan,
    refined_plan,
    sampled_plan,
    unfinished_plan,
    unrecorded_plan,
    variant_plan,
)
from xsweep.plan.scripts import ScriptArg

if TYPE_CHECKING:
    pass


@on_url("path", new=False)
@execution_keywords(RESUME_DEFAULTS)
def resume(
    path: str | os.PathLike[str],
    *,
    script: ScriptArg = None,
    allow_script_drift: bool = False,
    reparse: bool = False,
    rederive: bool = False,
    **execution: Unpack[ResumeExecution],
) -> Sweep:
    """Finish a sweep: rerun its failed and never-recorded runs, and only those.

    The space is rebuilt from the manifest (random draws are redrawn and must
    match bit for bit) and the script is checked against the recorded hash.
    Finished runs' files are not touched, except an ``ok`` run whose Parquet
    is missing or truncated: it is rerun, with a warning. Paths in the
    manifest are relative, so a sweep directory copied elsewhere resumes there.

    Parameters
    ----------
    path : path-like or str
        The sweep directory, or its fsspec URL (``s3://bucket/sweeps/a``): the
        session is staged on local disk from the bucket alone.
    script : path-like, optional
        Run this script instead of the sweep's ``mission.script``. It must
        have the recorded hash unless ``allow_script_drift``.
    allow_script_drift : bool
        Run a script whose hash differs from the recorded one, with a warning
        naming both hashes. Each run record carries the hash it ran with.
    reparse : bool
        Also parse again, from their kept raw files and without GMAT, the
        outputs gmat-run could not parse (:meth:`Sweep.output_problems`).
    rederive : bool
        Compute the derived values finished runs lack, without GMAT, with the
        recorded functions (after fixing one that failed, say).

    Returns
    -------
    Sweep
        Handle on the sweep.

    Other Parameters
    ----------------
    client, workers, progress, consolidate, cluster_kwargs, cluster_timeout, storage_options : see run
        As for :func:`run`.
    timeout, retries, isolation, engine, keep_raw, keep : see run, optional
        Default to the values the sweep was started with (a ``Keep`` whose
        ``where=`` is a function must be given again: xsweep never imports a
        function a sweep names).
    runs_per_task : int or "auto", optional
        As for :func:`run` (default ``"auto"``: how this machine batches runs is
        not part of the study); ``None`` takes the sweep's recorded value.
    gmat_root : path-like, optional
        Desktop GMAT install root on this machine.
    derive : callable, str, or a list of them
        Derive functions to add to (or, by the same name, replace in) those
        the sweep records; recorded ones are reloaded by name. Given, the
        values finished runs lack (never computed, or ``derive-failed``) are
        computed too, without GMAT.

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
    """  # noqa: E501
    ex = ExecutionOptions.of(execution, defaults=RESUME_DEFAULTS, caller="resume")
    session = Session(ex, script, allow_script_drift, reparse, rederive)
    return continue_sweep(path, session, unfinished_plan, sync_if_idle=True)


@on_url("path", new=False)
@execution_keywords(EXTEND_DEFAULTS)
def extend(
    path: str | os.PathLike[str],
    n: int | None = None,
    *,
    grid: Mapping[str, Any] | None = None,
    scripts: Mapping[str, str | os.PathLike[str]] | None = None,
    samples: Any = None,
    baseline: str | None = None,
    files: Sequence[str | os.PathLike[str]] = (),
    script: ScriptArg = None,
    allow_script_drift: bool = False,
    **execution: Unpack[Execution],
) -> Sweep:
    """Add samples, grid values or script variants to a sweep and run only the new points.

    The existing runs stay bit-equal and keep their run ids; the new runs get
    ids after them. The extension is recorded in the manifest (an ``extend``
    line holding the new space) before any new run starts. Runs that failed
    earlier are not rerun (use :func:`resume`).

    Parameters
    ----------
    path : path-like or str
        The sweep directory, or its fsspec URL (``s3://bucket/sweeps/a``): the
        session is staged on local disk from the bucket alone.
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
    samples : pandas.DataFrame or mapping of str to sequence, optional
        New explicit rows for a sweep of :func:`samples` (one column per field
        of its samples dim), crossed with every other dim: how a sequential
        design (:func:`adapt`, :func:`probability`) grows its sweep.
        Give one of ``n``, ``grid``, ``scripts`` and ``samples``.
    baseline : str, optional
        For a sweep of one script given ``scripts``: the variant name its
        runs get (default: the script file's stem). They keep their run ids,
        outputs and manifest lines; the store is rebuilt with the new dim.
    files : sequence of path-like
        Side files the new variants read (as for :func:`run`).
    script, allow_script_drift : see resume
        As for :func:`resume`.

    Returns
    -------
    Sweep
        Handle on the grown sweep.

    Other Parameters
    ----------------
    client, workers, timeout, retries, isolation, engine, gmat_root, keep_raw, keep, runs_per_task, progress, consolidate, cluster_kwargs, cluster_timeout, derive, storage_options : see resume
        As for :func:`resume` (the recorded values by default).
    reuse, reuse_from : see run
        As for :func:`run`: a new point identical to an ok run of this sweep (a
        variant whose script has an existing one's hash, say) or of a sweep in
        ``reuse_from`` is linked to it, not run.

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
    ex = ExecutionOptions.of(execution, defaults=EXTEND_DEFAULTS, caller="extend")
    if sum(x is not None for x in (n, grid, scripts, samples)) != 1:
        raise SpaceError(
            "extend needs one of n (more samples), grid (new grid values), scripts "
            "(new script variants) or samples (new explicit rows)"
        )
    session = Session(ex, script, allow_script_drift)
    plan: Any
    if n is not None:
        plan = functools.partial(grown_plan, n)
    elif grid is not None:
        plan = functools.partial(refined_plan, grid)
    elif samples is not None:
        plan = functools.partial(sampled_plan, samples)
    else:
        assert scripts is not None
        plan = functools.partial(variant_plan, scripts, baseline, files)
    return continue_sweep(path, session, plan, sync_if_idle=False)


def finish(
    path: str | os.PathLike[str], *, sync: bool = False, **execution: Unpack[ResumeExecution]
) -> Sweep:
    """Run a sweep's never-recorded runs only (its failed runs stay: they are data).

    A sequential design continues this way after a crash: the batch it had
    recorded (its extension line) is finished before the design asks again.
    With ``sync`` and nothing to run, the store is brought up to date.
    """
    ex = ExecutionOptions.of(execution, defaults=RESUME_DEFAULTS, caller="resume")
    return continue_sweep(path, Session(ex), unrecorded_plan, sync_if_idle=sync)


def _per_run(path: str | os.PathLike[str], var: str) -> xr.Dataset:
    """Return a Dataset holding ``var`` once per run: a derived quantity, or a column's final."""
    from xsweep.analysis.tables import final
    from xsweep.store.open import open_sweep

    opened = open_sweep(path)
    root = opened.to_dataset(inherit=False) if isinstance(opened, xr.DataTree) else opened
    if var in root and not any(a in root[var].dims for a in ("step", "interval", "iteration")):
        return root
    for group in root.attrs.get("xsweep_groups", ()):
        ds = open_sweep(path, group=group)
        assert isinstance(ds, xr.Dataset)
        if var in ds:
            return final(ds)
    raise ConfigError(f"{var!r} is neither a derived quantity nor a column of an output")


def _statistic(path: str | os.PathLike[str], var: str, dim: str) -> tuple[float, float]:
    """Return the mean of ``var`` over the ok runs and its standard error."""
    values = np.asarray(per_run_values(_per_run(path, var), var, dim).values, dtype=np.float64)
    values = values.reshape(-1)[np.isfinite(values.reshape(-1))]
    if values.size < 2:
        return float("nan"), float("inf")
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


@execution_keywords(RESUME_DEFAULTS)
def extend_until(
    path: str | os.PathLike[str],
    var: str,
    *,
    rtol: float,
    batch: int,
    max_runs: int,
    dim: str = "sample",
    **execution: Unpack[ResumeExecution],
) -> Sweep:
    """Extend a Monte Carlo sweep in batches until the mean of ``var`` is known to ``rtol``.

    Stops when the 95 % interval's half-width, ``1.96 * se``, is at most
    ``rtol * |mean|`` over the ok runs, or when the sweep has ``max_runs``.
    Each batch is :func:`xsweep.extend` of ``batch`` samples, so the runs are
    bit-equal to plain extends of that size. A sweep with unfinished runs (a
    killed batch) is resumed first: calling this again after a kill carries on.

    Parameters
    ----------
    path : path-like
        The sweep directory.
    var : str
        A derived quantity, or an output column (its final value is used).
    rtol : float
        Target relative half-width of the mean's 95 % interval.
    batch : int
        Samples per extension.
    max_runs : int
        Stop at this many planned runs.
    dim : str
        The sample dim.

    Returns
    -------
    Sweep
        Handle on the grown sweep.

    Other Parameters
    ----------------
    client, workers, timeout, retries, isolation, engine, gmat_root, keep_raw, keep, runs_per_task, progress, consolidate, cluster_kwargs, cluster_timeout, derive, storage_options : see resume
        Passed to :func:`xsweep.resume` and :func:`xsweep.extend`.
    """  # noqa: E501
    if isinstance(rtol, bool) or not float(rtol) > 0:
        raise ConfigError(f"rtol must be a positive number, got {rtol!r}")
    if isinstance(batch, bool) or isinstance(max_runs, bool) or min(batch, max_runs) < 1:
        raise ConfigError(f"batch and max_runs must be positive integers, got {batch}, {max_runs}")
    sweep = Sweep(path)
    if sweep.counts["pending"] or sweep.counts["failed"]:
        sweep = resume(path, **execution)
    while True:
        mean, se = _statistic(path, var, dim)
        if Z95 * se <= rtol * abs(mean) or sweep.n_runs >= max_runs:
            return sweep
        grow = min(batch, max_runs - sweep.n_runs)
        sweep = extend(path, grow, **execution)


@on_url("path", new=False)
@execution_keywords({k: v for k, v in RESUME_DEFAULTS.items() if k != "keep"})
def refly(
    path: str | os.PathLike[str],
    runs: Any,
    *,
    script: ScriptArg = None,
    allow_script_drift: bool = False,
    **execution: Unpack[ResumeExecution],
) -> Sweep:
    """Fly chosen runs again, in full, into the same sweep, and check they give what they gave.

    For a sweep that keeps summaries (``keep=``): the chosen runs are run
    again with every output kept, their new lines replace the old ones
    (the store gains their histories, ``kept`` becomes 1), and each is
    compared with its recorded outcome: the digest of every output's whole
    history and its summary, bit for bit. GMAT is deterministic for a script
    and its values, so they agree; a run that does not (a drifted script run
    with ``allow_script_drift``, another GMAT) is named in a warning, and its
    line records what differs (``extra["refly"]``: ``{"same": False,
    "differ": [...]}``).

    Parameters
    ----------
    path : path-like or str
        The sweep directory, or its fsspec URL.
    runs : int, sequence of int, xarray object, callable, or str
        The runs: ids; a selection of the opened sweep (a Dataset or
        DataArray: its ``run_id``); ``fn(summary, params) -> bool`` over each
        ok run's summaries, as ``Keep(where=...)`` takes it; or a
        :meth:`pandas.DataFrame.query` expression over a table of one row per
        ok run, with a column ``<column>.<stat>`` per summary value (the name of
        the output first, ``RF.<column>.<stat>``, when there are several) and
        the run's parameters: ``"`Sat.Earth.Altitude.min` < 250"``.
    script, allow_script_drift : see resume
        As for :func:`resume`.

    Returns
    -------
    Sweep
        Handle on the sweep.

    Other Parameters
    ----------------
    client, workers, timeout, retries, isolation, engine, gmat_root, keep_raw, runs_per_task, progress, consolidate, cluster_kwargs, cluster_timeout, derive, storage_options : see resume
        As for :func:`resume`.

    Raises
    ------
    ConfigError
        No run chosen, or a run that never ran (:func:`resume` runs those).
    ScriptDriftError, ManifestCorruptError, SweepLockedError
        As for :func:`resume`.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"Sat.SMA": [7000, 7100, 7200]})
    >>> mission = "examples/missions/leo_report.script"
    >>> _ = xs.run(mission, space, out=out, keep="summary", workers=1, progress=False)
    >>> sweep = xs.refly(out, [1], workers=1, progress=False)
    >>> sweep.manifest.runs[1].outcome.extra["refly"]["same"]
    True
    >>> xs.open_sweep(out)["kept"].values.tolist()
    [0, 1, 0]
    """  # noqa: E501
    if "keep" in execution:
        raise TypeError("refly() keeps every output of the runs it flies: it takes no keep=")
    ex = ExecutionOptions.of({**execution, "keep": FULL}, defaults=RESUME_DEFAULTS, caller="refly")
    session = Session(ex, script, allow_script_drift, refly=True)

    def plan(writer: Any, manifest: Any, space: Any) -> tuple[Any, list[int], None]:
        return space, chosen_runs(manifest, space, runs), None

    sweep = continue_sweep(path, session, plan, sync_if_idle=False)
    records = sweep.manifest.runs
    differ = {
        i: r.outcome.extra["refly"]["differ"]
        for i, r in records.items()
        if not r.outcome.extra.get("refly", {}).get("same", True)
    }
    if differ:
        first = next(iter(differ))
        warnings.warn(
            f"{len(differ)} re-flown runs do not give what they gave (run {first}: "
            f"{', '.join(differ[first][:3])}); their lines record it (extra['refly'])",
            UserWarning,
            stacklevel=3,
        )
    return sweep
