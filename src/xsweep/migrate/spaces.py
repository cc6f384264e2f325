"""A gmat-sweep ``parameter_spec`` as an xsweep space, checked against the recorded runs.

- ``grid`` (or no ``_kind``): :func:`xsweep.grid` over its keys in sorted order,
  which is gmat-sweep's run order (``full_factorial``: the first key slowest).
  gmat-sweep records the keys sorted, not in the order the user gave them.
- ``explicit``: :func:`xsweep.samples` of its rows.
- ``monte_carlo`` with an integer seed: gmat-sweep's own draws
  (:mod:`xsweep.space.gmat_sweep`), so ``xs.extend`` continues them.
- ``latin_hypercube`` with an integer seed: its ``n`` rows redrawn as gmat-sweep
  draws them (``scipy.stats.qmc.LatinHypercube(d, seed=seed)``, sorted keys),
  as explicit samples: a Latin hypercube cannot grow and keep its strata.

Every recorded run's overrides must equal its point of the rebuilt space,
value for value. Where a recipe cannot be rebuilt (no seed, a distribution
xsweep does not rebuild, draws that differ here), the space is the recorded
runs as explicit samples, and the reason is said; runs never recorded then
cannot be rerun, so the runs are numbered anew and a ``gmat_sweep_run_id``
coordinate keeps gmat-sweep's numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from xsweep.core.errors import ConfigError, SpaceError
from xsweep.migrate.reading import Entry, Header
from xsweep.space.designs import grid, samples
from xsweep.space.draws import Distribution, parse_distribution
from xsweep.space.gmat_sweep import METHOD, gmat_sweep_draws
from xsweep.space.growth import check_run_count
from xsweep.space.joint import recipe_text
from xsweep.space.spaces import Space
from xsweep.space.validation import DRAW_ATTR

RUN_ID_COORD = "gmat_sweep_run_id"
_SHORTHANDS = {"normal": "normal", "uniform": "uniform", "lognormal": "lognormal"}


class Unrebuilt(Exception):
    """The recipe cannot be rebuilt here; the message says why."""


def rebuild(header: Header, entries: Mapping[int, Entry]) -> tuple[Space, dict[int, int], str]:
    """Return the space, each recorded run's id in it (by gmat-sweep's id), and how it was made.

    Raises
    ------
    ConfigError
        The recorded runs cannot be a space at all (a column some runs do not set).
    """
    spec = header.parameter_spec
    kind = spec.get("_kind")
    runs = [e for e in entries.values() if e.status != "skipped"]
    total = max([header.run_count, *(e.run_id + 1 for e in runs)])
    try:
        check_run_count(total)
        if kind in (None, "grid"):
            space, how = _grid(spec), "grid"
        elif kind == "explicit":
            space, how = _explicit(spec), "explicit samples"
        elif kind == "monte_carlo":
            space, how = _monte_carlo(spec, total), "gmat-sweep's seeded Monte Carlo draws"
        elif kind == "latin_hypercube":
            space, how = _latin(spec), "gmat-sweep's seeded Latin hypercube, as samples"
        else:
            raise Unrebuilt(f"an unknown parameter_spec _kind {kind!r}")
        _check(space, runs)
        return space, {e.run_id: e.run_id for e in runs}, how
    except (Unrebuilt, SpaceError) as exc:
        why = str(exc)
    space, ids = _recorded(runs)
    how = f"the recorded runs as explicit samples ({why})"
    warnings.warn(f"the space is {how}", UserWarning, stacklevel=3)  # to import_sweep's caller
    return space, ids, how


def _grid(spec: Mapping[str, Any]) -> Space:
    axes = {k: v for k, v in sorted(spec.items()) if k != "_kind"}
    if not axes or not all(isinstance(v, list) and v for v in axes.values()):
        raise Unrebuilt("a grid whose values are not lists")
    check_run_count(math.prod(len(v) for v in axes.values()))
    return Space(grid(axes))


def _explicit(spec: Mapping[str, Any]) -> Space:
    columns, rows = spec.get("columns"), spec.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise Unrebuilt("explicit samples without columns and rows")
    if not all(isinstance(r, list) and len(r) == len(columns) for r in rows) or not rows:
        raise Unrebuilt("explicit rows of the wrong length")
    table = {str(c): [r[i] for r in rows] for i, c in enumerate(columns)}
    for name, values in table.items():
        if any(v is None for v in values):
            raise ConfigError(
                f"{name} is set in some runs and not in others: an xsweep run sets every field "
                "of its space, so this sweep cannot be imported"
            )
    return Space(samples(table))


def _distribution(field: str, spec: Any) -> Distribution:
    """Rebuild a serialised gmat-sweep distribution: its shorthands, or a scipy one by name."""
    if isinstance(spec, list) and spec and spec[0] in _SHORTHANDS:
        return parse_distribution(field, tuple(spec))
    if isinstance(spec, Mapping) and set(spec) <= {"name", "args", "kwds"}:
        import scipy.stats

        name, args, kwds = spec.get("name"), spec.get("args", []), spec.get("kwds", {})
        dist = getattr(scipy.stats, str(name), None)
        numbers = [*args, *kwds.values()] if isinstance(kwds, Mapping) else [None]
        if (
            isinstance(dist, scipy.stats.rv_continuous)
            and isinstance(args, list)
            and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in numbers
            )
        ):
            return parse_distribution(field, dist(*args, **kwds))
    raise Unrebuilt(f"{field}: a distribution xsweep does not rebuild ({str(spec)[:80]})")


def _perturb(spec: Mapping[str, Any]) -> tuple[dict[str, Distribution], int, int]:
    perturb, seed, n = spec.get("perturb"), spec.get("seed"), spec.get("n")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise Unrebuilt("drawn without a seed, so the draws cannot be redrawn")
    if not isinstance(perturb, Mapping) or not perturb:
        raise Unrebuilt("no perturb specs recorded")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise Unrebuilt(f"n={n!r} is not a positive integer")
    check_run_count(n)
    return {str(k): _distribution(str(k), v) for k, v in sorted(perturb.items())}, seed, n


def _monte_carlo(spec: Mapping[str, Any], total: int) -> Space:
    dists, seed, _ = _perturb(spec)
    data = {}
    for name, dist in dists.items():
        if dist.recipe is None:
            raise Unrebuilt(f"{name}: its distribution cannot be recorded")
        recipe = {"method": METHOD, "entropy": seed, "dim": "sample", "blocks": [total],
                  "dist": dist.recipe}  # fmt: skip
        values = gmat_sweep_draws(seed, name, dist, total)
        data[name] = xr.Variable(("sample",), values, attrs={DRAW_ATTR: recipe_text(recipe)})
    return Space(xr.Dataset(data, coords={"sample": np.arange(total, dtype=np.int64)}))


def _latin(spec: Mapping[str, Any]) -> Space:
    from scipy.stats import qmc

    dists, seed, n = _perturb(spec)
    with warnings.catch_warnings():  # gmat-sweep passes seed=, which scipy may deprecate
        warnings.simplefilter("ignore")
        unit = qmc.LatinHypercube(len(dists), seed=seed).random(n)
    return Space(samples({k: d.ppf(unit[:, i]) for i, (k, d) in enumerate(dists.items())}))


def _check(space: Space, runs: list[Entry]) -> None:
    """Raise Unrebuilt unless every recorded run's overrides are its point of ``space``."""
    for entry in runs:
        if entry.run_id >= space.n_runs:
            raise Unrebuilt(f"run {entry.run_id} is past the spec's {space.n_runs} runs")
        point = space.run(entry.run_id).overrides
        if set(point) != set(entry.overrides):
            raise Unrebuilt(
                f"run {entry.run_id} sets {sorted(entry.overrides)}, not {sorted(point)}"
            )
        for name, value in point.items():
            got = entry.overrides[name]
            if got != _plain(value) or isinstance(got, bool) != isinstance(_plain(value), bool):
                raise Unrebuilt(
                    f"run {entry.run_id}: {name} is {got!r}, the spec gives {_plain(value)!r}"
                )


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _recorded(runs: list[Entry]) -> tuple[Space, dict[int, int]]:
    if not runs:
        raise ConfigError("the sweep records no run, and its parameter_spec cannot be rebuilt")
    names = sorted(runs[0].overrides)
    if any(sorted(e.overrides) != names for e in runs):
        raise ConfigError("its runs set different fields: they cannot be one space")
    table = samples({k: [e.overrides[k] for e in runs] for k in names})
    table = table.assign_coords({RUN_ID_COORD: ("sample", [e.run_id for e in runs])})
    return Space(table), {e.run_id: i for i, e in enumerate(runs)}
