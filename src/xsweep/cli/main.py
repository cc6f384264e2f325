"""The ``xsweep`` command line, built on the public Python API only.

Exit codes: 0 every run ok (or the command succeeded), 1 some runs failed or
are pending, or the cluster was lost mid-sweep (``verify``: the bundle has
problems), 2 usage or configuration error (one line on stderr, nothing
written), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from xsweep.analysis.inspect import first_line
from xsweep.cli.flags import DERIVE_KEYWORDS
from xsweep.cli.parser import EXIT_USAGE, build_parser
from xsweep.cli.show import (
    EXIT_FAILED,
    EXIT_OK,
    _cmd_fields,
    _cmd_show,
    _counts_line,
    _derive_line,
    _problem_lines,
    output_problems,
)
from xsweep.cli.spaces import (
    SpecError,
    build_space,
    parse_grid,
    parse_scripts,
    parse_storage_options,
    run_scripts,
    script_option,
)
from xsweep.core.errors import ClusterStartError, ObjectStoreError, SweepAbortedError, XsweepError
from xsweep.core.options import EXTEND_DEFAULTS, RESUME_DEFAULTS, RUN_DEFAULTS

if TYPE_CHECKING:
    pass

EXIT_INTERRUPTED = 130


# --- commands --------------------------------------------------------------------------


def _execution(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """Return the execution keywords ``names`` the options set (None: the default, or recorded)."""
    given = {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
    if "derive" in given:
        given["derive"] = _derive_here(given["derive"])
    if "storage_options" in given:
        given["storage_options"] = parse_storage_options(given["storage_options"])
    return given


def _finish(sweep: Any) -> int:
    manifest = sweep.manifest  # read once: it can be long
    counts = manifest.counts()
    problems = output_problems(manifest)
    print(f"xsweep: {sweep.path}: {_counts_line(counts, problems)}")
    for line in _problem_lines(problems):
        print(line)
    if manifest.derive:
        print(f"  derived values: {_derive_line(sweep.derive_counts)}")
    reused = sum(rec.outcome.reused is not None for rec in manifest.runs.values())
    if reused:
        print(f"  {reused} runs reuse identical ok runs (linked, not run)")
    if counts["failed"] or counts["pending"]:
        for run_id, rec in sorted(manifest.failed().items())[:5]:
            print(f"  run {run_id}: {rec.outcome.reason}: {first_line(rec.outcome.error)}")
        print(f"  details: xsweep show {sweep.path}")
        return EXIT_FAILED
    return EXIT_OK


def _derive_here(functions: Sequence[str] | None) -> Sequence[str] | None:
    """Let ``--derive mod:fn`` import a module of the working directory, as ``python -m`` would."""
    if functions and os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    return functions


def _cmd_run(args: argparse.Namespace) -> int:
    from xsweep.gmat.child import GmatChild
    from xsweep.gmat.pool import close_spares, offer_child

    if args.client is None and args.isolation != "process":
        # The planning check's GMAT child boots while this process imports xarray and Dask.
        offer_child(GmatChild(args.engine or "auto", args.gmat_root, wait=False))
    _quiet_dask_tracebacks()  # after the child's start: Dask's import is ~0.2 s
    try:
        return _run_command(args)
    finally:
        close_spares()


def _run_command(args: argparse.Namespace) -> int:
    import xsweep as xs

    method = args.method or "monte_carlo"
    script, first = run_scripts(args.script, args.variants)
    space = build_space(
        grid=args.grid,
        fixed=args.fixed,
        zipped=args.zipped,
        perturb=args.perturb,
        perturb_block=args.perturb_block,
        n=args.n,
        seed=args.seed,
        method=method,
        table=getattr(args, "table", None),
        zip_dim=args.zip_dim,
        second_order=getattr(args, "second_order", False),
        script=first,
        engine=args.engine or "auto",
        gmat_root=args.gmat_root,
    )
    drawn = ("monte-carlo", "lhs", "qmc", "saltelli")
    if args.command in drawn and not (args.perturb or args.perturb_block):
        raise SpecError(f"{args.command} needs at least one --perturb FIELD=DIST and --n")
    sweep = xs.run(script, space, out=args.out, files=args.files, **_execution(args, RUN_DEFAULTS))
    return _finish(sweep)


def _cmd_resume(args: argparse.Namespace) -> int:
    import xsweep as xs

    sweep = xs.resume(
        args.dir,
        script=script_option(args.script),
        allow_script_drift=args.allow_script_drift,
        reparse=args.reparse,
        rederive=args.rederive,
        **_execution(args, RESUME_DEFAULTS),
    )
    return _finish(sweep)


def _cmd_refly(args: argparse.Namespace) -> int:

    import xsweep as xs
    from xsweep.core.records import now_iso

    names = {k: v for k, v in RESUME_DEFAULTS.items() if k != "keep"}
    runs = args.run if args.run is not None else args.where
    since = now_iso()
    sweep = xs.refly(args.dir, runs, allow_script_drift=args.allow_script_drift,
                     **_execution(args, names))  # fmt: skip
    differ = False
    for run_id, rec in sorted(sweep.manifest.runs.items()):
        verdict = rec.outcome.extra.get("refly")
        if verdict is None or rec.outcome.started < since:  # not flown by this command
            continue
        differ = differ or not verdict.get("same")
        what = ", ".join(verdict.get("differ", []))
        print(f"  run {run_id}: " + ("same as recorded" if verdict.get("same") else what))
    code = _finish(sweep)
    return EXIT_FAILED if differ else code


def _cmd_extend(args: argparse.Namespace) -> int:
    import xsweep as xs

    return _finish(
        xs.extend(
            args.dir,
            args.n,
            grid=parse_grid(args.grid) if args.grid else None,
            scripts=parse_scripts(args.variants) if args.variants else None,
            baseline=args.baseline,
            files=args.files,
            **_execution(args, EXTEND_DEFAULTS),
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
        **_execution(args, RESUME_DEFAULTS),
    )
    return _finish(sweep)


def _cmd_design(args: argparse.Namespace) -> int:
    import xsweep as xs
    from xsweep.cli.designs import EXECUTION, cmd_adapt, cmd_probability

    command = cmd_adapt if args.command == "adapt" else cmd_probability
    found = command(args, _execution(args, EXECUTION))
    sweep = found if isinstance(found, xs.Sweep) else xs.Sweep(found)
    code = _finish(sweep)
    # A design's failed runs are its data (the boundary's other side): only pending is not.
    return EXIT_OK if code == EXIT_FAILED and not sweep.counts["pending"] else code


def _cmd_derive(args: argparse.Namespace) -> int:
    import xsweep as xs

    functions = _derive_here(args.functions)
    sweep = xs.derive(args.dir, functions, out=args.out, **_execution(args, DERIVE_KEYWORDS))
    return _finish(sweep)


def _cmd_consolidate(args: argparse.Namespace) -> int:
    import xsweep as xs

    print(xs.consolidate(args.dir))
    return EXIT_OK


def _cmd_archive(args: argparse.Namespace) -> int:
    import xsweep as xs

    options = parse_storage_options(args.storage_options)
    print(
        xs.archive(args.dir, out=args.out, include_logs=args.include_logs,
                   overwrite=args.overwrite, storage_options=options)
    )  # fmt: skip
    return EXIT_OK


def _cmd_import(args: argparse.Namespace) -> int:
    import xsweep as xs

    sweep = xs.import_sweep(args.src, out=args.out, script=args.script,
                            consolidate=not args.no_consolidate,
                            progress=not args.no_progress)  # fmt: skip
    spec = sweep.manifest.header["imported"]["space"]
    counts = ", ".join(f"{n} {k}" for k, n in sweep.counts.items() if n)
    print(f"{sweep.path}: {sweep.manifest.n_runs} runs ({counts}); the space is {spec}")
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
    "refly": _cmd_refly,
    "extend": _cmd_extend,
    "derive": _cmd_derive,
    "extend-until": _cmd_extend_until,
    "adapt": _cmd_design,
    "probability": _cmd_design,
    "show": _cmd_show,
    "fields": _cmd_fields,
    "consolidate": _cmd_consolidate,
    "archive": _cmd_archive,
    "verify": _cmd_verify,
    "extract": _cmd_extract,
    "import": _cmd_import,
    "open": _cmd_open,
}


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # the Ctrl-C path: records what finished, stops the children


def _terminate_as_interrupt() -> None:
    """Make a SIGTERM (``kill``, a batch system's stop) leave the sweep as Ctrl-C does."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)


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
    if hasattr(args, "scheduler") and handler is not _cmd_run:  # on a Dask cluster
        _quiet_dask_tracebacks()
    try:
        _terminate_as_interrupt()
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
    except ObjectStoreError as exc:  # a bucket gone mid-session: what it holds is resumable
        where = getattr(args, "out", None) or getattr(args, "dir", None)
        print(f"xsweep {args.command}: error: {_one_line(exc)}; continue with: xsweep resume "
              f"{where}", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    except BrokenPipeError:  # the reader left (``| head``): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return EXIT_OK
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
