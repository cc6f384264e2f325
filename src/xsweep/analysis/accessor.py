"""The ``.xsweep`` Dataset accessor: thin, stateless, delegating to public names."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from xsweep.analysis.plots import SweepPlots
from xsweep.analysis.runs import derived_frame, is_sweep, output_status, run_table, status_counts
from xsweep.analysis.tables import final, on_time_grid, sweep_frame
from xsweep.core.errors import ConfigError, XsweepError
from xsweep.space.spaces import Space
from xsweep.store.open import default_group, tree_output


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
        self._dataset = dataset

    @property
    def _ds(self) -> xr.Dataset:
        """The Dataset the output helpers work on."""
        return self._dataset

    @property
    def _root(self) -> xr.Dataset:
        """The Dataset that holds the runs (status, parameters, derived values)."""
        return self._dataset

    def _where(self) -> str:
        return ""

    def __repr__(self) -> str:
        if self.is_sweep:
            counts = ", ".join(f"{n} {k}" for k, n in self.status.items())
            return f"<xsweep accessor on a sweep's store{self._where()}: {counts}>"
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

        See :class:`xsweep.analysis.plots.SweepPlots`; needs the ``[plot]`` extra.
        """
        return SweepPlots(self._ds)

    @property
    def space(self) -> Space:
        """Return the Dataset as a validated :class:`xsweep.Space` (or raise ``SpaceError``)."""
        return Space(self._ds)

    @property
    def is_sweep(self) -> bool:
        """True for a Dataset opened from a sweep's store (it has ``run_id`` and ``status``)."""
        return is_sweep(self._root)

    def runs(self) -> pd.DataFrame:
        """List the runs, indexed by ``run_id``.

        For a parameter space: labels and overrides (see `Space.runs`). For an
        opened sweep: ``status``, ``reason``, ``error``, ``duration_s`` and the
        parameter coordinates of every run (computes only those small variables).
        """
        return run_table(self._root) if self.is_sweep else Space(self._ds).runs()

    @property
    def status(self) -> dict[str, int]:
        """Count the runs by status: ``ok``, ``failed``, ``pending``."""
        return status_counts(self._root)

    def failed(self) -> pd.DataFrame:
        """Return the failed runs: reason, error and parameters, indexed by ``run_id``."""
        runs = self.runs()
        return runs[runs["status"] == "failed"]

    def output_status(self) -> xr.DataArray:
        """Tell, for every run and output, whether the output is in the store.

        See :func:`xsweep.analysis.runs.output_status`.
        """
        return output_status(self._root)

    def derived(self) -> pd.DataFrame:
        """Return the derived quantities, one row per run (computes only them).

        Indexed by ``run_id`` (by the parameter dims if the Dataset has no
        ``run_id``): the parameter coordinates, ``status``, every derived
        variable (an array value as one array per cell), ``derive_status``
        (``"ok"``, ``"derive-failed"``, ``"none"``) and ``derive_error``. See
        the Derived quantities page.
        """
        return derived_frame(self._root)

    def to_dataframe(self) -> pd.DataFrame:
        """Flatten the sweep into gmat-sweep's long DataFrame (see :func:`xsweep.to_dataframe`).

        A Dataset of derived quantities only (no output axis) flattens to one
        row per run, as :meth:`derived`.
        """
        return sweep_frame(self._ds)

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
        from xsweep.analysis.sobol import sobol

        return sobol(self._ds, var, failed=failed, num_resamples=num_resamples,
                     conf_level=conf_level, seed=seed)  # fmt: skip

    def convergence(
        self, var: str, *, dim: str = "sample", q: Sequence[float] = (0.05, 0.5, 0.95)
    ) -> xr.Dataset:
        """Return running statistics of ``var`` as the sample grows (see the Space page)."""
        from xsweep.analysis.convergence import convergence

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


@xr.register_datatree_accessor("xsweep")  # type: ignore[no-untyped-call]
class XsweepTreeAccessor(XsweepAccessor):
    """The same helpers on a sweep with several outputs: ``tree.xsweep``.

    :func:`xsweep.open_sweep` gives a DataTree when a script writes several
    outputs (a report and a solver log, say). The run helpers (``status``,
    ``runs()``, ``failed()``, ``derived()``) read the tree's root; the output
    helpers (``to_dataframe()``, ``final()``, the plots...) work on its one
    report, or, when there are several, on the output :meth:`select` names.

    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> space = xs.grid({"TargetRMAG": [8000.0, 9000.0]})
    >>> _ = xs.run("examples/missions/hohmann.script", space, out=out, workers=1,
    ...            progress=False)
    >>> tree = xs.open_sweep(out)
    >>> tree.xsweep.groups, tree.xsweep.group
    (['reports/RF', 'solver/DC'], 'reports/RF')
    >>> tree.xsweep.status["ok"], len(tree.xsweep.final()["TargetRMAG"])
    (2, 2)
    """

    def __init__(self, tree: xr.DataTree) -> None:
        self._tree = tree
        self._dataset = tree.to_dataset(inherit=False)

    @property
    def groups(self) -> list[str]:
        """The outputs of the sweep: ``reports/RF``, ``solver/DC``..."""
        return [str(g) for g in self._dataset.attrs.get("xsweep_groups", ())]

    @property
    def group(self) -> str:
        """The output the output helpers use: the sweep's one report (or one output).

        Raises
        ------
        ConfigError
            The sweep has several reports (or, with no report, several outputs):
            name one with :meth:`select`.
        """
        return default_group(self.groups)

    def select(self, group: str) -> xr.Dataset:
        """Return one output's Dataset, joined with the runs (as ``open_sweep(group=...)``).

        Parameters
        ----------
        group : str
            Its store path (``"reports/RF"``) or its GMAT name (``"RF"``) when
            that is unambiguous.

        Raises
        ------
        ConfigError
            ``group`` names no single output; the message lists them.
        """
        return tree_output(self._tree, group)

    @property
    def _ds(self) -> xr.Dataset:
        return self.select(self.group)

    def _where(self) -> str:
        try:
            return f" ({self.group} of {', '.join(self.groups)})"
        except ConfigError:
            return f" (outputs {', '.join(self.groups)}: select one)"
