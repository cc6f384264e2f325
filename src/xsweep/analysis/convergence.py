"""Convergence of Monte Carlo statistics, and extending a sweep until they converge.

:func:`convergence` gives the running mean, standard deviation and chosen
quantiles of a per-run value as the sample grows, each with its standard error,
at a geometric ladder of sample counts. :func:`extend_until` grows a Monte
Carlo sweep in batches (each one a plain :func:`xsweep.extend`, so bit-equal to
it) until the mean's confidence interval is narrow enough, or ``max_runs``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from xsweep.analysis.runs import refuse_summary_only
from xsweep.core.errors import ConfigError

Z95 = 1.959963984540054  # the two-sided 95 % normal quantile


def per_run_values(ds: xr.Dataset, var: str, dim: str) -> xr.DataArray:
    """Return ``var`` with ``dim`` first, refusing a series (one value per run is needed)."""
    if var not in ds:
        raise ConfigError(f"no variable {var!r}; it has {sorted(map(str, ds.data_vars))}")
    refuse_summary_only(ds, var, "one value per run")
    y = ds[var]
    if dim not in y.dims:
        raise ConfigError(f"{var!r} has no dim {dim!r} (its dims are {y.dims})")
    axes = [a for a in ("step", "interval", "iteration") if a in y.dims]
    if axes:
        raise ConfigError(
            f"{var!r} is a series over {axes[0]!r}: take one value per run first "
            "(ds.xsweep.final(), a derived quantity, or .isel(step=-1))"
        )
    return y.transpose(dim, ...)


def _ladder(n: int) -> np.ndarray:
    """Sample counts at which to evaluate: geometric from 2 to ``n``, ``n`` included."""
    if n < 2:
        return np.asarray([n], dtype=np.int64)
    steps = np.unique(np.geomspace(2, n, num=min(n - 1, 40)).round().astype(np.int64))
    return np.union1d(steps, [n])


def convergence(
    ds: xr.Dataset, var: str, *, dim: str = "sample", q: Sequence[float] = (0.05, 0.5, 0.95)
) -> xr.Dataset:
    """Return running statistics of ``var`` as the sample along ``dim`` grows.

    Over a new dim ``n`` (sample counts, geometric up to all of them), with
    the variable's other dims kept: ``count`` (finite values among the first
    ``n``: a failed run is NaN and does not count), ``mean`` and ``mean_se``
    (its standard error), ``std``, and over ``quantile``: ``q_value`` and
    ``q_lo`` / ``q_hi`` (a distribution-free 95 % interval:
    the order statistics at ``n q -/+ 1.96 sqrt(n q (1 - q))``).

    Parameters
    ----------
    ds : xarray.Dataset
        An opened sweep (its ``final()``, derived values, or its summaries:
        ``open_sweep(path, summary=True)``, followed over ``stat``).
    var : str
        One value per run (not a series).
    dim : str
        The sample dim.
    q : sequence of float
        Quantiles to follow.

    Returns
    -------
    xarray.Dataset
    """
    y = per_run_values(ds, var, dim).load()
    values = np.asarray(y.values, dtype=np.float64)
    ns = _ladder(values.shape[0])
    qs = np.asarray(q, dtype=np.float64)
    if np.any((qs <= 0) | (qs >= 1)):
        raise ConfigError(f"quantiles must lie in (0, 1), got {list(q)}")
    rest = values.shape[1:]
    out = {name: np.full((len(ns), *rest), np.nan) for name in ("count", "mean", "mean_se", "std")}
    for name in ("q_value", "q_lo", "q_hi"):
        out[name] = np.full((len(ns), len(qs), *rest), np.nan)
    for i, n in enumerate(ns):
        head = values[:n]
        finite = np.isfinite(head)
        count = finite.sum(axis=0)
        out["count"][i] = count
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nanmean(np.where(finite, head, np.nan), axis=0) if count.any() else np.nan
            std = np.nanstd(head, axis=0, ddof=1) if (count > 1).any() else np.nan
            out["mean"][i], out["std"][i] = mean, std
            out["mean_se"][i] = std / np.sqrt(count)
        ordered = np.sort(np.where(finite, head, np.inf), axis=0)  # NaN last, as inf
        for j, qq in enumerate(qs):
            for pos in np.ndindex(*rest):
                k = int(count[pos]) if rest else int(count)
                if k < 2:
                    continue
                column = ordered[(slice(None), *pos)][:k]
                half = Z95 * np.sqrt(k * qq * (1 - qq))
                lo = int(np.clip(np.floor(k * qq - half), 0, k - 1))
                hi = int(np.clip(np.ceil(k * qq + half), 0, k - 1))
                out["q_value"][(i, j, *pos)] = np.quantile(column, qq)
                out["q_lo"][(i, j, *pos)] = column[lo]
                out["q_hi"][(i, j, *pos)] = column[hi]
    others = [str(d) for d in y.dims[1:]]
    data = {k: (("n", *others), v) for k, v in out.items() if v.ndim == 1 + len(others)}
    data |= {k: (("n", "quantile", *others), v) for k, v in out.items() if k.startswith("q_")}
    coords = {"n": ns, "quantile": qs, **{d: y[d].values for d in others if d in y.coords}}
    result = xr.Dataset(data, coords=coords)
    result.attrs = {"variable": var, "dim": dim}
    return result
