"""The ``xsweep`` argument parser: every command, its options, its help and example."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, NoReturn

from xsweep.cli.designs import design_commands
from xsweep.cli.flags import (
    DERIVE_KEYWORDS,
    count,
    execution_options,
    positive_int,
    space_options,
    storage_option,
)
from xsweep.core.options import (
    EXTEND_DEFAULTS,
    RESUME_DEFAULTS,
    RUN_DEFAULTS,
)
from xsweep.core.vocabulary import REASONS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# Each command's summary (its --help line) and its example.
COMMAND_HELP: dict[str, tuple[str, str]] = {
    "extend": (
        "Add N samples, new grid values or new script variants to a sweep, and run them.",
        "xsweep extend mc/ --n 100\nxsweep extend grid/ --grid Sat.SMA=7050,7150\n"
        "xsweep extend grid/ --script bigger_tank=tank.script",
    ),
    "resume": (
        "Finish a sweep: rerun its failed and never-recorded runs only.",
        "xsweep resume sweep/",
    ),
    "refly": (
        "Fly chosen runs again in full (a sweep of summaries) and check they give what they gave.",
        "xsweep refly mc/ --run 17 --run 42\n"
        "  xsweep refly mc/ --where '`Sat.Earth.Altitude.min` < 250'",
    ),
    "extend-until": (
        "Extend a Monte Carlo sweep in batches until a mean is known to RTOL.",
        "xsweep extend-until mc/ --var Sat.Earth.Altitude --rtol 1e-4 --batch 100 --max-runs 2000",
    ),
    "derive": (
        "Add or replace derived values of a finished sweep, from its Parquet (no GMAT).",
        """
        xsweep derive sweep/ mypkg.checks:miss mypkg.checks:dv
        xsweep derive sweep.zip mypkg.checks:miss --out copy/
        """,
    ),
    "adapt": (
        "Sample adaptively (python-adaptive): a boundary, a level set, or a function; run "
        "again on the same --out to go on (a larger --goal).",
        "xsweep adapt mission.script --bound Sat.SMA=6300:6700 --value ok --goal 20 --out edge/",
    ),
    "probability": (
        "Estimate a rare event's probability (OpenTURNS' subset simulation, or Monte Carlo) "
        "in one sweep; run again on the same --out to replay and go on.",
        """
        xsweep probability mission.script --perturb Sat.SMA=normal:6650:50 \\
            --event 'lowest<100' --derive mychecks:lowest --out rare/
        """,
    ),
    "show": (
        "Summarise a sweep (also a running one, or a bundle): fingerprint, status, failures.",
        "xsweep show sweep/ --run 17\n  xsweep show sweep/ --failed --reason timeout",
    ),
    "fields": (
        "List a script's objects and the fields a space may set, with their values now.",
        "xsweep fields mission.script --object Sat\n  xsweep fields mission.script --json",
    ),
    "consolidate": (
        "Rebuild a sweep's Zarr store from its Parquet.",
        "xsweep consolidate sweep/",
    ),
    "archive": (
        "Pack a sweep into one deterministic, verifiable zip.",
        "xsweep archive sweep/ --out sweep.zip",
    ),
    "verify": (
        "Check every member of a bundle against its hashes.",
        "xsweep verify sweep.zip",
    ),
    "extract": (
        "Unpack a bundle safely (hashes checked) into a sweep directory.",
        "xsweep extract sweep.zip copy/ && xsweep resume copy/",
    ),
    "import": (
        "Bring a gmat-sweep 0.6.0 sweep (directory or archive) across as an xsweep sweep: "
        "its runs recorded, its Parquet hard-linked, never rewritten.",
        "xsweep import gs-out/ --script mission.script --out sweep/\n"
        "  xsweep import gs-archive.zip --out sweep/ && xsweep resume sweep/",
    ),
    "open": (
        "Open a sweep's store (directory or bundle) and print the Dataset summary.",
        "xsweep open sweep.zip --group RF",
    ),
}


def _subparser(sub: Any, name: str) -> argparse.ArgumentParser:
    summary, example = {**RUNNERS, **COMMAND_HELP}[name]
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary,
        epilog="example:\n" + textwrap.indent(textwrap.dedent(example).strip(), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def _files_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument(
        "--file", action="append", default=[], dest="files", metavar="PATH", help=text
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
    design_commands(sub, _subparser)
    _store_commands(sub)
    return parser


# The commands that run a space, each with its summary and example.
RUNNERS = {
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


def _sweep_commands(sub: Any) -> None:
    """Add the commands that run GMAT: run, monte-carlo, lhs, samples, resume, extend."""
    for name in RUNNERS:
        p = _subparser(sub, name)
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
        _files_option(p, "a side file the script reads, kept with the sweep (repeatable; "
                      "#Include'd files are found without it)")  # fmt: skip
        space_options(p, table=name == "samples")
        if name == "qmc":
            p.add_argument(
                "--method", choices=("sobol", "halton", "lhs"), default="sobol",
                help="the point set (default sobol)",
            )  # fmt: skip
        if name == "saltelli":
            p.add_argument("--second-order", action="store_true", help="also the runs S2 needs")
        execution_options(p, RUN_DEFAULTS)
        if name != "qmc":
            p.set_defaults(method={"lhs": "latin_hypercube", "saltelli": "saltelli"}.get(name))
    _continue_commands(sub)


def _extend_command(sub: Any) -> None:
    """Add ``xsweep extend``: more samples, grid values or script variants."""
    p = _subparser(sub, "extend")
    p.add_argument("dir", help="the sweep directory or URL")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--n", type=positive_int, help="samples to add")
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
    _files_option(p, "a side file a new variant reads, kept with the sweep (repeatable)")
    execution_options(p, EXTEND_DEFAULTS)


def _continue_commands(sub: Any) -> None:
    """Add the commands that continue a sweep: resume, extend, derive."""
    p = _subparser(sub, "resume")
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
    p.add_argument(
        "--rederive",
        action="store_true",
        help="compute the derived values finished runs lack (no GMAT)",
    )
    execution_options(p, RESUME_DEFAULTS)

    p = _subparser(sub, "refly")
    p.add_argument("dir", help="the sweep directory or URL")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--run", action="append", type=count, metavar="N",
                       help="a run id (repeatable)")  # fmt: skip
    which.add_argument(
        "--where",
        metavar="EXPR",
        help="a pandas query over the ok runs' summaries: columns <column>.<stat> "
        "(`Sat.Earth.Altitude.min` < 250) and the parameters",
    )
    p.add_argument(
        "--allow-script-drift",
        action="store_true",
        help="fly them with a script whose hash differs (the check then says so)",
    )
    execution_options(p, {k: v for k, v in RESUME_DEFAULTS.items() if k != "keep"})

    _extend_command(sub)

    p = _subparser(sub, "extend-until")
    p.add_argument("dir", help="the sweep directory")
    p.add_argument("--var", required=True, help="a derived quantity or an output column")
    p.add_argument("--rtol", type=float, required=True, help="relative 95 %% half-width")
    p.add_argument("--batch", type=positive_int, required=True, help="samples per extension")
    p.add_argument("--max-runs", type=positive_int, required=True, help="stop at this many runs")
    execution_options(p, [n for n in RESUME_DEFAULTS if n != "storage_options"])

    p = _subparser(sub, "derive")
    p.add_argument("dir", help="the sweep directory, or a bundle zip (with --out)")
    p.add_argument("functions", nargs="+", metavar="MODULE:FUNCTION", help="derive functions")
    p.add_argument("--out", metavar="DIR", help="for a bundle: the directory to derive into")
    execution_options(p, DERIVE_KEYWORDS)


def _store_commands(sub: Any) -> None:
    """Add the commands that read or pack a sweep: show, consolidate, archive, verify..."""
    p = _subparser(sub, "show")
    p.add_argument("dir", help="the sweep directory, bundle zip or URL")
    storage_option(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--failed", type=count, nargs="?", const=0, default=10, metavar="N",
                   help="failed runs to list (default 10; --failed alone: all)")  # fmt: skip
    p.add_argument("--reason", choices=REASONS, action="append",
                   help="list only the failed runs with this reason (repeatable)")  # fmt: skip
    p.add_argument("--run", type=count, metavar="N",
                   help="show one run: point, outcome, timings, error, GMAT log tail")  # fmt: skip
    p.add_argument("--log-lines", type=count, default=20, metavar="K",
                   help="with --run: the log's last K lines (default 20)")  # fmt: skip

    p = _subparser(sub, "fields")
    p.add_argument("script", help="the GMAT script")
    p.add_argument("--object", action="append", dest="objects", metavar="NAME",
                   help="only this object (repeatable)")  # fmt: skip
    p.add_argument("--all", action="store_true", help="also GMAT's read-only fields")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--engine", choices=("auto", "embedded", "desktop"), default="auto",
                   help="GMAT engine")  # fmt: skip
    p.add_argument("--gmat-root", metavar="PATH", help="desktop GMAT install root")

    _pack_commands(sub)


def _pack_commands(sub: Any) -> None:
    """Add the commands that rebuild, pack, unpack or open a sweep."""
    p = _subparser(sub, "consolidate")
    p.add_argument("dir", help="the sweep directory")

    p = _subparser(sub, "archive")
    p.add_argument("dir", help="the sweep directory or URL")
    storage_option(p)
    p.add_argument("--out", metavar="FILE", help="the zip (default: DIR.zip beside DIR)")
    p.add_argument("--include-logs", action="store_true", help="include each run's gmat.log")
    p.add_argument("--overwrite", action="store_true", help="replace an existing zip")

    p = _subparser(sub, "verify")
    p.add_argument("file", help="the bundle zip")

    p = _subparser(sub, "extract")
    p.add_argument("file", help="the bundle zip")
    p.add_argument("dest", help="the sweep directory to create")
    p.add_argument("--overwrite", action="store_true", help="replace an existing directory")

    p = _subparser(sub, "import")
    p.add_argument("src", help="the gmat-sweep output directory or archive zip")
    p.add_argument("--out", required=True, metavar="DIR", help="the xsweep sweep to create")
    p.add_argument("--script", help="the mission script (an archive holds its own)")
    p.add_argument("--no-consolidate", action="store_true", help="do not build the Zarr store")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = _subparser(sub, "open")
    p.add_argument("dir", help="the sweep directory or bundle zip")
    p.add_argument("--group", help="one output (RF, reports/RF)")
    p.add_argument("--verify", action="store_true", help="verify a bundle fully first")
