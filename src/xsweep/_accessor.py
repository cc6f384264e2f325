"""The ``.xsweep`` Dataset accessor: thin, stateless, delegating to public names."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from xsweep._analysis import derived_frame, final, on_time_grid, to_dataframe
from xsweep._errors import XsweepError
from xsweep._plots import SweepPlots
from xsweep._records import STATUS_FLAGS
from xsweep._space import Space

if TYPE_CHECKING:
    from xsweep._space import Space

_FLAGS = tuple(STATUS_FLAGS)  # names by flag value


@xr.register_dataset_accessor("xsweep")  # type: ignore[no-untyped-call]
class XsweepAccessor:
    """Domain helpers on any Dataset: ``ds.xsweep``.

    On a parameter space (before running anything):

    >>> import xsweep as xs
    >>> space = xs.grid({"Sat.SMA": [7000, 7100], "Sat.INC": [28.5, 98.0]})
    >>> space.xsweep.space
    <xsweep.Space: 4 runs over Sat.SMA=2 x Sat.INC=2; fields: Sat.SMA, Sat.INC>
    >>> runs = space.xsweep.runs()
    >>> runs.columns.tolist(), runs["Sat.SMA"].tolist()
    (['Sat.SMA', 'Sat.INC'], [7000, 7000, 7100, 7100])

    On an opened sweep (:func:`xsweep.open_sweep`), ``status``, ``failed()``
    and ``runs()`` summarise the runs from the store's ``status`` variables.
    """

    def __init__(self, dataset: xr.Dataset) -> None:
        self._ds = dataset

    def __repr__(self) -> str:
        if self.is_sweep:
            counts = ", ".join(f"{n} {k}" for k, n in self.status.items())
            return f"<xsweep accessor on a sweep's store: {counts}>"
        try:
            return repr(Space(self._ds))
        except XsweepError as exc:
            return f"<xsweep accessor: not a parameter space ({exc})>"

    def _repr_html_(self) -> str:
        if self.is_sweep:
            return f"<pre>{html.escape(repr(self))}</pre>"
        try:
            return Space(self._ds)._repr_html_()
        except XsweepError:
            return f"<pre>{html.escape(repr(self))}</pre>"

    @property
    def plot(self) -> SweepPlots:
        """Plots: ``band``, ``heatmap``, ``corner``, ``scatter``, ``convergence``, ``status``.

        See :class:`xsweep._plots.SweepPlots`; needs the ``[plot]`` extra.
        """
        return SweepPlots(self._ds)

    @property
    def space(self) -> Space:
        """Return the Dataset as a validated :class:`xsweep.Space` (or raise ``SpaceError``)."""
        return Space(self._ds)

    @property
    def is_sweep(self) -> bool:
        """True for a Dataset opened from a sweep's store (it has ``run_id`` and ``status``)."""
        return "run_id" in self._ds and "status" in self._ds

    def runs(self) -> pd.DataFrame:
        """List the runs, indexed by ``run_id``.

        For a parameter space: labels and overrides (see `Space.runs`). For an
        opened sweep: ``status``, ``reason``, ``error``, ``duration_s`` and the
        parameter coordinates of every run (computes only those small variables).
        """
        if not self.is_sweep:
            return Space(self._ds).runs()
        ds = self._ds
        dims = list(ds["run_id"].dims)
        table = ds[["run_id", "status", "reason", "error", "duration_s"]].reset_coords()
        params = [c for c in ds.coords if set(ds[c].dims) <= set(dims)]
        frame = table.assign(
            {c: ds[c].broadcast_like(ds["run_id"]) for c in params if c not in dims}
        ).to_dataframe()
        frame = frame.reset_index().set_index("run_id").sort_index()
        frame["status"] = np.asarray(_FLAGS, dtype=object)[frame["status"].to_numpy()]
        return frame

    @property
    def status(self) -> dict[str, int]:
        """Count the runs by status: ``ok``, ``failed``, ``pending``."""
        codes = np.asarray(self._ds["status"].values).ravel()
        counts = np.bincount(codes.astype(np.int64), minlength=len(_FLAGS))
        return {name: int(counts[i]) for i, name in enumerate(_FLAGS) if name != "pending"} | {
            "pending": int(counts[0])
        }

    def failed(self) -> pd.DataFrame:
        """Return the failed runs: reason, error and parameters, indexed by ``run_id``."""
        runs = self.runs()
        return runs[runs["status"] == "failed"]

    def output_status(self) -> xr.DataArray:
        """Tell, for every run and output, whether the output is in the store.

        Returns a DataArray over the parameter dims and ``output`` (the store's
        groups, ``reports/RF``..., and any output only ever unwritten), with
        ``"written"``, ``"unparsed"`` (gmat-run could not parse GMAT's file; see
        :meth:`xsweep.Sweep.output_problems`), ``"absent"`` (GMAT never wrote it)
        or ``""`` for a run that is not ok.
        """
        ds = self._ds
        codes = ds["status"].values
        text = (
            ds["output_problems"].values.astype(object)
            if "output_problems" in ds
            else np.full(codes.shape, "", dtype=object)
        )
        parsed = [dict(e.split("=", 1) for e in str(t).split(";") if e) for t in text.ravel()]
        names = sorted(set(ds.attrs.get("xsweep_groups", ())) | {k for p in parsed for k in p})
        out = np.full((codes.size, len(names)), "", dtype=object)
        ok = codes.ravel() == STATUS_FLAGS["ok"]
        for i, problems in enumerate(parsed):
            if ok[i]:
                out[i] = [problems.get(n, "written") for n in names]
        dims = (*ds["status"].dims, "output")
        return xr.DataArray(
            out.reshape(*codes.shape, len(names)),
            dims=dims,
            coords={**{d: ds[d] for d in ds["status"].dims if d in ds.coords}, "output": names},
            name="output_status",
        )

    def derived(self) -> pd.DataFrame:
        """Return the derived quantities, one row per run (computes only them).

        Indexed by ``run_id`` (by the parameter dims if the Dataset has no
        ``run_id``): the parameter coordinates, ``status``, every derived
        variable (an array value as one array per cell), ``derive_status``
        (``"ok"``, ``"derive-failed"``, ``"none"``) and ``derive_error``. See
        the Derived quantities page.
        """
        return derived_frame(self._ds)

    def to_dataframe(self) -> pd.DataFrame:
        """Flatten the sweep into gmat-sweep's long DataFrame (see :func:`xsweep.to_dataframe`).

        A Dataset of derived quantities only (no output axis) flattens to one
        row per run, as :meth:`derived`.
        """
        ds = self._ds
        if not any(a in ds.dims for a in ("step", "interval", "iteration")) and any(
            "xsweep_derive_fn" in v.attrs for v in ds.data_vars.values()
        ):
            return derived_frame(ds)
        return to_dataframe(ds)

    def sobol(
        self,
        var: str,
        *,
        failed: Literal["refuse", "drop-blocks"] = "refuse",
        num_resamples: int = 100,
        conf_level: float = 0.95,
        seed: int | None = 0,
    ) -> xr.Dataset:
        """Return Sobol indices of ``var`` of a Saltelli sweep (see :func:`xsweep.sobol`)."""
        from xsweep._sobol import sobol

        return sobol(self._ds, var, failed=failed, num_resamples=num_resamples,
                     conf_level=conf_level, seed=seed)  # fmt: skip

    def convergence(
        self, var: str, *, dim: str = "sample", q: Sequence[float] = (0.05, 0.5, 0.95)
    ) -> xr.Dataset:
        """Return running statistics of ``var`` as the sample grows (see the Space page)."""
        from xsweep._convergence import convergence

        return convergence(self._ds, var, dim=dim, q=q)

    def final(self) -> xr.Dataset:
        """Each run's last row (see :func:`xsweep.final`)."""
        return final(self._ds)

    def on_time_grid(
        self,
        times: Sequence[Any] | np.ndarray | None = None,
        *,
        step: float | None = None,
        mode: Literal["elapsed", "absolute"] = "elapsed",
    ) -> xr.Dataset:
        """Interpolate every run onto one time axis (see :func:`xsweep.on_time_grid`)."""
        return on_time_grid(self._ds, times, step=step, mode=mode)
