"""Rare-event probabilities: ``xs.probability``, subset simulation with OpenTURNS.

OpenTURNS' ``SubsetSampling`` (or plain Monte Carlo, the reference) runs in
the standard normal space of the dispersed fields; each point it asks for is
mapped to the fields' own distributions (``ppf(Phi(u))``, xsweep's own
distributions) and flown as a run. Every block of points it evaluates is one
batch, one growth step of the sweep (:mod:`xsweep.sequential.loop`): a level
of subset simulation is ``1 / p0`` batches (its Markov chains advance one step
a batch). Resuming replays the algorithm from its seed: each block it asks
for that the sweep already holds is answered from the recorded runs (checked
bit for bit), the rest are flown.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from xsweep.core.errors import ConfigError
from xsweep.sequential.loop import Recorded, close, grow, recorded, settle
from xsweep.space.draws import parse_distribution

_OPS = ("<", "<=", ">", ">=")
HUGE = 1e300  # a failed run's value: deep inside (or outside) the event


@dataclass(frozen=True)
class Probability:
    """The estimate of a rare-event probability, and what it cost.

    Attributes
    ----------
    estimate : float
        The probability of the event.
    cv : float
        Its coefficient of variation as OpenTURNS states it (for subset
        simulation this leaves out the correlation along each Markov chain,
        so the true spread is somewhat wider: see docs/sequential.md).
    runs : int
        Runs flown (every one in the sweep at ``path``).
    method : str
        ``"subset"`` or ``"monte-carlo"``.
    thresholds : tuple of float
        Subset simulation's intermediate thresholds, one a level.
    path : str
        The sweep directory.
    """

    estimate: float
    cv: float
    runs: int
    method: str
    thresholds: tuple[float, ...] = ()
    path: str = ""
    failed: int = field(default=0)

    def interval(self, z: float = 1.959963984540054) -> tuple[float, float]:
        """Return ``estimate -/+ z * cv * estimate`` (a 95 % interval by default)."""
        half = z * self.cv * self.estimate
        return max(self.estimate - half, 0.0), self.estimate + half


def _openturns() -> Any:
    try:
        import openturns as ot
    except ImportError:
        raise ConfigError(
            "xs.probability needs OpenTURNS: pip install 'gmat-xsweep[rare]'"
        ) from None
    return ot


class _Flights:
    """The model OpenTURNS calls: blocks of standard-normal points, answered by runs."""

    def __init__(
        self,
        script: Any,
        out: Any,
        perturb: Mapping[str, Any],
        event: tuple[str, str, float],
        failed: str,
        fixed: Any,
        execution: Mapping[str, Any],
    ) -> None:
        self.script, self.out, self.fixed, self.execution = script, out, fixed, execution
        self.fields = list(perturb)
        self.dists = [parse_distribution(f, spec) for f, spec in perturb.items()]
        self.value, op, self.threshold = event
        inside = -HUGE if op in ("<", "<=") else HUGE
        self.on_failure = inside if failed == "event" else -inside
        self.found: Recorded = recorded(settle(out, execution), self.fields, self.value)
        self.cursor = 0  # the recorded runs answered so far, in run-id order
        self.runs = 0
        self.error: BaseException | None = None

    def physical(self, u: np.ndarray) -> np.ndarray:
        """Map standard-normal points to the fields' values (tails kept finite)."""
        from scipy.stats import norm

        columns = []
        for i, dist in enumerate(self.dists):
            ui = u[:, i]
            low = dist.ppf(norm.cdf(np.minimum(ui, 0.0)))
            high = np.asarray(dist.frozen.isf(norm.sf(np.maximum(ui, 0.0))), dtype=float)
            columns.append(np.where(ui <= 0, low, high))
        return np.column_stack(columns)

    def __call__(self, block: Any) -> list[list[float]]:
        try:
            return self._answer(block)
        except BaseException as exc:  # OpenTURNS turns it into a RuntimeError: kept, raised
            self.error = exc
            raise

    def _answer(self, block: Any) -> list[list[float]]:
        x = self.physical(np.asarray(block, dtype=float).reshape(-1, len(self.fields)))
        n, start = len(x), self.cursor
        if start + n > len(self.found):
            if start < len(self.found):
                raise ConfigError(f"{self.out}: its runs do not end where a block does")
            rows = {f: x[:, i] for i, f in enumerate(self.fields)}
            sweep = grow(self.script, self.out, rows, self.fixed, self.execution)
            self.found = recorded(sweep, self.fields, self.value)
        held = self.found.x[start : start + n]
        if held.shape != x.shape or not np.array_equal(held, x):
            raise ConfigError(
                f"{self.out}: its runs {start}..{start + n - 1} are not the points this "
                "design asks for (another perturb=, event=, n=, p0= or seed= made them)"
            )
        self.cursor += n
        self.runs += n
        y = self.found.value[start : start + n].copy()
        y[~self.found.ok[start : start + n]] = self.on_failure
        if np.isnan(y).any():
            raise ConfigError(f"{self.value!r} is missing for an ok run: derive it for every run")
        return [[float(v)] for v in y]


def probability(
    script: str | os.PathLike[str],
    perturb: Mapping[str, Any],
    event: tuple[str, str, float],
    *,
    out: str | os.PathLike[str],
    method: Literal["subset", "monte-carlo"] = "subset",
    n: int = 1000,
    p0: float = 0.1,
    seed: int = 0,
    failed: Literal["event", "safe"] = "event",
    fixed: Mapping[str, Any] | None = None,
    **execution: Any,
) -> Probability:
    """Estimate the probability of a rare event over dispersed fields, flying every run.

    Parameters
    ----------
    script : path-like
        The GMAT mission script.
    perturb : mapping
        Each dispersed field's distribution, as for :func:`xsweep.monte_carlo`
        (``("normal", mu, sigma)``, ``("uniform", lo, hi)``, ``("lognormal",
        mu, sigma)`` or a frozen ``scipy.stats`` distribution); independent.
    event : (str, str, float)
        ``(value, op, threshold)``: a derived value (from ``derive=``), one of
        ``<``, ``<=``, ``>``, ``>=``, and the threshold, e.g.
        ``("Sat.Earth.Altitude_min", "<", 150.0)``.
    out : path-like
        The sweep directory (new, or one this function wrote with the same
        arguments: it goes on, or replays, from the recorded runs).
    method : {"subset", "monte-carlo"}
        OpenTURNS' ``SubsetSampling``, or plain Monte Carlo with ``n`` runs.
    n : int
        Runs per level (subset simulation), or all the runs (Monte Carlo).
    p0 : float
        Subset simulation's conditional probability per level (``n * p0``
        chains, each ``1 / p0`` runs long: both integers).
    seed : int
        OpenTURNS' random generator seed: the same seed, the same runs.
    failed : {"event", "safe"}
        Whether a failed run counts as in the event (a spacecraft that hit the
        Earth went below any altitude) or not.
    fixed : mapping, optional
        Constants every run gets.
    **execution
        :func:`xsweep.run`'s execution keywords (``workers``, ``derive``...).

    Returns
    -------
    Probability
        The estimate, its coefficient of variation, the runs spent.

    Raises
    ------
    ConfigError
        A bad event, ``n`` or ``p0``; the sweep at ``out`` made by other
        arguments; OpenTURNS missing (``pip install 'gmat-xsweep[rare]'``).
    """
    ot = _openturns()
    value, op, threshold = _event(event)
    block, outer = _sizes(method, n, p0)
    if failed not in ("event", "safe"):
        raise ConfigError(f"failed must be 'event' or 'safe', got {failed!r}")
    flights = _Flights(script, out, perturb, (value, op, threshold), failed, fixed, execution)
    d = len(flights.fields)
    model = ot.PythonFunction(d, 1, func_sample=flights)
    ot.RandomGenerator.SetSeed(int(seed))
    output = ot.CompositeRandomVector(model, ot.RandomVector(ot.Normal(d)))
    compare = {"<": ot.Less(), "<=": ot.LessOrEqual(), ">": ot.Greater(), ">=": ot.GreaterOrEqual()}
    threshold_event = ot.ThresholdEvent(output, compare[op], threshold)
    if method == "subset":
        algo = ot.SubsetSampling(threshold_event)
        algo.setConditionalProbability(p0)
    else:
        algo = ot.ProbabilitySimulationAlgorithm(threshold_event, ot.MonteCarloExperiment())
    algo.setBlockSize(block)
    algo.setMaximumOuterSampling(outer)
    try:
        algo.run()
    except Exception:
        if flights.error is not None:
            raise flights.error from None
        raise
    result = algo.getResult()
    sweep = close(out, execution)
    levels = tuple(float(t) for t in algo.getThresholdPerStep()) if method == "subset" else ()
    return Probability(
        estimate=float(result.getProbabilityEstimate()),
        cv=float(result.getCoefficientOfVariation()),
        runs=flights.runs,
        method=method,
        thresholds=levels,
        path=str(sweep.path),
        failed=sweep.counts["failed"],
    )


def _event(event: Any) -> tuple[str, str, float]:
    try:
        value, op, threshold = event
        threshold = float(threshold)
    except (TypeError, ValueError):
        raise ConfigError(f"event must be (value, op, threshold), got {event!r}") from None
    if not isinstance(value, str) or op not in _OPS or not math.isfinite(threshold):
        raise ConfigError(
            f"event must be (a derived value's name, one of {_OPS}, a finite threshold), "
            f"got {event!r}"
        )
    return value, op, threshold


def _sizes(method: str, n: Any, p0: Any) -> tuple[int, int]:
    """Return OpenTURNS' block size and number of blocks (a level's, for subset simulation)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ConfigError(f"n must be an integer >= 2, got {n!r}")
    if method == "monte-carlo":
        return n, 1
    if method != "subset":
        raise ConfigError(f"method must be 'subset' or 'monte-carlo', got {method!r}")
    if not isinstance(p0, float) or not 0 < p0 <= 0.5:
        raise ConfigError(f"p0 must be a float in (0, 0.5], got {p0!r}")
    chains, length = n * p0, 1 / p0
    if abs(chains - round(chains)) > 1e-9 or abs(length - round(length)) > 1e-9:
        raise ConfigError(f"n * p0 and 1 / p0 must be integers, got n={n}, p0={p0}")
    return round(chains), round(length)
