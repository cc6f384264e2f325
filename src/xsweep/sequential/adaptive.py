"""Adaptive sampling with python-adaptive's learners: ``xs.adapt``.

A learner (``Learner1D``, ``Learner2D`` or ``LearnerND``, by the number of
fields) is told every recorded run and asked for the next batch; each batch
grows the sweep (:mod:`xsweep.sequential.loop`). Three modes:

- ``value=<derived name>``: sample a derived value where it changes most
  (the learner's own loss, or ``loss=``);
- ``value=<derived name>, threshold=t``: find the level set ``value == t``;
- ``value="ok"``: find the boundary between ok and failed runs.

The two boundary modes learn a class per run (1: ok and at or above the
threshold; 0: below it, or failed, unless ``failed_as=``), and their loss
weighs a cell by its size when its corners disagree and by a small fraction
of it otherwise, so the runs go to the cells the boundary crosses. A failed
run is data there, never a crash.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from xsweep.analysis.handle import Sweep
from xsweep.core.errors import ConfigError
from xsweep.sequential.loop import Recorded, batch_size, close, grow, recorded, settle

OK = "ok"  # value= for the ok/failed boundary
FLOOR = 0.05  # a cell the boundary does not cross weighs this fraction of its size


def _adaptive() -> Any:
    try:
        import adaptive
    except ImportError:
        raise ConfigError(
            "xs.adapt needs python-adaptive: pip install 'gmat-xsweep[adaptive]'"
        ) from None
    return adaptive


def boundary_interval(xs: Any, ys: Any) -> float:
    """Learner1D loss: an interval's width, full where its ends' classes differ."""
    width = float(xs[1] - xs[0])
    return width if ys[0] != ys[1] else FLOOR * width


def boundary_triangles(ip: Any) -> np.ndarray:
    """Learner2D loss: a crossed triangle's longest edge; another's size, times FLOOR.

    The longest edge of a crossed triangle bounds how well it locates the
    boundary (see :func:`crossings`), so that is what is made small.
    """
    from adaptive.learner.learner2D import areas

    simplices = ip.tri.simplices
    values = np.asarray(ip.values)[simplices].reshape(len(simplices), -1)
    corners = np.asarray(ip.points)[simplices]  # (n, 3, 2), the learner's scaled square
    longest = np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2).max(axis=1)
    crossed = values.max(axis=1) != values.min(axis=1)
    return np.asarray(np.where(crossed, longest, FLOOR * np.sqrt(areas(ip))), dtype=float)


def boundary_simplex(simplex: Any, values: Any, value_scale: float) -> float:
    """LearnerND loss: a simplex's size (its volume's d-th root), full where crossed."""
    from adaptive.learner.learnerND import volume

    points = np.asarray(simplex, dtype=float)
    size = float(np.power(float(volume(points)), 1.0 / points.shape[1]))
    spread = float(np.ptp(np.asarray(values, dtype=float)))
    return size if spread > 0 else FLOOR * size


def classes(
    found: Recorded, value: str, threshold: float | None, failed_as: float | None
) -> np.ndarray:
    """Return what the learner is told for each recorded run (NaN: left out)."""
    if value == OK:
        return found.ok.astype(float)
    y = found.value.copy()
    if failed_as is not None:
        y[~found.ok] = failed_as
    elif threshold is not None:
        y[~found.ok] = -math.inf  # a failed run is below any threshold
    if threshold is None:
        return y
    return np.where(np.isnan(y), np.nan, (y >= threshold).astype(float))


def learner_for(bounds: Mapping[str, tuple[float, float]], boundary: bool, loss: Any) -> Any:
    """Return a fresh learner over ``bounds`` (its function is never called: runs are)."""
    adaptive = _adaptive()
    limits = [(float(a), float(b)) for a, b in bounds.values()]
    if len(limits) == 1:
        chosen = loss or (boundary_interval if boundary else None)
        return adaptive.Learner1D(None, bounds=limits[0], loss_per_interval=chosen)
    if len(limits) == 2:
        chosen = loss or (boundary_triangles if boundary else None)
        return adaptive.Learner2D(None, bounds=limits, loss_per_triangle=chosen)
    chosen = loss or (boundary_simplex if boundary else None)
    return adaptive.LearnerND(None, bounds=limits, loss_per_simplex=chosen)


def rebuilt(
    bounds: Mapping[str, tuple[float, float]], found: Recorded, told: np.ndarray, spec: Any
) -> Any:
    """Return a learner told every recorded run (in run-id order) that has a value."""
    learner = learner_for(bounds, spec["boundary"], spec["loss"])
    for x, y in zip(found.x, told, strict=True):
        point = float(x[0]) if len(x) == 1 else tuple(map(float, x))
        if np.isfinite(y):
            learner.tell(point, float(y))
        else:  # a failed run without a value: never asked for again
            learner.tell_pending(point)
    return learner


def adapt(
    script: str | os.PathLike[str],
    bounds: Mapping[str, tuple[float, float]],
    *,
    out: str | os.PathLike[str],
    value: str = OK,
    threshold: float | None = None,
    goal: int | float = 100,
    max_runs: int = 10_000,
    batch: int | None = None,
    loss: Callable[..., Any] | None = None,
    failed_as: float | None = None,
    fixed: Mapping[str, Any] | None = None,
    **execution: Any,
) -> Sweep:
    """Sample a mission adaptively: each batch where python-adaptive's learner wants it.

    The runs go in one sweep directory, on the ``sample`` dim, in batches (one
    :func:`xsweep.extend` each), until ``goal``. Calling it again on the same
    ``out`` goes on from the recorded runs (after a crash too: the cut-off
    batch is finished first), with a larger ``goal`` to ask for more.

    Parameters
    ----------
    script : path-like
        The GMAT mission script.
    bounds : mapping of str to (float, float)
        The fields sampled and their ranges: one, two or more fields
        (``Learner1D``, ``Learner2D``, ``LearnerND``).
    out : path-like
        The sweep directory (new, or one this function wrote).
    value : str
        ``"ok"`` (the ok/failed boundary), or a derived value the ``derive=``
        functions give (e.g. ``xs.derived.minimum("Sat.Earth.Altitude")``'s
        ``"Sat.Earth.Altitude_min"``).
    threshold : float, optional
        Find the level set ``value == threshold`` instead of the whole function.
    goal : int or float
        An int: the runs the sweep should have. A float: the learner's loss to
        reach (stopping at ``max_runs`` at the latest).
    max_runs : int
        The most runs, whatever the goal.
    batch : int, optional
        Points a batch asks for (default: 4 a worker; each batch is one
        :func:`xsweep.extend`, about 0.3 s of its own).
    loss : callable, optional
        A python-adaptive loss (``loss_per_interval``, ``loss_per_triangle`` or
        ``loss_per_simplex``, by dimension) instead of the mode's.
    failed_as : float, optional
        The value a failed run counts as. Default: below any threshold in the
        level-set mode; left out (never asked again) when sampling a value.
    fixed : mapping, optional
        Constants every run gets (as :func:`xsweep.fixed`).
    **execution
        :func:`xsweep.run`'s execution keywords (``workers``, ``derive``,
        ``progress``...), for every batch.

    Returns
    -------
    Sweep
        The grown sweep; ``xs.open_sweep(out)`` has the points on ``sample``.

    Raises
    ------
    ConfigError
        Bad bounds, goal or batch; ``value`` not derived by the runs;
        python-adaptive missing (``pip install 'gmat-xsweep[adaptive]'``).
    """
    _check(bounds, value, goal, max_runs)
    spec = {"boundary": value == OK or threshold is not None, "loss": loss}
    fields = list(bounds)
    size = batch_size(batch, execution)
    target = goal if isinstance(goal, int) else max_runs
    sweep = settle(out, execution)
    while True:
        found = recorded(sweep, fields, None if value == OK else value)
        learner = rebuilt(bounds, found, classes(found, value, threshold, failed_as), spec)
        n = len(found)
        reached = isinstance(goal, float) and n > 0 and learner.loss() <= goal
        if n >= min(target, max_runs) or reached:
            break
        points, _ = learner.ask(min(size, min(target, max_runs) - n), tell_pending=False)
        rows = np.asarray(points, dtype=float).reshape(len(points), len(fields))
        sweep = grow(script, out, {f: rows[:, i] for i, f in enumerate(fields)}, fixed,
                     execution)  # fmt: skip
    return close(out, execution)


def _check(bounds: Mapping[str, tuple[float, float]], value: str, goal: Any, max_runs: Any) -> None:
    if not isinstance(bounds, Mapping) or not bounds:  # type: ignore[redundant-expr]
        raise ConfigError("bounds must map each field to its (low, high) range")
    for name, pair in bounds.items():
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ConfigError(f"bounds[{name!r}] must be (low, high), got {pair!r}") from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ConfigError(f"bounds[{name!r}] must be finite with low < high, got {pair!r}")
    if not isinstance(value, str) or not value:  # type: ignore[redundant-expr]
        raise ConfigError(f"value must be 'ok' or a derived value's name, got {value!r}")
    if isinstance(goal, bool) or not isinstance(goal, int | float) or goal <= 0:
        raise ConfigError(f"goal must be a number of runs (int) or a loss (float), got {goal!r}")
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise ConfigError(f"max_runs must be a positive integer, got {max_runs!r}")


def crossings(
    path: str | os.PathLike[str] | Sweep,
    bounds: Mapping[str, tuple[float, float]],
    *,
    value: str = OK,
    threshold: float | None = None,
    failed_as: float | None = None,
) -> Any:
    """Return where a sampled boundary lies: the edges whose two runs fall on either side.

    The recorded runs are triangulated (Delaunay, on coordinates scaled by
    ``bounds``) and every edge whose ends differ in class is one row: its
    midpoint in each field, and ``gap``, its length in units of the bounds.
    The boundary crosses every such edge, so the largest ``gap`` is the
    tolerance to which it is located (a grid of step ``h`` has ``h`` at best).

    Returns
    -------
    pandas.DataFrame
        One row per crossed edge: the fields' midpoint values and ``gap``.
    """
    import pandas as pd

    sweep = path if isinstance(path, Sweep) else Sweep(path)
    fields = list(bounds)
    found = recorded(sweep, fields, None if value == OK else value)
    if value != OK and threshold is None:
        raise ConfigError(f"the crossings of {value!r} need threshold= (its level set)")
    told = classes(found, value, threshold, failed_as)
    keep = np.isfinite(told)
    low = np.asarray([b[0] for b in bounds.values()], float)
    span = np.asarray([b[1] for b in bounds.values()], float) - low
    x, y = (found.x[keep] - low) / span, told[keep]
    edges = _edges(x)
    crossed = edges[y[edges[:, 0]] != y[edges[:, 1]]]
    middle = (x[crossed[:, 0]] + x[crossed[:, 1]]) / 2 * span + low
    gap = np.linalg.norm(x[crossed[:, 0]] - x[crossed[:, 1]], axis=1)
    return pd.DataFrame({**{f: middle[:, i] for i, f in enumerate(fields)}, "gap": gap})


def _edges(x: np.ndarray) -> np.ndarray:
    """Return the unique edges ``(i, j)`` of the points' Delaunay triangulation (1-D: in order)."""
    if x.shape[1] == 1:
        order = np.argsort(x[:, 0], kind="stable")
        return np.column_stack([order[:-1], order[1:]])
    from scipy.spatial import Delaunay

    simplices = Delaunay(x).simplices
    pairs = [simplices[:, [i, j]] for i in range(simplices.shape[1]) for j in range(i)]
    return np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)
