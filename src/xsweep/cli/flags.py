"""The ``xsweep`` command line's options: value types, the execution flags, the space's flags.

:data:`EXECUTION_FLAGS` spells each execution keyword of the API
(:class:`xsweep.core.options.Execution`) as a flag whose value lands under
the keyword's own name, so a command passes the keywords on as given.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Iterable
from typing import Any

from xsweep.cli.spaces import parse_scalar
from xsweep.core.options import ENGINE_KINDS, ISOLATIONS, Execution


def positive_int(text: str) -> int:
    """Parse a whole number >= 1."""
    value = parse_scalar(text)
    if not isinstance(value, int) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def runs_per_task(text: str) -> int | str:
    """Parse a whole number >= 1, or ``auto``."""
    return "auto" if text == "auto" else positive_int(text)


def keep(text: str) -> Any:
    """Parse ``all``, ``summary``, or ``summary,every=K,fraction=F,seed=S,failed=no``."""
    from xsweep.core.errors import ConfigError
    from xsweep.core.keep import Keep

    tier, *parts = [p.strip() for p in text.split(",")]
    if tier not in ("all", "summary") or (tier == "all" and parts):
        raise argparse.ArgumentTypeError(
            f"expected all, summary or summary,every=K,fraction=F,seed=S, got {text!r}"
        )
    if not parts:
        return tier
    given: dict[str, Any] = {}
    for part in parts:
        key, _, value = part.partition("=")
        if key not in ("every", "fraction", "seed", "failed") or not value:
            raise argparse.ArgumentTypeError(f"--keep: unknown item {part!r} (every=, fraction=, "
                                             "seed=, failed=)")  # fmt: skip
        given[key] = value.lower() not in ("no", "false", "0") if key == "failed" else (
            parse_scalar(value))  # fmt: skip
    try:
        return Keep(**given)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def envelope(text: str) -> Any:
    """Parse ``STEP[,stop=S,k=K,output=NAME]``: a streaming envelope every STEP seconds."""
    from xsweep.core.envelope import Envelope
    from xsweep.core.errors import ConfigError

    first, *parts = [p.strip() for p in text.split(",")]
    given: dict[str, Any] = {"step": parse_scalar(first)}
    for part in parts:
        key, _, value = part.partition("=")
        if key not in ("stop", "k", "output") or not value:
            raise argparse.ArgumentTypeError(f"--envelope: unknown item {part!r} (stop=, k=, "
                                             "output=)")  # fmt: skip
        given[key] = value if key == "output" else parse_scalar(value)
    try:
        return Envelope(**given)
    except (ConfigError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def count(text: str) -> int:
    """Parse a whole number >= 0."""
    value = parse_scalar(text)
    if not isinstance(value, int) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def seconds(text: str) -> float:
    """Parse a finite number of seconds > 0."""
    value = parse_scalar(text)
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return float(value)


def run_bound(text: str) -> float | str:
    """Parse seconds, ``auto`` or ``off``."""
    return text if text in ("auto", "off") else seconds(text)


def storage_option(parser: Any) -> None:
    """Add ``--storage-option`` (for a sweep at a URL)."""
    flag, kwargs = EXECUTION_FLAGS["storage_options"]
    parser.add_argument(flag, dest="storage_options", **kwargs)


def execution_options(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """Add the flags of the execution keywords ``names`` (a command's, of ``Execution``)."""
    group = parser.add_argument_group("execution")
    where = group.add_mutually_exclusive_group()  # a cluster given, or one started here
    own = ("derive", "storage_options", "reuse", "reuse_from")  # the command's, not the group's
    for name in Execution.__annotations__:
        if name in names and name in EXECUTION_FLAGS:
            flag, kwargs = EXECUTION_FLAGS[name]
            target: Any = parser if name in own else group
            if name in ("client", "workers"):
                target = where
            target.add_argument(flag, dest=name, **kwargs)


# Every execution keyword of the API (xsweep.core.options.Execution) and its flag; the
# parsed value lands under the keyword's own name, so the commands pass them on as given.
EXECUTION_FLAGS: dict[str, tuple[str, dict[str, Any]]] = {
    "client": ("--scheduler", {"metavar": "ADDRESS",
               "help": "run on an existing Dask cluster (tcp://host:8786)"}),
    "workers": ("--workers", {"type": positive_int, "help": "workers of the local cluster "
                "(default: one per core, at most one per task)"}),
    "timeout": ("--timeout", {"type": run_bound, "metavar": "SECONDS|auto|off",
                "help": "kill a run past this (auto: max(600 s, 20x median run))"}),
    "retries": ("--retries", {"type": count, "metavar": "N", "help": "retries of a crashed run"}),
    "isolation": ("--isolation", {"choices": ISOLATIONS, "help": "GMAT isolation per run"}),
    "engine": ("--engine", {"choices": ENGINE_KINDS, "help": "GMAT engine"}),
    "gmat_root": ("--gmat-root", {"metavar": "PATH", "help": "desktop GMAT install root"}),
    "keep_raw": ("--keep-raw", {"action": "store_true", "default": None,
                 "help": "keep GMAT's files"}),
    "runs_per_task": ("--runs-per-task", {"type": runs_per_task, "metavar": "N|auto",
                      "help": "runs per Dask task (default auto: short runs fused into "
                      "tasks of ~0.25 s; 1: every run its own task)"}),
    "keep": ("--keep", {"type": keep, "metavar": "all|summary[,every=K,fraction=F,seed=S]",
             "help": "keep every run's outputs (all, the default), or each run's summaries "
             "and in full only failed runs, every K-th, a seeded fraction F (see "
             "docs/campaigns.md)"}),
    "envelope": ("--envelope", {"type": envelope, "metavar": "STEP[,stop=S,k=K]",
                 "help": "fold every run into a streaming envelope every STEP seconds: "
                 "quantiles (0.0013, 0.5, 0.9987), mean, std per step (see docs/campaigns.md)"}),
    "allow_overwritten": ("--allow-overwritten", {"action": "store_true",
                          "help": "sweep a field the mission sequence sets (a Vary's initial "
                          "guess): refused otherwise"}),
    "progress": ("--no-progress", {"action": "store_false", "help": "no progress bar"}),
    "consolidate": ("--no-store", {"action": "store_false",
                    "help": "do not keep sweep.zarr up to date while running"}),
    "cluster_timeout": ("--cluster-timeout", {"type": seconds, "default": 60.0,
                        "metavar": "SECONDS", "help": "bound on the cluster's start-up "
                        "(workers, scheduler, planning): default 60"}),
    "derive": ("--derive", {"action": "append", "metavar": "MODULE:FUNCTION",
               "help": "derive per-run values with this function, after each run "
               "(repeatable; see docs/derive.md)"}),
    "storage_options": ("--storage-option", {"action": "append", "default": [],
                        "metavar": "KEY=VALUE",
                        "help": "for a sweep at a URL (s3://...): an fsspec option, a.b=v "
                        "nests (repeatable). A secret given here shows in the process list "
                        "(ps): prefer AWS_* variables or ~/.aws"}),
    "reuse": ("--reuse", {"action": "store_const", "const": "content",
              "help": "link a run identical to an ok run (script hash, values, engine) "
              "instead of running it (see docs/space.md, reusing identical runs)"}),
    "reuse_from": ("--reuse-from", {"action": "append", "default": [], "metavar": "DIR",
                   "help": "with --reuse: a finished sweep whose ok runs may be linked "
                   "(repeatable)"}),
}  # fmt: skip
# xs.derive's execution keywords.
DERIVE_KEYWORDS = ("client", "workers", "timeout", "progress", "consolidate",
                   "cluster_timeout")  # fmt: skip
# Keywords only the Python API takes (a mapping has no flag).
API_ONLY = frozenset({"cluster_kwargs"})


def space_options(parser: argparse.ArgumentParser, *, table: bool = False) -> None:
    """Add the flags that describe a parameter space (and ``--table`` for ``samples``)."""
    group = parser.add_argument_group("parameter space")
    group.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="FIELD=SPEC",
        help="a grid axis; SPEC is start:stop:num (inclusive), v1,v2,... or @file.csv",
    )
    group.add_argument(
        "--fixed",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a constant every run gets, with no dim (e.g. TOF=86400)",
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
    group.add_argument("--n", type=positive_int, help="number of random samples")
    group.add_argument("--seed", type=count, help="random seed (default: fresh entropy)")
    if table:
        group.add_argument(
            "--table", required=True, metavar="FILE", help="runs.csv or runs.parquet"
        )
