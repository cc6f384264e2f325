"""Retention: which runs of a sweep keep their full histories (``keep=``).

``keep="all"`` (the default) keeps every run's outputs in full, as xsweep always
did. ``keep="summary"`` keeps, for every ok run, each output's summary (its
final row, each column's minimum and maximum and when they happened) in the
run's manifest line, and no per-run files; :class:`Keep` adds the runs kept in
full anyway: failed runs, every k-th run, a seeded fraction, and those a
predicate over the summaries picks on the worker as each run ends.

The policy is recorded in the sweep's header (a predicate by its name and the
hash of its source: it is code, so resume takes it again, never from the
header). This module imports only the standard library.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from xsweep.core.errors import ConfigError
from xsweep.core.hooks import DeriveFunction, resolve

KeepTier = Literal["all", "summary"]


@dataclass(frozen=True)
class Keep:
    """Summaries for every run, full histories for the runs that matter (``keep=Keep(...)``).

    Parameters
    ----------
    failed : bool
        Keep failed runs in full (their log, and any raw file they left). Default True.
    every : int, optional
        Keep runs whose id is a multiple of ``every`` (0, k, 2k, ...).
    fraction : float, optional
        Keep a seeded, deterministic fraction of the runs (0 < fraction <= 1): a
        run is picked by a hash of ``seed`` and its id, so resume and extend pick
        the same runs.
    seed : int
        The seed of ``fraction``'s pick. Default 0.
    where : callable or "module:function", optional
        ``where(summary, params) -> bool``, called on the worker as each ok run
        ends: ``summary`` maps each output's name (``"RF"``) to a DataFrame
        indexed by ``"final"``, ``"min"`` and ``"max"`` (columns as in the
        output, plus ``<column>_time`` for when each happened), and has the
        run's derived values as ``summary.derived``; ``params`` are the run's
        labels and field values. True keeps the run in full.

    Examples
    --------
    >>> import xsweep as xs
    >>> low = xs.Keep(every=100, where=lambda s, p: s["RF"].loc["min", "Sat.Earth.Altitude"] < 200)
    >>> low.every, low.failed
    (100, True)
    """

    failed: bool = True
    every: int | None = None
    fraction: float | None = None
    seed: int = 0
    where: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.failed, bool):
            raise ConfigError(f"Keep(failed=) is True or False, got {self.failed!r}")
        every: Any = self.every  # from a caller, or a header: typed, not checked
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise ConfigError(f"Keep(every=) is a positive integer, got {self.every!r}")
        fraction: Any = self.fraction
        if fraction is not None and (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 < fraction <= 1
        ):
            raise ConfigError(f"Keep(fraction=) is in (0, 1], got {self.fraction!r}")
        seed: Any = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ConfigError(f"Keep(seed=) is a non-negative integer, got {self.seed!r}")
        if self.where is not None and not (callable(self.where) or isinstance(self.where, str)):
            raise ConfigError(
                f"Keep(where=) is a function or 'module:function', got {type(self.where).__name__}"
            )


@dataclass(frozen=True)
class KeepPolicy:
    """A checked ``keep=``: what the dispatcher and the workers ask of it."""

    tier: KeepTier
    failed: bool = True
    every: int | None = None
    fraction: float | None = None
    seed: int = 0
    where: DeriveFunction | None = None
    where_ref: str | None = None  # a recorded predicate's name (resume must be given it)

    @property
    def tiered(self) -> bool:
        """Whether runs keep summaries (not every run in full)."""
        return self.tier != "all"

    def upfront(self, run_id: int) -> bool | None:
        """Whether run ``run_id`` is kept in full whatever it gives (``None``: it depends)."""
        if not self.tiered:
            return True
        if self.every is not None and run_id % self.every == 0:
            return True
        if self.fraction is not None and picked(self.seed, run_id) < self.fraction:
            return True
        if self.where is not None:
            return None
        return None if self.failed else False

    def to_dict(self) -> str | dict[str, Any]:
        """Return what the sweep's header records (``"all"`` for the default)."""
        if not self.tiered:
            return "all"
        ref = self.where.ref if self.where is not None else self.where_ref
        return {"tier": self.tier, "failed": self.failed, "every": self.every,
                "fraction": self.fraction, "seed": self.seed, "where": ref}  # fmt: skip


ALL = KeepPolicy("all")
KEEP_ERROR = "keep_error"  # extra: where= raised, so the run was kept in full


def picked(seed: int, run_id: int) -> float:
    """Return a run's uniform draw in [0, 1) for ``fraction``: a hash, the same everywhere."""
    digest = hashlib.blake2b(f"{seed}:{run_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def check_keep(value: Any) -> KeepPolicy:
    """Check ``keep=`` (``"all"``, ``"summary"``, a :class:`Keep` or a checked policy).

    Raises
    ------
    ConfigError
        Anything else.
    """
    if isinstance(value, KeepPolicy):
        return value
    if value == "all":
        return ALL
    if value == "summary":
        return KeepPolicy("summary")
    if isinstance(value, Keep):
        where = resolve(value.where)[0] if value.where is not None else None
        fraction = None if value.fraction is None else float(value.fraction)
        return KeepPolicy("summary", value.failed, value.every, fraction, value.seed, where)
    raise ConfigError(f"keep must be 'all', 'summary' or xsweep.Keep(...), got {value!r}")


def recorded_keep(value: Any) -> KeepPolicy:
    """Rebuild the policy a header records; a predicate stays a name (see :class:`KeepPolicy`).

    Raises
    ------
    ConfigError
        A record no version of xsweep writes.
    """
    if value is None or value == "all":
        return ALL
    if not isinstance(value, Mapping) or value.get("tier") != "summary":
        raise ConfigError(f"the sweep's header records keep={value!r}, which xsweep cannot read")
    ref = value.get("where")
    checked = Keep(
        failed=value.get("failed", True),
        every=value.get("every"),
        fraction=value.get("fraction"),
        seed=value.get("seed", 0),
    )
    policy = check_keep(checked)
    return KeepPolicy(policy.tier, policy.failed, policy.every, policy.fraction, policy.seed,
                      None, ref if isinstance(ref, str) else None)  # fmt: skip


def decide(
    policy: KeepPolicy,
    run_id: int,
    ok: bool,
    summary: Callable[[], Mapping[str, Any]],
    params: Mapping[str, Any],
) -> bool:
    """Whether a finished run is kept in full; ``summary()`` builds what ``where`` reads."""
    first = policy.upfront(run_id)
    if first is not None:
        return first
    if not ok:
        return policy.failed
    if policy.where is None:
        return False
    got = policy.where.load()(summary(), dict(params))
    return bool(got) and not (isinstance(got, float) and math.isnan(got))


def warn_keep_error(run_id: int, error: str) -> bool:
    """Say (once a session) that ``where`` raised: such runs are kept in full."""
    warnings.warn(
        f"keep=: where= raised on run {run_id} ({error}); such runs are kept in full, "
        "the error in their line's extra['keep_error']",
        UserWarning,
        stacklevel=3,
    )
    return True
