"""The streaming envelope of a sweep: folded as runs are recorded, kept as a group of the store.

:class:`Folder` takes each ok run's columns on the envelope's grid (built in its GMAT
child, :func:`xsweep.gmat.summary.on_grid`) once its manifest line is written, and
folds them, in batches, into count, mean and variance (Chan's parallel update, in
float64) and one KLL sketch per grid step (Apache DataSketches'
``vector_of_kll_floats_sketches``: one call updates every step's sketch). Memory and
disk are flat in the number of runs. The group ``envelope/<name>`` holds, over
``elapsed_s`` (the grid) and ``quantile``: each column's quantiles, and its
``_mean``, ``_std``, ``_count``, ``_min`` and ``_max`` over ``elapsed_s``; and the
folder's state (the serialized sketches, the moments, which runs are in it), so
``resume`` goes on from it and reruns only the ok runs it lacks.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from xsweep.core.envelope import Envelope
from xsweep.core.errors import ConfigError
from xsweep.core.records import RunOutcome, RunRecord

ENVELOPE = "envelope"  # the store's group of envelopes
BATCH = 256  # runs folded per sketch update
CHECKPOINT = 20_000  # runs folded between saves: what a hard kill makes a resume fly again
STATE = "xsweep_state"  # the group's attribute naming its state arrays
INSTALL = "pip install 'gmat-xsweep[envelope]'"
SUFFIXES = ("_mean", "_std", "_count", "_min", "_max")  # a column's statistics besides quantiles


def sketches(k: int, d: int) -> Any:
    """Return a vector of ``d`` KLL sketches of size ``k`` (DataSketches, an extra)."""
    try:
        from datasketches import vector_of_kll_floats_sketches  # type: ignore[import-untyped]
    except ImportError:
        raise ConfigError(f"envelope= needs Apache DataSketches: {INSTALL}") from None
    return vector_of_kll_floats_sketches(k, d)


class Folder:
    """Folds runs' grid values into one output's envelope; see the module."""

    def __init__(self, spec: Envelope, name: str | None, n_runs: int) -> None:
        self.spec = spec
        self.name = name  # the output; None: the first run's decides
        self.d: int | None = None if spec.stop is None else spec.steps(spec.stop)
        self.covered = np.zeros(n_runs, dtype=bool)
        self.columns: list[str] = []
        self._sketch: dict[str, Any] = {}
        self._count: dict[str, np.ndarray] = {}
        self._mean: dict[str, np.ndarray] = {}
        self._m2: dict[str, np.ndarray] = {}
        self._buffer: list[Mapping[str, np.ndarray]] = []

    @property
    def path(self) -> str:
        """The group (``envelope/RF``)."""
        return f"{ENVELOPE}/{self.name}"

    def add(self, run_id: int, grids: Mapping[str, Mapping[str, np.ndarray]]) -> None:
        """Fold one ok run's grid values (once: a run already in the envelope is skipped)."""
        if self.name is None:
            self.name = next(iter(grids))
        grid = grids.get(self.name)
        if grid is None:  # a variant's script without the output: nothing to fold
            return
        if run_id >= len(self.covered):
            self.covered = np.concatenate(
                [self.covered, np.zeros(run_id + 1 - len(self.covered), bool)]
            )
        if self.covered[run_id]:
            return
        if self.d is None:  # the first run's length sets the grid's end
            self.d = max(len(v) for v in grid.values())
        if not self.columns:
            self.columns = list(grid)
            for column in self.columns:
                self._sketch[column] = sketches(self.spec.k, self.d)
                self._count[column] = np.zeros(self.d, dtype=np.int64)
                self._mean[column] = np.zeros(self.d)
                self._m2[column] = np.zeros(self.d)
        self._buffer.append(grid)
        self.covered[run_id] = True
        if len(self._buffer) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Fold the buffered runs into the sketches and moments."""
        if not self._buffer or self.d is None:
            return
        d = self.d
        for column in self.columns:
            rows = np.full((len(self._buffer), d), np.nan)
            for i, grid in enumerate(self._buffer):
                values = np.asarray(grid.get(column, ()), dtype=np.float64)[:d]
                rows[i, : len(values)] = values
            self._sketch[column].update(np.ascontiguousarray(rows, dtype=np.float32))
            self._moments(column, rows)
        self._buffer.clear()

    def _moments(self, column: str, rows: np.ndarray) -> None:
        """Merge a batch's count, mean and sum of squares into the running ones (Chan)."""
        valid = ~np.isnan(rows)
        n_b = valid.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_b = np.where(n_b > 0, np.nansum(rows, axis=0) / np.maximum(n_b, 1), 0.0)
            m2_b = np.nansum((rows - mean_b) ** 2, axis=0)
        n_a, mean_a, m2_a = self._count[column], self._mean[column], self._m2[column]
        n = n_a + n_b
        delta = mean_b - mean_a
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(n > 0, n_b / np.maximum(n, 1), 0.0)
        self._mean[column] = mean_a + delta * frac
        self._m2[column] = m2_a + m2_b + delta**2 * n_a * frac
        self._count[column] = n

    def dataset(self) -> xr.Dataset:
        """Return the envelope: quantiles, mean, std, count, min and max per grid step."""
        self.flush()
        d = self.d or 0
        qs = np.asarray(self.spec.quantiles, dtype=np.float64)
        data: dict[str, Any] = {}
        for column in self.columns:
            sk = self._sketch[column]
            count = self._count[column]
            empty = count == 0
            quant = sk.get_quantiles(qs).astype(np.float64) if d else np.empty((0, len(qs)))
            quant[empty] = np.nan
            with np.errstate(invalid="ignore", divide="ignore"):
                std = np.sqrt(self._m2[column] / np.where(count > 1, count - 1, np.nan))
            low, high = (
                sk.get_min_values().astype(np.float64),
                sk.get_max_values().astype(np.float64),
            )
            low[empty], high[empty] = np.nan, np.nan
            data[column] = (("elapsed_s", "quantile"), quant)
            data[f"{column}_mean"] = ("elapsed_s", np.where(empty, np.nan, self._mean[column]))
            data[f"{column}_std"] = ("elapsed_s", std)
            data[f"{column}_count"] = ("elapsed_s", count)
            data[f"{column}_min"] = ("elapsed_s", low)
            data[f"{column}_max"] = ("elapsed_s", high)
        coords = {"elapsed_s": np.arange(d) * self.spec.step, "quantile": qs}
        runs = int(self.covered.sum())
        attrs = {"xsweep_envelope": self.spec.to_dict(), "gmat_name": self.name, "runs": runs}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def save(self, store: str | os.PathLike[str]) -> None:
        """Write the envelope, and the state ``resume`` goes on from, as the store's group."""
        if not self.columns or self.name is None:
            return
        ds = self.dataset()
        for i, column in enumerate(self.columns):
            blobs = self._sketch[column].serialize()
            ds[f"xsweep_sizes_{i}"] = ("elapsed_s", np.array([len(b) for b in blobs], np.int64))
            ds[f"xsweep_sketch_{i}"] = (
                f"xsweep_bytes_{i}",
                np.frombuffer(b"".join(blobs), np.uint8),
            )
            ds[f"xsweep_mean_{i}"] = ("elapsed_s", self._mean[column])
            ds[f"xsweep_m2_{i}"] = ("elapsed_s", self._m2[column])
        ds["xsweep_covered"] = ("xsweep_runs", np.packbits(self.covered))
        ds.attrs["xsweep_columns"] = list(self.columns)
        ds.attrs["xsweep_n_runs"] = len(self.covered)
        ds.to_zarr(store, group=self.path, mode="w", zarr_format=3, consolidated=False)

    @classmethod
    def load(cls, store: str | os.PathLike[str], spec: Envelope, n_runs: int) -> Folder | None:
        """Rebuild the folder a session saved (``None``: none saved yet).

        The group is data from whoever wrote the sweep: its sizes are checked
        against the arrays it holds before any sketch is rebuilt.
        """
        import zarr

        try:
            group = zarr.open_group(store, path=ENVELOPE, mode="r", zarr_format=3)
            names = [str(n) for n in group.group_keys()]
        except (FileNotFoundError, ValueError, KeyError, zarr.errors.GroupNotFoundError):
            return None
        if len(names) != 1:
            return None
        ds = xr.open_zarr(store, group=f"{ENVELOPE}/{names[0]}", consolidated=False,
                          zarr_format=3, chunks=None)  # fmt: skip
        folder = cls(spec, names[0], n_runs)
        columns = [str(c) for c in ds.attrs.get("xsweep_columns", [])]
        d = int(ds.sizes.get("elapsed_s", 0))
        covered = np.unpackbits(np.asarray(ds["xsweep_covered"].values, np.uint8)).astype(bool)
        folder.covered[: min(n_runs, len(covered))] = covered[:n_runs]
        folder.d, folder.columns = d, columns
        for i, column in enumerate(columns):
            sizes = np.asarray(ds[f"xsweep_sizes_{i}"].values, np.int64)
            blob = np.asarray(ds[f"xsweep_sketch_{i}"].values, np.uint8).tobytes()
            if len(sizes) != d or (sizes < 0).any() or int(sizes.sum()) != len(blob):
                raise ConfigError(f"{store}: the envelope's saved sketches are damaged")
            sk = sketches(spec.k, d)
            ends = np.cumsum(sizes)
            for j in range(d):
                sk.deserialize(blob[ends[j] - sizes[j] : ends[j]], j)
            folder._sketch[column] = sk
            folder._count[column] = np.asarray(ds[f"{column}_count"].values, np.int64)
            folder._mean[column] = np.asarray(ds[f"xsweep_mean_{i}"].values, np.float64)
            folder._m2[column] = np.asarray(ds[f"xsweep_m2_{i}"].values, np.float64)
        return folder


def open_envelope(store: Any, prefix: str | None, group: str | None) -> xr.Dataset:
    """Open a sweep's envelope (its one, or ``group``), without the folder's state."""
    import zarr

    root = zarr.open_group(store, path=f"{prefix}/{ENVELOPE}" if prefix else ENVELOPE, mode="r")
    names = sorted(str(n) for n in root.group_keys())
    if not names:
        raise ConfigError("this sweep has no envelope (run it with envelope=xs.envelope(...))")
    name = group.rsplit("/", 1)[-1] if group is not None else names[0]
    if name not in names:
        raise ConfigError(f"the sweep's envelopes are {names}, not {group!r}")
    path = f"{ENVELOPE}/{name}" if not prefix else f"{prefix}/{ENVELOPE}/{name}"
    ds: xr.Dataset = xr.open_zarr(store, group=path, consolidated=False, zarr_format=3)
    columns = [str(c) for c in ds.attrs.get("xsweep_columns", [])]
    order = [f"{c}{s}" for c in columns for s in ("", *SUFFIXES) if f"{c}{s}" in ds.data_vars]
    ds = ds[order]  # each column's statistics together, in the output's order
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in ("xsweep_columns", "xsweep_n_runs")}
    return ds


class Folding:
    """A session's envelope: runs' grid values held until their lines are written, then folded.

    Saved into the store every :data:`CHECKPOINT` runs and when the session ends, so
    a hard kill loses at most that many runs' values (a resume flies them again).
    """

    def __init__(self, store: Path, spec: Envelope | None, n_runs: int) -> None:
        self.store = store
        self.spec = spec
        self.n_runs = n_runs
        self.folder: Folder | None = None
        self._held: dict[int, Any] = {}
        self._since = 0
        self._missed = 0  # ok runs with rows but no grid values: no epoch to grid them on

    def start(self) -> None:
        """Go on from the envelope saved in the store (or start one)."""
        if self.spec is not None:
            found = Folder.load(self.store, self.spec, self.n_runs)
            self.folder = found or Folder(self.spec, self.spec.output, self.n_runs)

    def hold(self, run_id: int, outcome: RunOutcome) -> RunOutcome:
        """Keep a run's grid values until its line is written; return it without them."""
        if outcome.grid is None:
            self._missed += outcome.ok and any(o.rows for o in outcome.outputs)
            return outcome
        if self.folder is not None:
            self._held[run_id] = outcome.grid
        return replace(outcome, grid=None)

    def recorded(self, records: Iterable[RunRecord]) -> None:
        """Fold the ok runs whose lines were just written."""
        for record in records:
            grid = self._held.pop(record.run_id, None)
            if grid is not None and self.folder is not None and record.status == "ok":
                self.folder.add(record.run_id, grid)
                self._since += 1
        if self._since >= CHECKPOINT:
            self.save()

    def save(self) -> None:
        """Write the envelope folded so far (derived data: a failure is a warning)."""
        self._since = 0
        if self.folder is None:
            return
        if self._missed and not self.folder.covered.any():
            named = self.folder.name or (self.spec.output if self.spec else None)
            warnings.warn(
                f"the envelope folded none of this session's {self._missed} ok runs: "
                f"{f'output {named!r}' if named else 'no output'} has no epoch column to grid "
                "(report an epoch, e.g. Sat.UTCGregorian, or name another output=)",
                UserWarning,
                stacklevel=2,
            )
        try:
            self.folder.save(self.store)
        except Exception as exc:
            warnings.warn(f"the sweep's envelope was not saved: {type(exc).__name__}: {exc}",
                          UserWarning, stacklevel=2)  # fmt: skip
