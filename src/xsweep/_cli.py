"""The ``xsweep`` command line, built on the public Python API only.

Exit codes: 0 every run ok (or the command succeeded), 1 some runs failed or
are pending, or the cluster was lost mid-sweep (``verify``: the bundle has
problems), 2 usage or configuration error (one line on stderr, nothing
written), 130 interrupted.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import logging
import math
import statistics
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from xsweep._errors import ConfigError, SweepAbortedError, XsweepError

if TYPE_CHECKING:
    import numpy as np
    import xarray as xr

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
_DISTRIBUTIONS = ("normal", "uniform", "lognormal")


class SpecError(ConfigError):
    """A malformed value in the command-line grammar (``FIELD=SPEC``, ``--perturb``)."""


# --- the grammar ---------------------------------------------------------------------


def parse_scalar(text: str) -> int | float | str:
    """Read one value: an integer, a float, or (anything else) a string."""
    text = text.strip()
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _number(text: str) -> int | float | None:
    value = parse_scalar(text)
    return value if isinstance(value, int | float) and text.strip() else None


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split ``FIELD=SPEC`` at its first ``=``."""
    field, sep, spec = text.partition("=")
    field = field.strip()
    if not sep or not field:
        raise SpecError(f"{option} {text!r}: expected FIELD=SPEC")
    if not spec.strip():
        raise SpecError(f"{option} {text!r}: no values after '='")
    return field, spec


def _range(field: str, parts: list[str]) -> np.ndarray:
    import numpy as np

    start, stop = _number(parts[0]), _number(parts[1])
    assert start is not None
    assert stop is not None
    num = parse_scalar(parts[2])
    if not isinstance(num, int) or num < 1:
        raise SpecError(f"{field}: start:stop:num needs a whole num >= 1, got {parts[2]!r}")
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise SpecError(f"{field}: start and stop must be finite, got {parts[0]!r}:{parts[1]!r}")
    if isinstance(start, int) and isinstance(stop, int):
        step, rest = divmod(stop - start, num - 1) if num > 1 else (0, 0)
        if rest == 0:  # whole-number steps between whole numbers stay integers
            return np.asarray([start + i * step for i in range(num)], dtype=np.int64)
    return np.linspace(float(start), float(stop), num)


def _from_file(field: str, path_text: str) -> Any:
    path = Path(path_text).expanduser()
    table = _read_table(path)
    if field in table.columns:
        return table[field].to_numpy()
    if len(table.columns) == 1:
        return table.iloc[:, 0].to_numpy()
    raise SpecError(
        f"{field}: {path} has columns {list(map(str, table.columns))}; "
        f"name one {field!r} or give a single column"
    )


def _read_table(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise SpecError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, skipinitialspace=True)
    except Exception as exc:
        raise SpecError(f"{path}: cannot read it as a table ({exc})") from None
    if table.empty:
        raise SpecError(f"{path}: the table has no rows")
    return table


def parse_values(field: str, spec: str) -> Any:
    """Read a value SPEC: ``start:stop:num``, ``v1,v2,...`` or ``@file.csv``.

    ``start:stop:num`` is ``numpy.linspace(start, stop, num)`` (inclusive); when
    ``start`` and ``stop`` are integers and the step is whole, the values are
    integers. A list is split like one CSV row (quote a value holding a comma);
    each item is an integer, a float, or else a string. ``@file`` reads a CSV
    (or ``.parquet``) file's column named ``field``, or its only column.

    Examples
    --------
    >>> parse_values("Sat.SMA", "7000:7200:3").tolist()
    [7000, 7100, 7200]
    >>> parse_values("Sat.ECC", "0:1:3").tolist()
    [0.0, 0.5, 1.0]
    >>> parse_values("Sat.INC", "28.5,51.6,98")
    [28.5, 51.6, 98]
    >>> parse_values("Sat.Epoch", '"01 Jan 2026 00:00:00.000"')
    ['01 Jan 2026 00:00:00.000']
    """
    text = spec.strip()
    if text.startswith("@"):
        return _from_file(field, text[1:])
    parts = text.split(":")
    if len(parts) == 3 and _number(parts[0]) is not None and _number(parts[1]) is not None:
        return _range(field, parts)
    try:
        rows = list(csv.reader([text], skipinitialspace=True, strict=True))
    except csv.Error as exc:
        raise SpecError(f"{field}={spec!r}: not a comma-separated list ({exc})") from None
    items = rows[0] if len(rows) == 1 else []
    if not items or any(not item.strip() for item in items):
        raise SpecError(f"{field}={spec!r}: empty value in the list")
    return [parse_scalar(item) for item in items]


def parse_perturb(text: str) -> tuple[str, tuple[str, float, float]]:
    """Read ``FIELD=normal:MU:SIGMA`` (or ``uniform:LO:HI``, ``lognormal:MU:SIGMA``).

    Examples
    --------
    >>> parse_perturb("Sat.SMA=normal:7000:5")
    ('Sat.SMA', ('normal', 7000.0, 5.0))
    """
    field, spec = parse_assignment(text, "--perturb")
    name, *params = (p.strip() for p in spec.split(":"))
    if name not in _DISTRIBUTIONS:
        raise SpecError(
            f"--perturb {text!r}: unknown distribution {name!r}; expected one of "
            f"{', '.join(_DISTRIBUTIONS)} (normal:MU:SIGMA, uniform:LO:HI, lognormal:MU:SIGMA)"
        )
    numbers = [_number(p) for p in params]
    if len(params) != 2 or any(n is None for n in numbers):
        raise SpecError(f"--perturb {text!r}: expected {name}:A:B with two numbers")
    a, b = (float(n) for n in numbers if n is not None)
    return field, (name, a, b)


def build_space(
    *,
    grid: Sequence[str] = (),
    zipped: Sequence[str] = (),
    perturb: Sequence[str] = (),
    n: int | None = None,
    seed: int | None = None,
    method: str = "monte_carlo",
    table: str | None = None,
    zip_dim: str = "zip",
) -> xr.Dataset:
    """Build the space the command-line options describe, with the Python API.

    ``--grid`` fields are full-factorial dims; ``--zip`` fields vary together
    on ``zip_dim``; ``--perturb`` fields are drawn (``n`` samples, ``method``)
    on ``sample``; a ``--table`` gives explicit rows on ``sample``. The parts
    are merged (every combination of them).
    """
    import xarray as xr

    import xsweep as xs

    seen: set[str] = set()

    def take(field: str) -> str:
        if field in seen:
            raise SpecError(f"{field} is given twice")
        seen.add(field)
        return field

    parts: list[xr.Dataset] = []
    grid_fields: dict[str, Any] = {}
    for text in grid:
        field, spec = parse_assignment(text, "--grid")
        grid_fields[take(field)] = parse_values(field, spec)
    if grid_fields:
        parts.append(xs.grid(grid_fields))
    zip_fields: dict[str, Any] = {}
    for text in zipped:
        field, spec = parse_assignment(text, "--zip")
        zip_fields[take(field)] = parse_values(field, spec)
    if zip_fields:
        parts.append(xs.samples(zip_fields, dim=zip_dim))
    if table is not None:
        frame = _read_table(Path(table).expanduser())
        for column in frame.columns:
            take(str(column))
        parts.append(xs.samples(frame))
    dists: dict[str, Any] = {}
    for text in perturb:
        field, dist = parse_perturb(text)
        dists[take(field)] = dist
    if dists:
        if n is None:
            raise SpecError("--perturb needs --n (the number of samples)")
        make = xs.monte_carlo if method == "monte_carlo" else xs.latin_hypercube
        parts.append(make(n, dists, seed=seed))
    elif n is not None:
        raise SpecError("--n needs at least one --perturb field to draw")
    elif seed is not None:
        raise SpecError("--seed needs at least one --perturb field to draw")
    if not parts:
        raise SpecError("no parameters: give --grid, --zip, --perturb or --table")
    return parts[0] if len(parts) == 1 else xr.merge(parts, combine_attrs="no_conflicts")


# --- argument parsing ----------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    value = parse_scalar(text)
    if not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _count(text: str) -> int:
    value = parse_scalar(text)
    if not isinstance(value, int) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _seconds(text: str) -> float:
    value = parse_scalar(text)
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return float(value)


def _subparser(sub: Any, name: str, summary: str, example: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="example:\n" + textwrap.indent(textwrap.dedent(example).strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _execution_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("execution")
    where = group.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_positive_int,
        help="worker processes of the local cluster (default: one per core, at most one per task)",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786)"
    )
    group.add_argument("--isolation", choices=("worker", "process"), help="GMAT isolation per run")
    group.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="kill a run past this")
    group.add_argument("--retries", type=_count, metavar="N", help="retries of a crashed run")
    group.add_argument("--engine", choices=("auto", "embedded", "desktop"), help="GMAT engine")
    group.add_argument("--gmat-root", metavar="PATH", help="desktop GMAT install root")
    group.add_argument("--runs-per-task", type=_positive_int, metavar="N", help="runs per task")
    group.add_argument("--keep-raw", action="store_true", default=None, help="keep GMAT's files")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument(
        "--no-store", action="store_true", help="do not keep sweep.zarr up to date while running"
    )


def _space_options(parser: argparse.ArgumentParser, *, table: bool = False) -> None:
    group = parser.add_argument_group("parameter space")
    group.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=SPEC",
        help="a grid axis; SPEC is start:stop:num (inclusive), v1,v2,... or @file.csv",
    )
    group.add_argument(
        "--zip",
        action="append",
        default=[],
        dest="zipped",
        metavar="FIELD=SPEC",
        help="fields that vary together (equal lengths), on one dim",
    )
    group.add_argument("--zip-dim", default="zip", metavar="DIM", help="the --zip dim's name")
    group.add_argument(
        "--perturb",
        action="append",
        default=[],
        metavar="FIELD=DIST",
        help="a random field: normal:MU:SIGMA, uniform:LO:HI or lognormal:MU:SIGMA",
    )
    group.add_argument("--n", type=_positive_int, help="number of random samples")
    group.add_argument("--seed", type=_count, help="random seed (default: fresh entropy)")
    if table:
        group.add_argument(
            "--table", required=True, metavar="FILE", help="runs.csv or runs.parquet"
        )


def build_parser() -> argparse.ArgumentParser:
    """Return the ``xsweep`` argument parser."""
    parser = _Parser(
        prog="xsweep",
        description="Parameter sweeps over GMAT mission scripts, on Dask.",
        epilog=(
            "exit codes: 0 all runs ok, 1 some runs failed or pending (or the cluster was lost), "
            "2 usage or configuration error, 130 interrupted. "
            "'xsweep COMMAND --help' shows a command's options and an example."
        ),
    )
    from xsweep._version import __version__

    parser.add_argument("--version", action="version", version=f"xsweep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    runners = {
        "run": (
            "Run a grid (optionally zipped fields, or mixed with random fields).",
            """
            xsweep run mission.script --grid Sat.SMA=7000:7400:5 --grid Sat.INC=28.5,98 \\
                --out sweep/
            """,
        ),
        "monte-carlo": (
            "Run a Monte Carlo space: N random draws (optionally crossed with a grid).",
            """
            xsweep monte-carlo mission.script --n 200 --perturb Sat.SMA=normal:7000:5 \\
                --perturb Sat.INC=uniform:28:29 --seed 7 --out mc/
            """,
        ),
        "lhs": (
            "Run a Latin hypercube space: N stratified draws (optionally crossed with a grid).",
            """
            xsweep lhs mission.script --n 50 --perturb Sat.SMA=uniform:6900:7300 --seed 1 \\
                --out lhs/
            """,
        ),
        "samples": (
            "Run explicit rows from a table: one column per field, one row per run.",
            """
            xsweep samples mission.script --table runs.csv --out rows/
            """,
        ),
    }
    for name, (summary, example) in runners.items():
        p = _subparser(sub, name, summary, example)
        p.add_argument("script", help="the GMAT mission script")
        p.add_argument("--out", required=True, metavar="DIR", help="the sweep directory to create")
        _space_options(p, table=name == "samples")
        _execution_options(p)
        p.set_defaults(handler=_cmd_run, method="latin_hypercube" if name == "lhs" else None)

    p = _subparser(
        sub,
        "resume",
        "Finish a sweep: rerun its failed and never-recorded runs only.",
        "xsweep resume sweep/",
    )
    p.add_argument("dir", help="the sweep directory")
    p.add_argument("--script", metavar="PATH", help="run this script instead of the recorded one")
    p.add_argument(
        "--allow-script-drift", action="store_true", help="accept a script whose hash differs"
    )
    _execution_options(p)
    p.set_defaults(handler=_cmd_resume)

    p = _subparser(
        sub,
        "extend",
        "Add N samples to a Monte Carlo or Latin hypercube sweep and run them.",
        "xsweep extend mc/ --n 100",
    )
    p.add_argument("dir", help="the sweep directory")
    p.add_argument("--n", type=_positive_int, required=True, help="samples to add")
    _execution_options(p)
    p.set_defaults(handler=_cmd_extend)

    p = _subparser(
        sub,
        "show",
        "Summarise a sweep (also a running one, or a bundle): fingerprint, status, failures.",
        "xsweep show sweep/ --json",
    )
    p.add_argument("dir", help="the sweep directory or bundle zip")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--failed", type=_count, default=10, metavar="N", help="failed runs to list")
    p.set_defaults(handler=_cmd_show)

    p = _subparser(
        sub,
        "consolidate",
        "Rebuild a sweep's Zarr store from its Parquet.",
        "xsweep consolidate sweep/",
    )
    p.add_argument("dir", help="the sweep directory")
    p.set_defaults(handler=_cmd_consolidate)

    p = _subparser(
        sub,
        "archive",
        "Pack a sweep into one deterministic, verifiable zip.",
        "xsweep archive sweep/ --out sweep.zip",
    )
    p.add_argument("dir", help="the sweep directory")
    p.add_argument("--out", metavar="FILE", help="the zip (default: DIR.zip beside DIR)")
    p.add_argument("--include-logs", action="store_true", help="include each run's gmat.log")
    p.add_argument("--overwrite", action="store_true", help="replace an existing zip")
    p.set_defaults(handler=_cmd_archive)

    p = _subparser(
        sub,
        "verify",
        "Check every member of a bundle against its hashes.",
        "xsweep verify sweep.zip",
    )
    p.add_argument("file", help="the bundle zip")
    p.set_defaults(handler=_cmd_verify)

    p = _subparser(
        sub,
        "extract",
        "Unpack a bundle safely (hashes checked) into a sweep directory.",
        "xsweep extract sweep.zip copy/ && xsweep resume copy/",
    )
    p.add_argument("file", help="the bundle zip")
    p.add_argument("dest", help="the sweep directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing directory")
    p.set_defaults(handler=_cmd_extract)

    p = _subparser(
        sub,
        "open",
        "Open a sweep's store (directory or bundle) and print the Dataset summary.",
        "xsweep open sweep.zip --group RF",
    )
    p.add_argument("dir", help="the sweep directory or bundle zip")
    p.add_argument("--group", help="one output (RF, reports/RF)")
    p.add_argument("--verify", action="store_true", help="verify a bundle fully first")
    p.set_defaults(handler=_cmd_open)
    return parser


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
    kwargs.update(progress=not args.no_progress, consolidate=not args.no_store)
    return kwargs


def _finish(sweep: Any) -> int:
    manifest = sweep.manifest  # read once: it can be long
    counts = manifest.counts()
    print(
        f"xsweep: {sweep.path}: {counts['ok']} ok, {counts['failed']} failed, "
        f"{counts['pending']} pending"
    )
    if counts["failed"] or counts["pending"]:
        for run_id, rec in sorted(manifest.failed().items())[:5]:
            print(f"  run {run_id}: {rec['reason']}: {_first_line(rec.get('error'))}")
        print(f"  details: xsweep show {sweep.path}")
        return EXIT_FAILED
    return EXIT_OK


def _first_line(text: Any) -> str:
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[0] if lines else ""


def _cmd_run(args: argparse.Namespace) -> int:
    import xsweep as xs

    method = args.method or "monte_carlo"
    space = build_space(
        grid=args.grid,
        zipped=args.zipped,
        perturb=args.perturb,
        n=args.n,
        seed=args.seed,
        method=method,
        table=getattr(args, "table", None),
        zip_dim=args.zip_dim,
    )
    if args.command in ("monte-carlo", "lhs") and not args.perturb:
        raise SpecError(f"{args.command} needs at least one --perturb FIELD=DIST and --n")
    return _finish(xs.run(args.script, space, out=args.out, **_execution(args, fresh=True)))


def _cmd_resume(args: argparse.Namespace) -> int:
    import xsweep as xs

    sweep = xs.resume(
        args.dir,
        script=args.script,
        allow_script_drift=args.allow_script_drift,
        **_execution(args, fresh=False),
    )
    return _finish(sweep)


def _cmd_extend(args: argparse.Namespace) -> int:
    import xsweep as xs

    return _finish(xs.extend(args.dir, args.n, **_execution(args, fresh=False)))


def summary(path: str, *, failed_limit: int = 10) -> dict[str, Any]:
    """Describe a sweep directory or bundle as ``xsweep show`` prints it."""
    import xsweep as xs
    from xsweep._manifest import lock_owner

    sweep = xs.Sweep(path)
    manifest = sweep.manifest
    header = manifest.header
    durations = [
        float(r["duration_s"])
        for r in manifest.runs.values()
        if isinstance(r.get("duration_s"), int | float)
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
            {"run_id": rid, "reason": rec.get("reason"), "error": _first_line(rec.get("error"))}
            for rid, rec in failed[:failed_limit]
        ],
        "failed_not_listed": max(0, len(failed) - failed_limit),
    }


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
    print(f"status     {counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending")
    d = info["duration_s"]
    if d["runs"]:
        print(
            f"duration   per run min {d['min']:.3f} s, median {d['median']:.3f} s, "
            f"mean {d['mean']:.3f} s, max {d['max']:.3f} s; total {d['total']:.1f} s"
        )
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
    import xsweep as xs

    print(xs.open_sweep(args.dir, group=args.group, verify=args.verify))
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xsweep`` command line; return its exit code.

    Examples
    --------
    >>> main(["show", "no/such/sweep"])  # prints "xsweep show: error: ..." on stderr
    2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    if hasattr(args, "scheduler"):  # the commands that run on a Dask cluster
        _quiet_dask_tracebacks()
    try:
        return handler(args)
    except KeyboardInterrupt:
        where = getattr(args, "out", None) or getattr(args, "dir", None)
        hint = f"; continue with: xsweep resume {where}" if where and args.command != "open" else ""
        print(f"xsweep {args.command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
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
