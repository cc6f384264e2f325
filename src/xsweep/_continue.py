"""Continuing a sweep: :func:`resume` runs what is left, :func:`extend` what is added.

Both share one continuation (``_session``): reopen the locked sweep, check the
script for drift, then run what is left (resume) or what was added (extend).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from xsweep._errors import SpaceError
from xsweep._handle import Sweep
from xsweep._plan import check_workers, grown_plan, refined_plan, unfinished_plan, variant_plan
from xsweep._remote import on_url
from xsweep._reuse import check_reuse
from xsweep._scripts import ScriptArg
from xsweep._session import Session, continue_sweep

if TYPE_CHECKING:
    from distributed import Client


_RESUME_OWN = ("path", "storage_options")  # not Session's


@on_url("path", new=False)
def resume(
    path: str | os.PathLike[str],
    *,
    client: Client | str | None = None,
    script: ScriptArg = None,
    allow_script_drift: bool = False,
    workers: int | None = None,
    timeout: float | str | None = None,
    retries: int | None = None,
    isolation: Literal["worker", "process"] | None = None,
    engine: Literal["auto", "embedded", "desktop"] | None = None,
    gmat_root: str | os.PathLike[str] | None = None,
    keep_raw: bool | None = None,
    runs_per_task: int | Literal["auto"] | None = None,
    progress: bool = True,
    consolidate: bool = True,
    cluster_kwargs: Mapping[str, Any] | None = None,
    cluster_timeout: float = 60.0,
    reparse: bool = False,
    derive: Any = None,
    rederive: bool = False,
    storage_options: Mapping[str, Any] | None = None,
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
    storage_options : mapping, optional
        As for :func:`run`: a URL's fsspec options.

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
    session = Session(**{k: v for k, v in locals().items() if k not in _RESUME_OWN})
    return continue_sweep(path, session, unfinished_plan, sync_if_idle=True)


_EXTEND_OWN = ("path", "n", "grid", "scripts", "baseline", "files", "storage_options")


@on_url("path", new=False)
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
    timeout: float | str | None = None,
    retries: int | None = None,
    isolation: Literal["worker", "process"] | None = None,
    engine: Literal["auto", "embedded", "desktop"] | None = None,
    gmat_root: str | os.PathLike[str] | None = None,
    keep_raw: bool | None = None,
    runs_per_task: int | Literal["auto"] | None = None,
    progress: bool = True,
    consolidate: bool = True,
    cluster_kwargs: Mapping[str, Any] | None = None,
    cluster_timeout: float = 60.0,
    derive: Any = None,
    reuse: Literal["content"] | None = None,
    reuse_from: Sequence[str | os.PathLike[str]] = (),
    storage_options: Mapping[str, Any] | None = None,
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
        Give one of ``n``, ``grid`` and ``scripts``.
    baseline : str, optional
        For a sweep of one script given ``scripts``: the variant name its
        runs get (default: the script file's stem). They keep their run ids,
        outputs and manifest lines; the store is rebuilt with the new dim.
    files : sequence of path-like
        Side files the new variants read (as for :func:`run`).
    client, script, allow_script_drift, workers, timeout, retries, isolation, engine, gmat_root, keep_raw, runs_per_task, progress, consolidate, cluster_kwargs, cluster_timeout, derive
        As for :func:`resume`.
    reuse, reuse_from
        As for :func:`run`: a new point identical to an ok run of this sweep (a
        variant whose script has an existing one's hash, say) or of a sweep in
        ``reuse_from`` is linked to it, not run.
    storage_options : mapping, optional
        As for :func:`run`: a URL's fsspec options.

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
    check_reuse(reuse, reuse_from)
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
