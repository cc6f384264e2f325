"""The ``xsweep`` command line, built on the public Python API only.

Exit codes: 0 every run ok (or the command succeeded), 1 some runs failed or
are pending, or the cluster was lost mid-sweep (``verify``: the bundle has
problems), 2 usage or configuration error (one line on stderr, nothing
written), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from xsweep._cli_parser import EXIT_USAGE, build_parser
from xsweep._cli_space import SpecError, build_space, parse_grid
from xsweep._errors import ClusterStartError, SweepAbortedError, XsweepError

if TYPE_CHECKING:
    pass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


# --- commands --------------------------------------------------------------------------


def _execution(args: argparse.Namespace, *, fresh: bool) -> dict[str, Any]:
    """Return the keyword arguments of run/resume/extend that the options set."""
    given = {
        "client": args.scheduler,
        "workers": args.workers,
        "isolation": args.isolation,
        "timeout": args.timeout,
        "retries": args.retries,
        "engine": args.engine,
        "gmat_root": args.gmat_root,
        "runs_per_task": args.runs_per_task,
        "keep_raw": args.keep_raw,
    }
    # resume/extend take None as "as recorded"; run has plain defaults.
    kwargs = {k: v for k, v in given.items() if v is not None or not fresh}
    kwargs.update(
        progress=not args.no_progress,
        consolidate=not args.no_store,
        cluster_timeout=args.cluster_timeout,
    )
    return kwargs


def _finish(sweep: Any) -> int:
    manifest = sweep.manifest  # read once: it can be long
    counts = manifest.counts()
    problems = output_problems(manifest)
    print(f"xsweep: {sweep.path}: {_counts_line(counts, problems)}")
    for line in _problem_lines(problems):
        print(line)
    if manifest.derive:
        print(f"  derived values: {_derive_line(sweep.derive_counts)}")
    if counts["failed"] or counts["pending"]:
        for run_id, rec in sorted(manifest.failed().items())[:5]:
            print(f"  run {run_id}: {rec.outcome.reason}: {_first_line(rec.outcome.error)}")
        print(f"  details: xsweep show {sweep.path}")
        return EXIT_FAILED
    return EXIT_OK


def _derive_here(functions: Sequence[str] | None) -> Sequence[str] | None:
    """Let ``--derive mod:fn`` import a module of the working directory, as ``python -m`` would."""
    if functions and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return functions


def _derive_line(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n or k == "ok") + " (ok runs)"


def _first_line(text: Any) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def _cmd_run(args: argparse.Namespace) -> int:
    from xsweep.gmat.child import GmatChild, close_spares, offer_child

    if args.scheduler is None and args.isolation != "process":
        # The planning check's GMAT child boots while this process imports xarray and Dask.
        offer_child(GmatChild(args.engine or "auto", args.gmat_root, wait=False))
    try:
        return _run_command(args)
    finally:
        close_spares()


def _run_command(args: argparse.Namespace) -> int:
    import xsweep as xs

    method = args.method or "monte_carlo"
    space = build_space(
        grid=args.grid,
        zipped=args.zipped,
        perturb=args.perturb,
        perturb_block=args.perturb_block,
        n=args.n,
        seed=args.seed,
        method=method,
        table=getattr(args, "table", None),
        zip_dim=args.zip_dim,
        second_order=getattr(args, "second_order", False),
        script=args.script,
        engine=args.engine or "auto",
        gmat_root=args.gmat_root,
    )
    drawn = ("monte-carlo", "lhs", "qmc", "saltelli")
    if args.command in drawn and not (args.perturb or args.perturb_block):
        raise SpecError(f"{args.command} needs at least one --perturb FIELD=DIST and --n")
    kwargs = _execution(args, fresh=True)
    sweep = xs.run(
        args.script,
        space,
        out=args.out,
        files=args.files,
        derive=_derive_here(args.derive),
        **kwargs,
    )
    return _finish(sweep)


def _cmd_resume(args: argparse.Namespace) -> int:
    import xsweep as xs

    sweep = xs.resume(
        args.dir,
        script=args.script,
        allow_script_drift=args.allow_script_drift,
        reparse=args.reparse,
        derive=_derive_here(args.derive),
        rederive=args.rederive,
        **_execution(args, fresh=False),
    )
    return _finish(sweep)


def _cmd_extend(args: argparse.Namespace) -> int:
    import xsweep as xs

    return _finish(
        xs.extend(
            args.dir,
            args.n,
            grid=parse_grid(args.grid) if args.grid else None,
            derive=_derive_here(args.derive),
            **_execution(args, fresh=False),
        )
    )


def _cmd_extend_until(args: argparse.Namespace) -> int:
    import xsweep as xs

    sweep = xs.extend_until(
        args.dir,
        args.var,
        rtol=args.rtol,
        batch=args.batch,
        max_runs=args.max_runs,
        **_execution(args, fresh=False),
    )
    return _finish(sweep)


def _cmd_derive(args: argparse.Namespace) -> int:
    import xsweep as xs

    kwargs = _execution(args, fresh=True)
    given = {k: kwargs.pop(k) for k in ("client", "workers", "timeout") if k in kwargs}
    sweep = xs.derive(
        args.dir,
        _derive_here(args.functions),
        out=args.out,
        progress=kwargs["progress"],
        consolidate=kwargs["consolidate"],
        cluster_timeout=kwargs["cluster_timeout"],
        **given,
    )
    return _finish(sweep)


def summary(path: str, *, failed_limit: int = 10) -> dict[str, Any]:
    """Describe a sweep directory or bundle as ``xsweep show`` prints it."""
    import xsweep as xs
    from xsweep._manifest import lock_owner

    sweep = xs.Sweep(path)
    manifest = sweep.manifest
    header = manifest.header
    durations = [
        r.outcome.duration_s for r in manifest.runs.values() if math.isfinite(r.outcome.duration_s)
    ]
    failed = sorted(manifest.failed().items())
    running = None if sweep.is_bundle else lock_owner(sweep.path)
    return {
        "path": str(sweep.path),
        "bundle": sweep.is_bundle,
        "running": running,
        "sweep_id": header["sweep_id"],
        "created": header.get("created"),
        "script": header["script"].get("name"),
        "script_sha256": header["script_sha256"],
        "dims": dict(manifest.space.get("dims", {})),
        "n_runs": manifest.n_runs,
        "counts": manifest.counts(),
        "engine": header.get("engine", {}),
        "versions": {
            k: header.get("versions", {}).get(k) for k in ("gmat-xsweep", "gmat-run", "gmatpy")
        },
        "duration_s": {
            "runs": len(durations),
            "min": min(durations) if durations else None,
            "median": statistics.median(durations) if durations else None,
            "mean": statistics.fmean(durations) if durations else None,
            "max": max(durations) if durations else None,
            "total": math.fsum(durations),
        },
        "failed": [
            {"run_id": rid, "reason": rec.outcome.reason, "error": _first_line(rec.outcome.error)}
            for rid, rec in failed[:failed_limit]
        ],
        "failed_not_listed": max(0, len(failed) - failed_limit),
        "output_problems": output_problems(manifest),
        "derive": {
            "functions": [str(e.get("fn")) for e in manifest.derive],
            "counts": sweep.derive_counts if manifest.derive else {},
        },
    }


def output_problems(manifest: Any) -> list[dict[str, Any]]:
    """Group the ok runs' unwritten outputs by output and status: runs, first message."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for _, p in manifest.output_problems():
        entry = groups.setdefault(
            (p.kind, p.name, p.status),
            {"kind": p.kind, "name": p.name, "status": p.status, "runs": 0, "error": p.error},
        )
        entry["runs"] += 1
    return [groups[k] for k in sorted(groups)]


def _problem_lines(problems: list[dict[str, Any]]) -> list[str]:
    return [
        f"  {p['kind']} {p['name']}: {p['status']} in {p['runs']} runs: {_first_line(p['error'])}"
        for p in problems
    ]


def _counts_line(counts: dict[str, int], problems: list[dict[str, Any]]) -> str:
    line = f"{counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending"
    by_status: dict[str, int] = {}
    for p in problems:
        by_status[p["status"]] = by_status.get(p["status"], 0) + p["runs"]
    extra = ", ".join(f"{n} outputs {status}" for status, n in sorted(by_status.items()))
    return f"{line}; {extra}" if extra else line


def _print_summary(info: dict[str, Any]) -> None:
    counts = info["counts"]
    state = "idle"
    if info["bundle"]:
        state = "bundle"
    elif info["running"]:
        state = f"running ({info['running']})"
    dims = " x ".join(f"{d}={n}" for d, n in info["dims"].items())
    engine = info["engine"]
    print(f"sweep      {info['path']} ({state})")
    print(f"id         {info['sweep_id']}, created {info['created']}")
    print(f"script     {info['script']} sha256 {info['script_sha256']}")
    print(f"space      {dims}: {info['n_runs']} runs")
    print(f"engine     GMAT {engine.get('gmat_version')} ({engine.get('kind')})")
    print("versions   " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
    print(f"status     {_counts_line(counts, info['output_problems'])}")
    d = info["duration_s"]
    if d["runs"]:
        print(
            f"duration   per run min {d['min']:.3f} s, median {d['median']:.3f} s, "
            f"mean {d['mean']:.3f} s, max {d['max']:.3f} s; total {d['total']:.1f} s"
        )
    if info["derive"]["functions"]:
        print(f"derived    {_derive_line(info['derive']['counts'])}")
        for fn in info["derive"]["functions"]:
            print(f"  {fn}")
    if info["output_problems"]:
        print("outputs not written (runs ok)")
        print("\n".join(_problem_lines(info["output_problems"])))
    if info["failed"]:
        print("failed")
        for f in info["failed"]:
            print(f"  run {f['run_id']}: {f['reason']}: {f['error']}")
        if info["failed_not_listed"]:
            print(f"  ... and {info['failed_not_listed']} more")


def _cmd_show(args: argparse.Namespace) -> int:
    info = summary(args.dir, failed_limit=args.failed)
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_summary(info)
    counts = info["counts"]
    return EXIT_FAILED if counts["failed"] or counts["pending"] else EXIT_OK


def _cmd_consolidate(args: argparse.Namespace) -> int:
    import xsweep as xs

    print(xs.consolidate(args.dir))
    return EXIT_OK


def _cmd_archive(args: argparse.Namespace) -> int:
    import xsweep as xs

    print(
        xs.archive(args.dir, out=args.out, include_logs=args.include_logs, overwrite=args.overwrite)
    )
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    import xsweep as xs

    report = xs.verify(args.file)
    if report.ok:
        print(f"{report.path}: ok, {report.checked} members match MANIFEST.hash")
        return EXIT_OK
    for line in report.problems():
        print(line)
    print(f"{report.path}: {len(report.problems())} problems", file=sys.stderr)
    return EXIT_FAILED


def _cmd_extract(args: argparse.Namespace) -> int:
    import xsweep as xs

    print(xs.extract(args.file, args.dest, overwrite=args.overwrite))
    return EXIT_OK


def _cmd_open(args: argparse.Namespace) -> int:
    import xarray as xr

    import xsweep as xs

    ds = xs.open_sweep(args.dir, group=args.group, verify=args.verify)
    # Every variable, none folded into "...": the store lists them in no fixed order.
    with xr.set_options(display_max_rows=len(ds.variables) + 1):  # type: ignore[no-untyped-call]
        print(ds)
    return EXIT_OK


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class _NoTracebacks(logging.Filter):
    """Shorten Dask's logged exceptions to one line each on the terminal.

    A lost scheduler makes the client log several chained tracebacks before
    xsweep's own one-line error says what happened and what to do.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            said = " ".join(f"{record.getMessage()} {type(exc).__name__}: {exc}".split())
            record.msg = said.removesuffix(":")
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def _quiet_dask_tracebacks() -> None:
    import distributed  # noqa: F401  (gives the "distributed" and "tornado" loggers handlers)

    dask_side = ("distributed", "tornado")
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.name.startswith(dask_side):
            for handler in logger.handlers:
                if not any(isinstance(f, _NoTracebacks) for f in handler.filters):
                    handler.addFilter(_NoTracebacks())


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run,
    "monte-carlo": _cmd_run,
    "lhs": _cmd_run,
    "qmc": _cmd_run,
    "saltelli": _cmd_run,
    "samples": _cmd_run,
    "resume": _cmd_resume,
    "extend": _cmd_extend,
    "derive": _cmd_derive,
    "extend-until": _cmd_extend_until,
    "show": _cmd_show,
    "consolidate": _cmd_consolidate,
    "archive": _cmd_archive,
    "verify": _cmd_verify,
    "extract": _cmd_extract,
    "open": _cmd_open,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xsweep`` command line; return its exit code.

    Examples
    --------
    >>> main(["show", "no/such/sweep"])  # prints "xsweep show: error: ..." on stderr
    2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = _HANDLERS[args.command]
    if hasattr(args, "scheduler"):  # the commands that run on a Dask cluster
        _quiet_dask_tracebacks()
    try:
        return handler(args)
    except KeyboardInterrupt:
        where = getattr(args, "out", None) or getattr(args, "dir", None)
        hint = f"; continue with: xsweep resume {where}" if where and args.command != "open" else ""
        print(f"xsweep {args.command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ClusterStartError as exc:  # nothing ran, nothing was written: like a lost cluster
        print(f"xsweep {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAILED
    except SweepAbortedError as exc:  # runs are recorded and more are pending: like 1
        print(
            f"xsweep {args.command}: error: {exc.reason}; finished runs are recorded; "
            f"continue with: xsweep resume {exc.path}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    except (XsweepError, OSError) as exc:  # OSError: an unwritable --out, a full disk
        print(f"xsweep {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def console() -> NoReturn:
    """Entry point of the ``xsweep`` console script."""
    code = main()
    # Everything is written, closed and flushed by now: exit without the interpreter's
    # garbage collection of every module a sweep imported (~0.5 s after each command).
    gc.freeze()
    sys.exit(code)
