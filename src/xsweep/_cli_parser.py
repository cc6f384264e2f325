"""The ``xsweep`` argument parser: every command, its options, its help and example."""

from __future__ import annotations

import argparse
import math
import textwrap
from typing import Any, NoReturn

from xsweep._cli_space import parse_scalar
from xsweep._records import REASONS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    value = parse_scalar(text)
    if not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _runs_per_task(text: str) -> int | str:
    return "auto" if text == "auto" else _positive_int(text)


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


def _run_bound(text: str) -> float | str:
    return text if text in ("auto", "off") else _seconds(text)


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
        help="workers of the local cluster (default: one per core, at most one per task)",
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on an existing Dask cluster (tcp://host:8786)"
    )
    group.add_argument(
        "--cluster-timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="bound on the cluster's start-up (workers, scheduler, planning): default 60",
    )
    group.add_argument("--isolation", choices=("worker", "process"), help="GMAT isolation per run")
    group.add_argument("--timeout", type=_run_bound, metavar="SECONDS|auto|off",
                       help="kill a run past this (auto: max(600 s, 20x median run))")  # fmt: skip
    group.add_argument("--retries", type=_count, metavar="N", help="retries of a crashed run")
    group.add_argument("--engine", choices=("auto", "embedded", "desktop"), help="GMAT engine")
    group.add_argument("--gmat-root", metavar="PATH", help="desktop GMAT install root")
    group.add_argument(
        "--runs-per-task", type=_runs_per_task, metavar="N|auto", help="runs per task"
    )
    group.add_argument("--keep-raw", action="store_true", default=None, help="keep GMAT's files")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument(
        "--no-store", action="store_true", help="do not keep sweep.zarr up to date while running"
    )


def _storage_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage-option", action="append", default=[], dest="storage_options",
                        metavar="KEY=VALUE", help="for a sweep at a URL (s3://...): an fsspec "
                        "option, a.b=v nests (repeatable). A secret given here shows in the "
                        "process list (ps): prefer AWS_* variables or ~/.aws")  # fmt: skip


def _derive_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--derive",
        action="append",
        metavar="MODULE:FUNCTION",
        help="derive per-run values with this function, after each run (repeatable; see "
        "docs/derive.md)",
    )


def _reuse_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--reuse",
        action="store_const",
        const="content",
        help="link a run identical to an ok run (script hash, values, engine) instead of "
        "running it (see docs/space.md, reusing identical runs)",
    )
    parser.add_argument(
        "--reuse-from",
        action="append",
        default=[],
        metavar="DIR",
        help="with --reuse: a finished sweep whose ok runs may be linked (repeatable)",
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
    group.add_argument(
        "--perturb-block",
        action="append",
        default=[],
        metavar="FILE",
        help="correlated fields drawn jointly: fields, mean and cov from JSON, YAML or CSV; "
        "or spacecraft, frame (RIC) and cov around the script's nominal state",
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
    _sweep_commands(sub)
    _store_commands(sub)
    return parser


def _sweep_commands(sub: Any) -> None:
    """Add the commands that run GMAT: run, monte-carlo, lhs, samples, resume, extend."""
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
        "qmc": (
            "Run a quasi-random design (Sobol, Halton or LHS over all fields at once).",
            """
            xsweep qmc mission.script --n 64 --method sobol --perturb Sat.SMA=uniform:6900:7300 \\
                --perturb Sat.INC=normal:28.5:0.1 --seed 3 --out q/
            """,
        ),
        "saltelli": (
            "Run a Saltelli design for Sobol indices (N blocks of D + 2 runs; needs SALib).",
            """
            xsweep saltelli mission.script --n 32 --perturb Sat.Cd=uniform:1.8:2.6 \\
                --perturb Sat.DryMass=uniform:600:1100 --seed 1 --out sobol/
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
        p.add_argument("script", nargs="?", help="the GMAT mission script")
        p.add_argument(
            "--script",
            action="append",
            default=[],
            dest="variants",
            metavar="NAME=PATH",
            help="a script variant, instead of SCRIPT: the space runs once per variant, on a "
            "'script' dim (repeatable)",
        )
        p.add_argument("--out", required=True, metavar="DIR", help="the sweep directory to create")
        p.add_argument(
            "--file",
            action="append",
            default=[],
            dest="files",
            metavar="PATH",
            help="a side file the script reads, kept with the sweep (repeatable; "
            "#Include'd files are found without it)",
        )
        _space_options(p, table=name == "samples")
        if name == "qmc":
            p.add_argument(
                "--method", choices=("sobol", "halton", "lhs"), default="sobol",
                help="the point set (default sobol)",
            )  # fmt: skip
        if name == "saltelli":
            p.add_argument("--second-order", action="store_true", help="also the runs S2 needs")
        _derive_option(p)
        _reuse_options(p)
        _execution_options(p)
        _storage_option(p)
        if name != "qmc":
            p.set_defaults(method={"lhs": "latin_hypercube", "saltelli": "saltelli"}.get(name))
    _continue_commands(sub)


def _extend_command(sub: Any) -> None:
    """Add ``xsweep extend``: more samples, grid values or script variants."""
    p = _subparser(
        sub,
        "extend",
        "Add N samples, new grid values or new script variants to a sweep, and run them.",
        "xsweep extend mc/ --n 100\nxsweep extend grid/ --grid Sat.SMA=7050,7150\n"
        "xsweep extend grid/ --script bigger_tank=tank.script",
    )
    p.add_argument("dir", help="the sweep directory or URL")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--n", type=_positive_int, help="samples to add")
    what.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=SPEC",
        help="new values of a grid dim (start:stop:num, v1,v2,... or @file.csv); repeatable",
    )
    what.add_argument(
        "--script",
        action="append",
        default=[],
        dest="variants",
        metavar="NAME=PATH",
        help="a new script variant: the whole space runs on it (repeatable)",
    )
    p.add_argument(
        "--baseline",
        metavar="NAME",
        help="with --script on a sweep of one script: the variant name its runs get "
        "(default: the script file's stem)",
    )
    p.add_argument(
        "--file",
        action="append",
        default=[],
        dest="files",
        metavar="PATH",
        help="a side file a new variant reads, kept with the sweep (repeatable)",
    )
    _derive_option(p)
    _reuse_options(p)
    _execution_options(p)
    _storage_option(p)


def _continue_commands(sub: Any) -> None:
    """Add the commands that continue a sweep: resume, extend, derive."""
    p = _subparser(
        sub,
        "resume",
        "Finish a sweep: rerun its failed and never-recorded runs only.",
        "xsweep resume sweep/",
    )
    p.add_argument("dir", help="the sweep directory or URL")
    p.add_argument(
        "--script",
        action="append",
        metavar="PATH|NAME=PATH",
        help="run this script instead of the recorded one (of a variant sweep: NAME=PATH, "
        "repeatable)",
    )
    p.add_argument(
        "--allow-script-drift", action="store_true", help="accept a script whose hash differs"
    )
    p.add_argument(
        "--reparse",
        action="store_true",
        help="parse unparsed outputs again from their kept raw files (no GMAT)",
    )
    _derive_option(p)
    p.add_argument(
        "--rederive",
        action="store_true",
        help="compute the derived values finished runs lack (no GMAT)",
    )
    _execution_options(p)
    _storage_option(p)

    _extend_command(sub)

    p = _subparser(
        sub,
        "extend-until",
        "Extend a Monte Carlo sweep in batches until a mean is known to RTOL.",
        "xsweep extend-until mc/ --var Sat.Earth.Altitude --rtol 1e-4 --batch 100 --max-runs 2000",
    )
    p.add_argument("dir", help="the sweep directory")
    p.add_argument("--var", required=True, help="a derived quantity or an output column")
    p.add_argument("--rtol", type=float, required=True, help="relative 95 %% half-width")
    p.add_argument("--batch", type=_positive_int, required=True, help="samples per extension")
    p.add_argument("--max-runs", type=_positive_int, required=True, help="stop at this many runs")
    _execution_options(p)

    p = _subparser(
        sub,
        "derive",
        "Add or replace derived values of a finished sweep, from its Parquet (no GMAT).",
        """
        xsweep derive sweep/ mypkg.checks:miss mypkg.checks:dv
        xsweep derive sweep.zip mypkg.checks:miss --out copy/
        """,
    )
    p.add_argument("dir", help="the sweep directory, or a bundle zip (with --out)")
    p.add_argument("functions", nargs="+", metavar="MODULE:FUNCTION", help="derive functions")
    p.add_argument("--out", metavar="DIR", help="for a bundle: the directory to derive into")
    _execution_options(p)


def _store_commands(sub: Any) -> None:
    """Add the commands that read or pack a sweep: show, consolidate, archive, verify..."""
    p = _subparser(
        sub,
        "show",
        "Summarise a sweep (also a running one, or a bundle): fingerprint, status, failures.",
        "xsweep show sweep/ --run 17\n  xsweep show sweep/ --failed --reason timeout",
    )
    p.add_argument("dir", help="the sweep directory, bundle zip or URL")
    _storage_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--failed", type=_count, nargs="?", const=0, default=10, metavar="N",
                   help="failed runs to list (default 10; --failed alone: all)")  # fmt: skip
    p.add_argument("--reason", choices=REASONS, action="append",
                   help="list only the failed runs with this reason (repeatable)")  # fmt: skip
    p.add_argument("--run", type=_count, metavar="N",
                   help="show one run: point, outcome, timings, error, GMAT log tail")  # fmt: skip
    p.add_argument("--log-lines", type=_count, default=20, metavar="K",
                   help="with --run: the log's last K lines (default 20)")  # fmt: skip

    p = _subparser(
        sub,
        "fields",
        "List a script's objects and the fields a space may set, with their values now.",
        "xsweep fields mission.script --object Sat\n  xsweep fields mission.script --json",
    )
    p.add_argument("script", help="the GMAT script")
    p.add_argument("--object", action="append", dest="objects", metavar="NAME",
                   help="only this object (repeatable)")  # fmt: skip
    p.add_argument("--all", action="store_true", help="also GMAT's read-only fields")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--engine", choices=("auto", "embedded", "desktop"), default="auto",
                   help="GMAT engine")  # fmt: skip
    p.add_argument("--gmat-root", metavar="PATH", help="desktop GMAT install root")

    p = _subparser(
        sub,
        "consolidate",
        "Rebuild a sweep's Zarr store from its Parquet.",
        "xsweep consolidate sweep/",
    )
    p.add_argument("dir", help="the sweep directory")

    p = _subparser(
        sub,
        "archive",
        "Pack a sweep into one deterministic, verifiable zip.",
        "xsweep archive sweep/ --out sweep.zip",
    )
    p.add_argument("dir", help="the sweep directory or URL")
    _storage_option(p)
    p.add_argument("--out", metavar="FILE", help="the zip (default: DIR.zip beside DIR)")
    p.add_argument("--include-logs", action="store_true", help="include each run's gmat.log")
    p.add_argument("--overwrite", action="store_true", help="replace an existing zip")

    p = _subparser(
        sub,
        "verify",
        "Check every member of a bundle against its hashes.",
        "xsweep verify sweep.zip",
    )
    p.add_argument("file", help="the bundle zip")

    p = _subparser(
        sub,
        "extract",
        "Unpack a bundle safely (hashes checked) into a sweep directory.",
        "xsweep extract sweep.zip copy/ && xsweep resume copy/",
    )
    p.add_argument("file", help="the bundle zip")
    p.add_argument("dest", help="the sweep directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing directory")

    p = _subparser(
        sub,
        "open",
        "Open a sweep's store (directory or bundle) and print the Dataset summary.",
        "xsweep open sweep.zip --group RF",
    )
    p.add_argument("dir", help="the sweep directory or bundle zip")
    p.add_argument("--group", help="one output (RF, reports/RF)")
    p.add_argument("--verify", action="store_true", help="verify a bundle fully first")
