"""The sequential designs on the command line: ``xsweep adapt`` and ``xsweep probability``."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from xsweep.cli.flags import execution_options, positive_int
from xsweep.cli.spaces import parse_assignment, parse_fixed, parse_perturb
from xsweep.core.errors import ConfigError
from xsweep.core.options import RUN_DEFAULTS

# Execution flags of a design's batches: run's, less what a design sets itself.
EXECUTION = [n for n in RUN_DEFAULTS if n not in ("reuse", "reuse_from", "storage_options")]
_EVENT = re.compile(r"^(?P<value>.+?)\s*(?P<op><=|>=|<|>)\s*(?P<threshold>[^<>=]+)$")


def design_commands(sub: Any, subparser: Callable[[Any, str], argparse.ArgumentParser]) -> None:
    """Add ``adapt`` and ``probability`` (``subparser``: the parser's, with their help)."""
    p = subparser(sub, "adapt")
    _common(p)
    p.add_argument(
        "--bound",
        action="append",
        required=True,
        metavar="FIELD=LOW:HIGH",
        help="a sampled field and its range (repeatable: 1, 2 or more fields)",
    )
    p.add_argument(
        "--value",
        default="ok",
        help="'ok' (the ok/failed boundary, default) or a derived value's name",
    )
    p.add_argument("--threshold", type=float, help="find the level set VALUE == THRESHOLD")
    p.add_argument("--goal", type=positive_int, default=100, help="runs in all (default 100)")
    p.add_argument("--batch", type=positive_int, help="runs a batch (default: 4 a worker)")
    p = subparser(sub, "probability")
    _common(p)
    p.add_argument(
        "--perturb",
        action="append",
        required=True,
        metavar="FIELD=DIST:A:B",
        help="a dispersed field (normal:MU:SIGMA, uniform:LO:HI, lognormal:MU:SIGMA)",
    )
    p.add_argument(
        "--event",
        required=True,
        metavar="VALUE<T",
        help="a derived value, one of < <= > >=, and a threshold",
    )
    p.add_argument("--method", choices=("subset", "monte-carlo"), default="subset")
    p.add_argument("--n", type=positive_int, default=1000, help="runs a level (default 1000)")
    p.add_argument("--p0", type=float, default=0.1, help="conditional probability a level")
    p.add_argument("--seed", type=int, default=0, help="OpenTURNS' seed (default 0)")
    p.add_argument(
        "--failed",
        choices=("event", "safe"),
        default="event",
        help="whether a failed run is in the event (default) or not",
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", help="the GMAT mission script")
    p.add_argument("--out", required=True, metavar="DIR", help="the sweep directory")
    p.add_argument(
        "--fixed",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a constant every run gets (repeatable)",
    )
    execution_options(p, EXECUTION)


def _fixed(args: argparse.Namespace) -> dict[str, Any] | None:
    pairs = [parse_assignment(text, "--fixed") for text in args.fixed]
    return {field: parse_fixed(field, spec) for field, spec in pairs} or None


def cmd_adapt(args: argparse.Namespace, execution: dict[str, Any]) -> Any:
    """Run ``xsweep adapt``; return the sweep."""
    import xsweep as xs

    bounds = {}
    for text in args.bound:
        field, spec = parse_assignment(text, "--bound")
        low, _, high = spec.partition(":")
        try:
            bounds[field] = (float(low), float(high))
        except ValueError:
            raise ConfigError(f"--bound {text!r}: expected FIELD=LOW:HIGH") from None
    return xs.adapt(
        args.script,
        bounds,
        out=args.out,
        value=args.value,
        threshold=args.threshold,
        goal=args.goal,
        batch=args.batch,
        fixed=_fixed(args),
        **execution,
    )


def cmd_probability(args: argparse.Namespace, execution: dict[str, Any]) -> Any:
    """Run ``xsweep probability``; print the estimate and return its sweep's path."""
    import xsweep as xs

    found = _EVENT.match(args.event.strip())
    if found is None:
        raise ConfigError(f"--event {args.event!r}: expected VALUE<THRESHOLD (or <=, >, >=)")
    try:
        event = (found["value"].strip(), found["op"], float(found["threshold"]))
    except ValueError:
        raise ConfigError(f"--event {args.event!r}: the threshold is not a number") from None
    got = xs.probability(
        args.script,
        dict(parse_perturb(t) for t in args.perturb),
        event,
        out=args.out,
        method=args.method,
        n=args.n,
        p0=args.p0,
        seed=args.seed,
        failed=args.failed,
        fixed=_fixed(args),
        **execution,
    )
    lo, hi = got.interval()
    levels = ", ".join(f"{t:.6g}" for t in got.thresholds)
    print(
        f"P({event[0]} {event[1]} {event[2]:g}) = {got.estimate:.4g}  (cv {got.cv:.3f}, "
        f"95 % interval {lo:.3g}..{hi:.3g}, {got.runs} runs, {got.failed} failed"
        + (f"; levels {levels})" if levels else ")")
    )
    return got.path
