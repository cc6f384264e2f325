"""Plots of an opened sweep, on ``ds.xsweep.plot``: every one shows the failed runs.

A failed run has no data, only its point in parameter space, so each plot
marks it where it can (a red cross at its inputs, a tick on the input axis,
a hatched cell) and counts it in the legend: a plot never looks complete
when runs are missing from it. matplotlib is the ``[plot]`` extra.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from xsweep.analysis.convergence import convergence
from xsweep.analysis.tables import final, on_time_grid
from xsweep.core.errors import ConfigError
from xsweep.core.vocabulary import STATUS_FLAGS

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

HINT = "xsweep's plots need matplotlib: pip install 'gmat-xsweep[plot]'"
COLORS = {"ok": "#2a9d8f", "failed": "#d62828", "pending": "#adb5bd"}
_AXES = ("step", "interval", "iteration")
_FAILED: dict[str, Any] = {"marker": "x", "color": COLORS["failed"], "linestyle": "none"}
# Status flag to severity (ok < pending < failed), and back: the map is its own inverse.
_SEVERITY = np.array([1, 0, 2])


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(HINT) from None
    return plt


def _axes(ax: Axes | None) -> Axes:
    return ax if ax is not None else _pyplot().subplots()[1]


def _failed_label(n: int, total: int, what: str = "no data") -> str:
    return f"{n} of {total} runs failed ({what})"


class SweepPlots:
    """The plot helpers of an opened sweep: ``ds.xsweep.plot.band(...)`` and the rest.

    Each draws on ``ax`` when given (else a new figure) and returns the
    matplotlib Axes (``corner``: the Figure). Failed runs are drawn in red
    and counted in the legend. Needs the ``[plot]`` extra (matplotlib).

    Parameters
    ----------
    dataset : xarray.Dataset
        One output of a sweep (:func:`xsweep.open_sweep`), or its ``final()``
        or derived values: it needs the ``status`` variable.
    """

    def __init__(self, dataset: xr.Dataset) -> None:
        self._ds = dataset

    # -- what every plot needs --

    @functools.cached_property
    def _final(self) -> xr.Dataset:
        """Each run's last row: found once, for every output variable a plot asks for."""
        return final(self._ds)

    def _status(self) -> xr.DataArray:
        if "status" not in self._ds:
            raise ConfigError("plots need an opened sweep (its 'status' variable); see open_sweep")
        return self._ds["status"].compute()

    def _run_values(self, name: str) -> xr.DataArray:
        """One value per run: a parameter, a derived value, or an output's final value."""
        ds = self._ds
        if name not in ds.variables:
            known = [str(v) for v in ds.data_vars if v not in ("error", "reason")]
            raise ConfigError(f"{name!r} is not in this sweep; it has {sorted(known)[:12]}")
        if any(a in ds[name].dims for a in _AXES):
            return self._final[name].compute()
        status = self._status()
        return ds[name].compute().broadcast_like(status)

    def _flat(self, *names: str) -> tuple[list[np.ndarray], np.ndarray]:
        """Values of ``names`` and the status codes, one entry per run."""
        status = self._status()
        out = [
            np.asarray(self._run_values(n).transpose(*status.dims).values).ravel() for n in names
        ]
        return out, np.asarray(status.values).ravel()

    # -- the plots --

    def band(self, var: str, *, over: str = "sample", q: Sequence[float] = (0.05, 0.5, 0.95),
             step: float | None = None, ax: Axes | None = None) -> Axes:  # fmt: skip
        """Draw the quantile band of a time series over a dim, on a common time grid.

        The runs are put on one elapsed-time axis (:func:`xsweep.on_time_grid`,
        every ``step`` seconds), then the middle quantile is a line and the
        outer ones a shaded band, one per value of any other dim. Of a streaming
        envelope (``open_sweep(path, envelope=True)``), its own quantiles are
        drawn (``over``, ``q`` and ``step`` are the envelope's).

        Parameters
        ----------
        var : str
            A time-series output variable (``"Sat.Earth.Altitude"``).
        over : str
            The dim the quantiles are taken over (the Monte Carlo samples).
        q : sequence of float
            Quantiles: the first and last bound the band, the middle one is
            the line (three or more).
        step : float, optional
            The time grid's spacing in seconds (default: the longest run's times).
        ax : matplotlib Axes, optional
        """
        if len(q) < 3 or sorted(q) != list(q):
            raise ConfigError(f"q needs three or more increasing quantiles, got {list(q)}")
        if "xsweep_envelope" in self._ds.attrs:
            return self._envelope_band(var, ax)
        if over not in self._ds.dims:
            raise ConfigError(f"over={over!r} is not a dim of this sweep: {list(self._ds.dims)}")
        ax = _axes(ax)
        grid = on_time_grid(self._ds, step=step)  # lazy: only var is computed
        values = grid[var].compute()
        quant = values.quantile(list(q), dim=over, skipna=True)
        rest = [d for d in quant.dims if d not in ("quantile", "time")]
        groups = list(quant.stack(_g=rest).transpose("_g", ...)) if rest else [quant]
        t = grid["time"].values
        for group in groups:
            label = ", ".join(f"{d}={group[d].item()}" for d in rest) or var
            mid = group.isel(quantile=len(q) // 2).values
            (line,) = ax.plot(t, mid, label=f"{label} (q={q[len(q) // 2]:g})")
            ax.fill_between(t, group.isel(quantile=0).values, group.isel(quantile=-1).values,
                            color=line.get_color(), alpha=0.25, linewidth=0)  # fmt: skip
        status = self._status()
        failed = int((status == STATUS_FLAGS["failed"]).sum())
        if failed:
            ax.plot([], [], **_FAILED, label=_failed_label(failed, status.size, "not in band"))
        ax.set_xlabel("elapsed time [s]")
        ax.set_ylabel(_label(self._ds, var))
        ax.set_title(f"{var}: q={q[0]:g}..{q[-1]:g} over {over}")
        ax.legend(fontsize="small")
        return ax

    def _envelope_band(self, var: str, ax: Axes | None) -> Axes:
        """Draw a streaming envelope (``open_sweep(..., envelope=True)``): its own quantiles.

        The outermost quantiles bound the band, the middle one is the line, the
        mean a dashed line; the x axis in hours past two hours of elapsed time.
        """
        ax = _axes(ax)
        env = self._ds
        if var not in env or "quantile" not in env[var].dims:
            raise ConfigError(f"{var!r} is not a column of this envelope: {list(env.data_vars)}")
        qs = env["quantile"].values
        t = env["elapsed_s"].values
        hours = t.size > 0 and t[-1] > 7200
        x = t / 3600.0 if hours else t
        values = env[var].values
        mid = len(qs) // 2
        (line,) = ax.plot(x, values[:, mid], label=f"q={qs[mid]:g}")
        ax.fill_between(x, values[:, 0], values[:, -1], color=line.get_color(), alpha=0.25,
                        linewidth=0, label=f"q={qs[0]:g}..{qs[-1]:g}")  # fmt: skip
        if f"{var}_mean" in env:
            ax.plot(x, env[f"{var}_mean"].values, ls="--", color="0.3", lw=1, label="mean")
        runs = env.attrs.get("runs")
        ax.set_xlabel("elapsed time [h]" if hours else "elapsed time [s]")
        ax.set_ylabel(_label(env, var))
        ax.set_title(f"{var}: envelope of {runs} runs" if runs else var)
        ax.legend(fontsize="small")
        return ax

    def heatmap(self, var: str, *, x: str, y: str, ax: Axes | None = None,
                **kwargs: Any) -> Axes:  # fmt: skip
        """Draw one value per run over two dims; failed cells are crossed out in red.

        Parameters
        ----------
        var : str
            A derived value, or an output variable (its final value is shown).
        x, y : str
            The two dims. Select any other dim first (``ds.sel(...)``).
        ax : matplotlib Axes, optional
        **kwargs
            Passed on to :meth:`xarray.DataArray.plot.pcolormesh`.
        """
        ax = _axes(ax)
        values = self._two_dims(self._run_values(var), x, y)
        status = self._two_dims(self._status(), x, y)
        values.plot.pcolormesh(x=x, y=y, ax=ax, **kwargs)
        self._mark_failed_cells(ax, status, x, y)
        ax.set_title(f"{var}" + (" (final)" if any(a in self._ds[var].dims for a in _AXES) else ""))
        return ax

    def status(self, *, x: str | None = None, y: str | None = None,
               ax: Axes | None = None) -> Axes:  # fmt: skip
        """Draw where the sweep is ok, failed or pending in parameter space.

        Over two dims (default: the first two) a grid of coloured cells;
        with ``x`` and ``y`` fields on one dim (Monte Carlo inputs) a scatter.
        Over other dims a cell shows its worst run: failed, then pending.
        """
        plt = _pyplot()
        ax = _axes(ax)
        codes = self._status()
        dims = [str(d) for d in codes.dims]
        x = x or dims[0]
        y = y or (dims[1] if len(dims) > 1 else None)
        counts = {k: int((codes == v).sum()) for k, v in STATUS_FLAGS.items()}
        if x in dims and (y is None or y in dims):
            worst = _worst(codes, [d for d in dims if d not in (x, y)])
            if y is None:
                worst = worst.expand_dims(_row=[0])
            cmap = plt.matplotlib.colors.ListedColormap([COLORS[k] for k in STATUS_FLAGS])
            worst.plot.pcolormesh(x=x, y=y or "_row", ax=ax, cmap=cmap, vmin=-0.5, vmax=2.5,
                                  add_colorbar=False)  # fmt: skip
            if y is None:
                ax.set_yticks([])
                ax.set_ylabel("")
        else:
            (xs_, ys_), flat = self._flat(x, y or x)
            for name, code in STATUS_FLAGS.items():
                pick = flat == code
                ax.scatter(xs_[pick], ys_[pick], s=14, color=COLORS[name],
                           marker="x" if name == "failed" else "o")  # fmt: skip
            ax.set_xlabel(x)
            ax.set_ylabel(y or x)
        handles = [
            plt.matplotlib.patches.Patch(color=COLORS[k], label=f"{k}: {counts[k]}")
            for k in STATUS_FLAGS
        ]
        ax.legend(handles=handles, fontsize="small", loc="best")
        ax.set_title(f"run status over {x}" + (f" x {y}" if y else ""))
        return ax

    def scatter(self, x: str, y: str, *, hue: str | None = None,
                ax: Axes | None = None) -> Axes:  # fmt: skip
        """Scatter one value per run against another, coloured by ``hue``.

        Each of ``x``, ``y``, ``hue`` is a parameter, a derived value or an
        output (its final value). A failed run is a red cross at its inputs,
        or a red tick on the x axis when ``y`` is an output it lacks.
        """
        plt = _pyplot()
        ax = _axes(ax)
        names = [x, y] + ([hue] if hue else [])
        values, codes = self._flat(*names)
        ok = codes == STATUS_FLAGS["ok"]
        art = ax.scatter(values[0][ok], values[1][ok], c=values[2][ok] if hue else None, s=16)
        if hue:
            plt.colorbar(art, ax=ax, label=hue)
        self._mark_failed_points(ax, values[0], values[1], codes)
        ax.set_xlabel(_label(self._ds, x))
        ax.set_ylabel(_label(self._ds, y))
        return ax

    def contour(self, x: str, y: str, var: str | None = None, *, level: float | None = None,
                ax: Axes | None = None) -> Axes:  # fmt: skip
        """Contour scattered samples (an adaptive sweep's) over a triangulation, boundary drawn.

        With ``var``: its filled contours over the ok runs, and the level set
        ``var == level`` as a black line when ``level`` is given. Without: the
        boundary between ok and failed runs (where the ok indicator is 0.5).
        Each sample is a dot, a failed one a red cross.
        """
        plt = _pyplot()
        from matplotlib.tri import Triangulation

        ax = _axes(ax)
        values, codes = self._flat(x, y, *([var] if var else []))
        ok = codes == STATUS_FLAGS["ok"]
        done = ok | (codes == STATUS_FLAGS["failed"])
        at: float | None = 0.5
        if var is None:
            z, where = ok.astype(float), done
        else:
            z, where, at = values[2], ok & np.isfinite(values[2]), level
        if where.sum() < 3:
            raise ConfigError(f"a contour needs 3 runs with a value; this sweep has {where.sum()}")
        px, py = values[0][where], values[1][where]
        # Triangulated on axes scaled alike: raw units (km against an eccentricity) give
        # slivers across the boundary.
        scaled = Triangulation((px - px.min()) / np.ptp(px), (py - py.min()) / np.ptp(py))
        mesh = Triangulation(px, py, triangles=scaled.triangles)
        if var is not None:
            plt.colorbar(ax.tricontourf(mesh, z[where], levels=12), ax=ax, label=var)
        if at is not None:
            ax.tricontour(mesh, z[where], levels=[at], colors="black", linewidths=1.6)
        ax.plot(values[0][ok], values[1][ok], ".", color="black", markersize=3, alpha=0.5)
        self._mark_failed_points(ax, values[0], values[1], codes)
        ax.set_xlabel(_label(self._ds, x))
        ax.set_ylabel(_label(self._ds, y))
        return ax

    def corner(self, vars: Sequence[str]) -> Figure:
        """Draw every pair of ``vars`` (Monte Carlo inputs and outputs) and each histogram.

        Failed runs are red crosses where both values are inputs they have,
        red ticks on the input axis otherwise, and red in the histograms of
        inputs. Returns the Figure (its ``axes`` in row-major order).
        """
        plt = _pyplot()
        names = list(vars)
        if len(names) < 2:
            raise ConfigError("corner needs two or more variables")
        values, codes = self._flat(*names)
        ok = codes == STATUS_FLAGS["ok"]
        failed = codes == STATUS_FLAGS["failed"]
        n = len(names)
        fig, axes = plt.subplots(n, n, figsize=(2.2 * n, 2.2 * n), squeeze=False)
        for i in range(n):
            for j in range(n):
                ax = axes[i][j]
                if j > i:
                    ax.set_visible(False)
                    continue
                if i == j:
                    ax.hist(values[i][ok & np.isfinite(values[i])], bins=20, color=COLORS["ok"])
                    bad = values[i][failed & np.isfinite(values[i])]
                    if bad.size:
                        ax.hist(bad, bins=20, color=COLORS["failed"], alpha=0.7)
                else:
                    ax.scatter(values[j][ok], values[i][ok], s=6, color=COLORS["ok"])
                    self._mark_failed_points(ax, values[j], values[i], codes, legend=False)
                ax.set_xlabel(names[j] if i == n - 1 else "")
                ax.set_ylabel(names[i] if j == 0 and i > 0 else "")
        title = f"{int(ok.sum())} ok runs"
        fig.suptitle(title + (f"; {int(failed.sum())} failed (red)" if failed.any() else ""))
        fig.tight_layout()
        return fig  # type: ignore[no-any-return]

    def convergence(self, var: str, *, dim: str = "sample", q: Sequence[float] = (0.05, 0.5, 0.95),
                    ax: Axes | None = None) -> Axes:  # fmt: skip
        """Draw the running mean (with its 95 % interval) and quantiles as the sample grows.

        The statistics are ``ds.xsweep.convergence(var, dim=dim, q=q)``;
        a failed run does not count, and the legend says how many did not.
        """
        ax = _axes(ax)
        values = self._run_values(var)
        stats = convergence(values.to_dataset(name=var), var, dim=dim, q=q)
        stats = stats.squeeze([d for d, k in stats["mean"].sizes.items() if d != "n" and k == 1])
        extra = [d for d in stats["mean"].dims if d != "n"]
        if extra:
            raise ConfigError(f"select the other dims first (ds.sel(...)): {extra}")
        n = stats["n"].values
        mean, se = stats["mean"].values, stats["mean_se"].values
        (line,) = ax.plot(n, mean, label="mean")
        ax.fill_between(n, mean - 1.96 * se, mean + 1.96 * se, alpha=0.25,
                        color=line.get_color(), linewidth=0)  # fmt: skip
        for k, qq in enumerate(q):
            ax.plot(n, stats["q_value"].values[:, k], linestyle="--", label=f"q={qq:g}")
        count = stats["count"].values
        failed = n - count
        if failed[-1]:
            ax.plot(
                [], [], **_FAILED, label=_failed_label(int(failed[-1]), int(n[-1]), "not counted")
            )
        ax.set_xlabel(f"runs along {dim}")
        ax.set_ylabel(_label(self._ds, var))
        ax.legend(fontsize="small")
        return ax

    # -- marking failures --

    def _two_dims(self, values: xr.DataArray, x: str, y: str) -> xr.DataArray:
        for d in (x, y):
            if d not in values.dims:
                raise ConfigError(f"{d!r} is not a dim of this sweep: {list(values.dims)}")
        extra = {d: n for d, n in values.sizes.items() if d not in (x, y) and n > 1}
        if extra:
            raise ConfigError(f"select the other dims first (ds.sel(...) or .isel): {extra}")
        return values.squeeze([d for d in values.dims if d not in (x, y)], drop=True)

    def _mark_failed_cells(self, ax: Axes, status: xr.DataArray, x: str, y: str) -> None:
        failed = (status == STATUS_FLAGS["failed"]).transpose(y, x).values
        if not failed.any():
            return
        rows, cols = np.nonzero(failed)
        ax.plot(status[x].values[cols], status[y].values[rows], markersize=12,
                markeredgewidth=2, **_FAILED,
                label=_failed_label(int(failed.sum()), status.size))  # fmt: skip
        ax.legend(fontsize="small", loc="best")

    def _mark_failed_points(self, ax: Axes, x: np.ndarray, y: np.ndarray, codes: np.ndarray,
                            *, legend: bool = True) -> None:  # fmt: skip
        failed = codes == STATUS_FLAGS["failed"]
        if not failed.any():
            return
        label: str | None = _failed_label(int(failed.sum()), codes.size)
        both = failed & np.isfinite(x) & np.isfinite(y)
        if both.any():  # a cross at its point: x and y are inputs it has
            ax.plot(x[both], y[both], **_FAILED, label=label)
            label = None
        only_x = failed & np.isfinite(x) & ~np.isfinite(y)
        if only_x.any():  # no y value: a tick at its input, on the x axis
            ax.plot(x[only_x], np.zeros(int(only_x.sum())), marker="|", markersize=14,
                    color=COLORS["failed"], linestyle="none", transform=ax.get_xaxis_transform(),
                    label=label, clip_on=False)  # fmt: skip
            label = None
        only_y = failed & np.isfinite(y) & ~np.isfinite(x)
        if only_y.any():  # the same on the y axis
            ax.plot(np.zeros(int(only_y.sum())), y[only_y], marker="_", markersize=14,
                    color=COLORS["failed"], linestyle="none", transform=ax.get_yaxis_transform(),
                    label=label, clip_on=False)  # fmt: skip
            label = None
        if label is not None:  # no value to place them by: counted in the legend all the same
            ax.plot([], [], **_FAILED, label=label)
        if legend:
            ax.legend(fontsize="small", loc="best")


def _worst(codes: xr.DataArray, over: list[str]) -> xr.DataArray:
    """Collapse ``over``: failed if any run failed, else pending if any is, else ok."""
    if not over:
        return codes
    rank = codes.copy(data=_SEVERITY[np.asarray(codes.values)]).max(over)
    return rank.copy(data=_SEVERITY[np.asarray(rank.values)])


def _label(ds: xr.Dataset, name: str) -> str:
    units = ds[name].attrs.get("units") if name in ds.variables else None
    return f"{name} [{units}]" if units else name
