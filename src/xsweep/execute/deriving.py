"""Deriving values of a finished sweep without GMAT: :func:`derive`, tried on one run first.

A derive function with a typo fails on every run. So :func:`derive` calls the
functions on the sweep's first ok run before anything is recorded, and raises
:class:`~xsweep.DeriveError` with that run's error; only then are they
recorded and called on every run (:func:`xsweep.execute.session.derive_finished`).
``drop=True`` takes functions and their values out of the sweep again.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xsweep.analysis.handle import Sweep
from xsweep.core.errors import ConfigError, DeriveError, disk_full_is_resumable
from xsweep.core.hooks import DeriveFunction, resolve
from xsweep.core.options import RESUME_DEFAULTS, ExecutionOptions, Options
from xsweep.core.paths import sweep_dir
from xsweep.core.records import RunRecord
from xsweep.core.timeouts import FLOOR_S
from xsweep.execute.cluster import Cluster
from xsweep.execute.dispatch import derived_schema
from xsweep.execute.session import (
    DERIVE_BATCH,
    DERIVE_PREFIX,
    Session,
    derive_finished,
    needs_deriving,
    run_item,
    settle_derive,
)
from xsweep.execute.worker import execute_derive
from xsweep.plan.checks import reopen
from xsweep.record.manifest import Manifest, ManifestWriter
from xsweep.space.spaces import Space
from xsweep.store.write import build

if TYPE_CHECKING:
    from distributed import Client

# Past a function's own timeout: a worker's child to start and the result to travel.
_CHECK_SLACK_S = 120.0


def derive(
    path: str | os.PathLike[str],
    functions: Any,
    *,
    out: str | os.PathLike[str] | None = None,
    drop: bool = False,
    check: bool = True,
    client: Client | str | None = None,
    workers: int | None = None,
    timeout: float | str | None = None,
    progress: bool = True,
    consolidate: bool = True,
    cluster_kwargs: Mapping[str, Any] | None = None,
    cluster_timeout: float = 60.0,
) -> Sweep:
    """Add, replace or drop derived quantities of a finished sweep, from its Parquet, without GMAT.

    The functions are first called on the sweep's first ok run: if one raises
    (or returns what the store cannot hold), :class:`~xsweep.DeriveError` says
    so with that run's error, and the sweep is left as it was. Then every ok
    run's values are computed (again) as Dask tasks, in parallel, with
    progress: each worker's child process reads the runs' Parquet and calls
    the functions, so the client never loads the runs' data. The functions
    join those the sweep records (one of the same name replaces it, with all
    its values); the results go into the manifest and the store's variables
    of the same names.

    Parameters
    ----------
    path : path-like
        The sweep directory, or an archive bundle (then ``out`` is required).
    functions : callable, str, or a list of them
        Derive functions (see :func:`run`'s ``derive``). With ``drop``, also
        the name of a derived value (``"miss_km"``): the function giving it.
    out : path-like, optional
        For a bundle: the directory to unpack it into and derive there.
    drop : bool
        Take ``functions`` and all their values out of the sweep (the
        manifest records it; the store is rebuilt without them). Nothing runs.
    check : bool
        Try the functions on the first ok run before recording anything. Turn
        it off only for a function that is meant to fail on that run.
    client, workers, progress, consolidate, cluster_kwargs, cluster_timeout
        As for :func:`run`.
    timeout : float, optional
        Seconds one run's functions may take (past it, their child is killed
        and those values are ``derive-failed``).

    Returns
    -------
    Sweep

    Raises
    ------
    DeriveError
        A function failed on the first ok run (its error is in the message).
    ConfigError
        Not a sweep, ``functions`` cannot be imported, a bundle without
        ``out``, or (with ``drop``) a function the sweep does not record.
    SweepLockedError
        Another process is writing the sweep.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"Sat.SMA": [7000, 7100]})
    >>> _ = xs.run("examples/missions/leo_report.script", space, out=out, workers=1,
    ...            progress=False)
    >>> def rows(outputs, params):
    ...     return {"rows": len(outputs["RF"])}
    >>> sweep = xs.derive(out, rows, workers=1, progress=False)
    >>> xs.open_sweep(out)["rows"].values.tolist()
    [8.0, 8.0]
    >>> def typo(outputs, params):
    ...     return {"lowest": outputs["RF"]["Sat.Altitude"].min()}
    >>> xs.derive(out, typo, workers=1, progress=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    xsweep.core.errors.DeriveError: ...typo failed on run 0: KeyError: 'Sat.Altitude'. Nothing...
    >>> sweep = xs.derive(out, "rows", drop=True)
    >>> "rows" in xs.open_sweep(out)
    False
    """
    directory = _directory(path, out)
    if drop:
        return _drop(directory, functions)
    ex = ExecutionOptions.of(
        {"client": client, "workers": workers, "timeout": timeout, "progress": progress,
         "consolidate": consolidate, "cluster_kwargs": cluster_kwargs,
         "cluster_timeout": cluster_timeout},
        defaults=RESUME_DEFAULTS, caller="derive",
    )  # fmt: skip
    session = Session(ex)
    with disk_full_is_resumable(directory), ManifestWriter(directory) as writer:
        manifest, opts, space = reopen(writer, session.given())
        given = resolve(functions)
        ok = sorted(r for r, rec in manifest.runs.items() if rec.status == "ok")
        if not (ok and given):
            settle_derive(writer, manifest, functions, warn=False)
            return Sweep(directory)
        with session.cluster(opts, directory) as cluster:
            cluster.start_workers(len(ok) // DERIVE_BATCH + 1)
            if check:
                try_first(cluster, opts, writer.dir, manifest, space, given)
            settled, _ = settle_derive(writer, manifest, functions, warn=False)
            refs = {f.ref for f in given}
            todo = needs_deriving(manifest, [f for f in settled if f.ref in refs], every=True)
            derive_finished(writer, space, opts, cluster, todo, session)
    return Sweep(directory)


def _directory(path: str | os.PathLike[str], out: str | os.PathLike[str] | None) -> Path:
    source = Path(path).expanduser()
    if source.is_file():
        if out is None:
            raise ConfigError(f"{source} is a bundle: pass out= to unpack it into and derive there")
        from xsweep.pack.archive import extract

        source = extract(source, out)
    elif out is not None:
        raise ConfigError("out= is for deriving from a bundle; a sweep directory derives in place")
    return sweep_dir(source)


def try_first(
    cluster: Cluster,
    opts: Options,
    root: Path,
    manifest: Manifest,
    space: Space,
    functions: Sequence[DeriveFunction],
) -> None:
    """Call ``functions`` on the sweep's first ok run; raise :class:`DeriveError` if one fails.

    The run's results are checked against the store as the sweep's would be
    (a name the sweep uses is refused), and nothing is recorded.
    """
    rec = manifest.runs[min(r for r, rec in manifest.runs.items() if rec.status == "ok")]
    client = cluster.start_workers()
    limit = FLOOR_S if opts.timeout in ("auto", None) else float(opts.timeout)
    future = client.submit(
        execute_derive,
        [run_item(str(root), rec)],
        tuple(functions),
        engine=opts.engine,
        gmat_root=opts.gmat_root,
        timeout=limit,
        key=f"{DERIVE_PREFIX}-check-{uuid.uuid4().hex[:8]}",
        pure=False,
    )
    try:
        [(_, results)] = future.result(timeout=limit + _CHECK_SLACK_S)
    except TimeoutError:
        future.cancel()
        raise DeriveError(
            f"the derive functions did not finish on run {rec.run_id} within "
            f"{limit + _CHECK_SLACK_S:.0f} s; nothing was recorded",
            rec.run_id,
            {},
        ) from None
    schema = derived_schema(manifest, space, (f.ref for f in functions))
    errors = {r.fn: str(r.error) for r in schema.check(results) if not r.ok}
    if errors:
        said = "; ".join(f"{fn} failed on run {rec.run_id}: {e}" for fn, e in errors.items())
        raise DeriveError(
            f"{said}. Nothing was recorded: fix the function and derive again "
            "(check=False derives anyway)",
            rec.run_id,
            errors,
        )


def _drop(directory: Path, functions: Any) -> Sweep:
    """Take derive functions and their values out of a sweep; rebuild its store."""
    with ManifestWriter(directory) as writer:
        manifest = writer.manifest
        assert manifest is not None
        refs = _recorded_refs(manifest, functions)
        entries = [dict(e) for e in manifest.derive if str(e["fn"]) not in refs]
        writer.append_derive(entries)
        manifest.derive = entries
        changed = (_without(rec, refs) for rec in manifest.runs.values())
        for chunk in itertools.batched((r for r in changed if r is not None), 4096):
            writer.append_many(list(chunk))
            manifest.runs.update({r.run_id: r for r in chunk})
        space = Space.from_dict(manifest.space, verify=False)
        build(directory, space, manifest.header, manifest.runs, None)
    return Sweep(directory)


def _without(rec: RunRecord, refs: set[str]) -> RunRecord | None:
    """Return ``rec`` without the results of ``refs`` (None if it had none)."""
    kept = tuple(d for d in rec.outcome.derived if d.fn not in refs)
    if len(kept) == len(rec.outcome.derived):
        return None
    return replace(rec, outcome=replace(rec.outcome, derived=kept))


def _recorded_refs(manifest: Manifest, functions: Any) -> set[str]:
    """Return the references of the recorded functions ``functions`` names."""
    recorded = [str(e["fn"]) for e in manifest.derive]
    items = [functions] if isinstance(functions, str) or callable(functions) else list(functions)
    refs: set[str] = set()
    for item in items:
        ref = _ref_of(manifest, item, recorded)
        if ref not in recorded:
            raise ConfigError(
                f"{item!r} is not a derive function of this sweep; it records {recorded}"
            )
        refs.add(ref)
    return refs


def _ref_of(manifest: Manifest, item: Any, recorded: Iterable[str]) -> str:
    """Return the function reference ``item`` names: a function, a reference, or a value name."""
    if not isinstance(item, str):
        return resolve([item])[0].ref
    if item in recorded or ":" in item:
        return item
    for rec in manifest.runs.values():  # a value's name: the function that gave it
        for result in rec.outcome.derived:
            if item in result.values:
                return result.fn
    return item
