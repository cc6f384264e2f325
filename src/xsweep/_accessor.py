"""The ``.xsweep`` Dataset accessor: thin, stateless, delegating to public names."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from xsweep._space import Space


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
    """

    def __init__(self, dataset: xr.Dataset) -> None:
        self._ds = dataset

    @property
    def space(self) -> Space:
        """Return the Dataset as a validated :class:`xsweep.Space` (or raise ``SpaceError``)."""
        return Space(self._ds)

    def runs(self) -> pd.DataFrame:
        """List the runs of this space: run id, labels and overrides (see `Space.runs`)."""
        return Space(self._ds).runs()
