"""The consolidated store: consolidation, open_sweep, selection, to_dataframe, on_time_grid.

On synthetic sweeps (``xsweep.testing.synthetic``: a real manifest and per-run Parquet,
no GMAT), kept between benchmark processes under the temp directory.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import xsweep as xs
from xsweep.testing.synthetic import make_sweep

from ._common import pick

LONG = pick([1000], [50])[0]  # rows per report: 1,000 steps
SHORT = pick([100], [20])[0]


def synthetic(n_runs: int, steps: int, *, consolidated: bool = False) -> Path:
    """Return a synthetic sweep of ``n_runs`` x ``steps``, made once per machine."""
    path = Path(tempfile.gettempdir()) / f"xsweep-bench-synthetic-v1-{n_runs}x{steps}"
    done = path / ".complete"
    if not done.exists():
        shutil.rmtree(path, ignore_errors=True)
        make_sweep(path, n_runs, steps)
        done.touch()
    if consolidated and not (path / "sweep.zarr").is_dir():
        xs.consolidate(path)
    return path


class Consolidate:
    """Build the whole store from 2,000 and 10,000 runs of 1,000-row reports."""

    params = (pick([2000, 10000], [20]),)
    param_names = ("n_runs",)
    number = 1
    repeat = 1
    timeout = 900

    def setup(self, n_runs: int) -> None:
        self.path = synthetic(n_runs, LONG)

    def time_consolidate(self, n_runs: int) -> None:
        xs.consolidate(self.path)

    def peakmem_consolidate(self, n_runs: int) -> None:
        xs.consolidate(self.path)


class OpenLarge:
    """Open a 10,000-run store (metadata only) and read one run by label."""

    params = (pick([10000], [20]),)
    param_names = ("n_runs",)
    timeout = 900

    def setup(self, n_runs: int) -> None:
        self.path = synthetic(n_runs, LONG, consolidated=True)
        self.ds = xs.open_sweep(self.path)

    def time_open_sweep(self, n_runs: int) -> None:
        xs.open_sweep(self.path)

    def time_sel_one_run(self, n_runs: int) -> None:
        self.ds["Sat.X"].sel(sample=n_runs // 2).values  # noqa: B018

    def track_chunks_read_by_sel(self, n_runs: int) -> float:
        """Dask chunks behind one run's variable: what a label selection reads."""
        return float(self.ds["Sat.X"].sel(sample=n_runs // 2).data.npartitions)


class Analyse:
    """to_dataframe and on_time_grid of 2,000 runs of 100-row reports."""

    params = (pick([2000], [20]),)
    param_names = ("n_runs",)
    timeout = 900

    def setup(self, n_runs: int) -> None:
        self.path = synthetic(n_runs, SHORT, consolidated=True)
        self.ds = xs.open_sweep(self.path)

    def time_to_dataframe(self, n_runs: int) -> None:
        self.ds.xsweep.to_dataframe()

    def peakmem_to_dataframe(self, n_runs: int) -> None:
        xs.open_sweep(self.path).xsweep.to_dataframe()

    def time_on_time_grid(self, n_runs: int) -> None:
        self.ds.xsweep.on_time_grid(step=60.0).load()


class Bundle:
    """Archive 2,000 runs of 1,000-row reports; open and read the bundle without unzipping."""

    params = (pick([2000], [20]),)
    param_names = ("n_runs",)
    number = 1
    repeat = 3
    timeout = 900

    def setup(self, n_runs: int) -> None:
        self.path = synthetic(n_runs, LONG, consolidated=True)
        self.bundle = Path(tempfile.gettempdir()) / f"xsweep-bench-bundle-{n_runs}.zip"
        if not self.bundle.exists():
            xs.archive(self.path, out=self.bundle)
        self.ds = xs.open_sweep(self.bundle)
        self.dir_ds = xs.open_sweep(self.path)

    def time_archive(self, n_runs: int) -> None:
        xs.archive(self.path, out=self.bundle, overwrite=True)

    def peakmem_archive(self, n_runs: int) -> None:
        xs.archive(self.path, out=self.bundle, overwrite=True)

    def time_verify(self, n_runs: int) -> None:
        xs.verify(self.bundle)

    def time_open_bundle(self, n_runs: int) -> None:
        xs.open_sweep(self.bundle)

    def time_sel_one_run_bundle(self, n_runs: int) -> None:
        self.ds["Sat.X"].sel(sample=n_runs // 2).values  # noqa: B018

    def time_read_variable_bundle(self, n_runs: int) -> None:
        self.ds["Sat.X"].values  # noqa: B018

    def time_read_variable_directory(self, n_runs: int) -> None:
        self.dir_ds["Sat.X"].values  # noqa: B018
