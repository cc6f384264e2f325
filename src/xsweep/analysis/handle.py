"""The handle on a sweep: :class:`Sweep`, over a sweep directory or a bundle."""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from xsweep.analysis.inspect import LOG_LINES, RunInfo, first_line, tail
from xsweep.core.errors import ConfigError, RunFailedError
from xsweep.core.hooks import derived_row
from xsweep.core.records import RunRecord
from xsweep.plan.scripts import VARIANT_DIM, variant_records
from xsweep.record.lock import lock_lines
from xsweep.record.manifest import Manifest
from xsweep.record.source import open_source
from xsweep.space.reprs import dims_text, sweep_html, sweep_text
from xsweep.space.spaces import Space
from xsweep.store.effects import describe, no_effect
from xsweep.store.open import open_sweep


class Sweep:
    """Handle on a sweep directory: its manifest, counts and failures.

    Returned by :func:`run`, :func:`resume` and :func:`extend`; also opens an
    existing (finished, partial or running) sweep directory.

    Parameters
    ----------
    path : path-like or str
        The sweep directory (the one holding ``manifest.jsonl``), an
        archive bundle (read-only: a bundle can be inspected and opened, and
        resumed once extracted), or a sweep's fsspec URL (``s3://bucket/a``).
    storage_options : mapping, optional
        For a URL: the fsspec file system's options (credentials, endpoint).

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> sweep = xs.run(
    ...     "examples/missions/leo_report.script",
    ...     xs.grid({"Sat.SMA": [7000, 7100], "TOF": [60]}),
    ...     out=out,
    ...     workers=1,
    ...     progress=False,
    ... )
    >>> sweep.counts
    {'ok': 2, 'failed': 0, 'pending': 0}
    >>> runs = xs.Sweep(out).runs()
    >>> runs["status"].tolist(), runs["Sat.SMA"].tolist()
    (['ok', 'ok'], [7000, 7100])
    """

    def __init__(
        self, path: str | os.PathLike[str], *, storage_options: Mapping[str, Any] | None = None
    ) -> None:
        self._source = open_source(path, storage_options)
        self.path = self._source.path
        self.is_bundle = self._source.is_bundle
        self.storage_options = dict(storage_options or {})
        # A sweep this process runs in the background (``run(..., wait=False)``).
        self._task: threading.Thread | None = None
        self._ended: dict[str, BaseException] = {}
        self._shown: Callable[[], None] | None = None  # refreshes a notebook's live card

    @property
    def done(self) -> bool:
        """True when nothing is writing the sweep: no background run here, no lock held."""
        if self._task is not None:
            return not self._task.is_alive()
        return self.is_bundle or not isinstance(self.path, Path) or lock_lines(self.path) is None

    def wait(self, timeout: float | None = None) -> Sweep:
        """Wait until the sweep is :attr:`done`; return it (or raise what its run raised).

        Parameters
        ----------
        timeout : float, optional
            Seconds to wait at most; past them, ``TimeoutError`` (the sweep
            goes on). By default, as long as it runs.

        Raises
        ------
        TimeoutError
            Still running after ``timeout`` seconds.
        XsweepError, KeyboardInterrupt
            What the background run of ``run(..., wait=False)`` ended with.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"{self.path} is still running after {timeout} s")
            if self._task is not None:
                self._task.join(0.2)  # short joins: Ctrl-C reaches the caller
            else:
                time.sleep(0.2)
        if self._shown is not None:  # the card's last look, before the cell that waits ends
            self._shown()
        if "error" in self._ended:
            raise self._ended["error"]
        return self

    def stop(self, timeout: float = 60.0) -> Sweep:
        """Stop a background run as Ctrl-C would: finished runs recorded, the rest pending.

        Resume it later with :func:`xsweep.resume`.
        """
        task = self._task
        if task is not None and task.is_alive() and task.ident is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(task.ident), ctypes.py_object(KeyboardInterrupt)
            )
            task.join(timeout)
        self._ended.pop("error", None)  # the interrupt it was asked for
        return self

    @property
    def manifest(self) -> Manifest:
        """The manifest as it is on disk now (re-read on every access)."""
        return self._source.manifest()

    @property
    def counts(self) -> dict[str, int]:
        """Runs by status: ``ok``, ``failed`` and ``pending`` (never recorded)."""
        return self.manifest.counts()

    @property
    def n_runs(self) -> int:
        """Number of planned runs (extensions included)."""
        return self.manifest.n_runs

    @property
    def space(self) -> Space:
        """The sweep's parameter space, rebuilt from the manifest."""
        return Space.from_dict(self.manifest.space, verify=False)

    def runs(self) -> pd.DataFrame:
        """Every recorded run's latest outcome, indexed by ``run_id``.

        Columns: ``status``, ``reason``, ``error``, ``duration_s``,
        ``gmat_s``, ``attempts``, ``host``, ``pid``, ``started``, ``ended``,
        ``log``, then one column per label and per field (the overrides).
        """
        manifest = self.manifest
        return _runs_frame(manifest.runs.values(), baseline_of(manifest))

    def failed(self) -> pd.DataFrame:
        """Return the runs whose latest outcome is ``failed``: reason, message, overrides."""
        manifest = self.manifest
        return _runs_frame(manifest.failed().values(), baseline_of(manifest))

    def output_problems(self) -> pd.DataFrame:
        """Return the outputs of ok runs that are not written: one row per run and output.

        Columns ``kind``, ``name``, ``status`` (``"unparsed"``: gmat-run could
        not parse GMAT's file, which is kept at ``raw``; ``"absent"``: GMAT never
        wrote it), ``error``, ``raw`` (relative to the sweep directory). Indexed
        by ``run_id``. ``xs.resume(path, reparse=True)`` parses unparsed ones
        again from their kept files.
        """
        rows = [{"run_id": run_id, **p.to_dict()} for run_id, p in self.manifest.output_problems()]
        columns = ["run_id", "kind", "name", "status", "error", "raw"]
        return pd.DataFrame(rows, columns=columns).set_index("run_id")

    @property
    def output_counts(self) -> dict[str, int]:
        """Count the (run, output) pairs of ok runs not written: ``unparsed`` and ``absent``."""
        return _output_counts(self.manifest)

    def derived(self) -> pd.DataFrame:
        """Return every recorded run's derived values, one row per run, from the manifest.

        Indexed by ``run_id``: the run's labels and field values, its
        ``status``, then one column per derived quantity (NaN/NaT where a
        run has none), ``derive_status`` (``"ok"``, ``"derive-failed"`` or
        ``"none"``: not derived, or the run failed) and ``derive_error``.
        """
        rows = []
        manifest = self.manifest  # read once: it can be long
        baseline = baseline_of(manifest)
        for rec in sorted(manifest.runs.values(), key=lambda r: r.run_id):
            row: dict[str, Any] = {
                "run_id": rec.run_id,
                **labels_of(rec, baseline),
                **rec.overrides,
            }
            row["status"] = rec.status
            row.update(derived_row(rec.outcome.derived))
            rows.append(row)
        frame = pd.DataFrame(rows)
        if frame.empty:
            return pd.DataFrame(columns=["status", "derive_status", "derive_error"])
        ends = ["derive_status", "derive_error"]
        frame = frame[[c for c in frame.columns if c not in ends] + ends]
        return frame.set_index("run_id")

    @property
    def derive_counts(self) -> dict[str, int]:
        """Count the ok runs by ``derive_status``: ``ok``, ``derive-failed``, ``none``."""
        return _derive_counts(self.manifest)

    @property
    def derive_counts_by_function(self) -> dict[str, dict[str, int]]:
        """Count the ok runs by each derive function's outcome: ``ok``, ``derive-failed``, ``none``.

        A function the sweep records that has not been called on a run counts it ``none``.
        """
        fns = [str(e["fn"]) for e in self.manifest.derive]
        counts = {fn: dict.fromkeys(("ok", "derive-failed", "none"), 0) for fn in fns}
        for rec in self.manifest.runs.values():
            if rec.status != "ok":
                continue
            got = {d.fn: d.status for d in rec.outcome.derived}
            for fn in fns:
                counts[fn][got.get(fn, "none")] += 1
        return counts

    def read(self, run_id: int, output: str | None = None) -> pd.DataFrame:
        """Read one run's output from its Parquet file, as gmat-run parsed it.

        Parameters
        ----------
        run_id : int
            The run.
        output : str, optional
            The output's GMAT name (``"RF"``); needed when the run has several.

        Returns
        -------
        pandas.DataFrame
            The output, with its ``attrs`` (epoch scales, headers).

        Raises
        ------
        ConfigError
            The run has no recorded outputs, or ``output`` names none of them.
        """
        return self.read_record(self.manifest.runs.get(int(run_id)), run_id, output)

    def read_record(
        self, rec: RunRecord | None, run_id: int, output: str | None = None
    ) -> pd.DataFrame:
        """Read an output of a run whose record is at hand (see :meth:`read`).

        For a reader going through many runs: it reads the manifest once itself.
        """
        if rec is None or not rec.outcome.outputs:
            state = "was never recorded" if rec is None else f"is {rec.status} with no outputs"
            raise ConfigError(f"run {run_id} {state}")
        if not rec.outcome.kept:
            raise ConfigError(
                f"run {run_id} kept only its summaries (the sweep's keep=): re-fly it in full "
                f"to read its outputs"
            )
        outputs = rec.outcome.outputs
        names = [o.name for o in outputs]
        chosen = [o for o in outputs if output is None or o.name == output]
        if len(chosen) != 1:
            raise ConfigError(f"run {run_id} has outputs {names}; pass output= one of them")
        return self._source.read_parquet(chosen[0].path)

    def run_info(self, run_id: int, *, log_lines: int = LOG_LINES) -> RunInfo:
        """Describe one run: its point, outcome, timings, error and the tail of GMAT's log.

        The same as ``xsweep show DIR --run N``; ``print(info)`` gives the
        CLI's text, and a notebook shows it as a block.

        Parameters
        ----------
        run_id : int
            The run, recorded or only planned (``status == "pending"``).
        log_lines : int, default 20
            How many of the log's last non-blank lines to include (0: none).

        Returns
        -------
        RunInfo

        Raises
        ------
        ConfigError
            ``run_id`` is not a run of this sweep.
        """
        manifest = self.manifest
        rid = int(run_id)
        if not 0 <= rid < manifest.n_runs:
            raise ConfigError(
                f"run {run_id} is not in this sweep: its run ids are 0..{manifest.n_runs - 1}"
            )
        rec = manifest.runs.get(rid)
        if rec is None:
            run = Space.from_dict(manifest.space, verify=False).run(rid)
            labels = _labels_of(run.labels, baseline_of(manifest))
            return RunInfo(rid, "pending", labels, dict(run.overrides))
        outcome = rec.outcome
        log = self._source.read_text(outcome.log) if outcome.log and log_lines else None
        return RunInfo(rid, rec.status, labels_of(rec, baseline_of(manifest)), dict(rec.overrides),
                       outcome, tail(log, log_lines))  # fmt: skip

    def open(self, *, group: str | None = None) -> Any:
        """Open the sweep's consolidated store lazily (see :func:`xsweep.open_sweep`)."""
        return open_sweep(self.path, group=group, storage_options=self.storage_options or None)

    def raise_for_failed(self) -> None:
        """Raise :class:`RunFailedError` for the first failed run, if there is one."""
        failed = self.manifest.failed()
        if failed:
            run_id = min(failed)
            outcome = failed[run_id].outcome
            raise RunFailedError(run_id, str(outcome.reason), outcome.error or "")

    def __repr__(self) -> str:
        return sweep_text(self._view())

    def _repr_html_(self) -> str:
        return sweep_html(self._view())

    def _view(self) -> dict[str, Any]:
        """Summarise the sweep for its reprs, reading the manifest and the lock once."""
        manifest = self.manifest
        held = lock_lines(self.path) if isinstance(self.path, Path) and not self.is_bundle else None
        state = "bundle" if self.is_bundle else f"running on {held[0]}" if held else "idle"
        reasons: dict[str, tuple[int, str]] = {}
        for rid in sorted(failed := manifest.failed()):
            outcome = failed[rid].outcome
            n, first = reasons.get(str(outcome.reason), (0, first_line(outcome.error)))
            reasons[str(outcome.reason)] = (n + 1, first)
        variants = variant_records(manifest)
        scripts = {name: (str(r.name), str(r.sha256)) for name, r in variants.items()}
        if not scripts:
            header = manifest.header
            scripts = {"": (str(header.script.name), header.script_sha256)}
        dims = manifest.space.get("dims", {})
        return {
            "path": str(self.path),
            "state": state,
            "live": held is not None,
            "dashboard": held[1] if held and len(held) > 1 else None,
            "counts": manifest.counts(),
            "n_runs": manifest.n_runs,
            "dims": dims_text(list(dims), list(dims.values())),
            "scripts": scripts,
            "reasons": reasons,
            "outputs": _output_counts(manifest),
            "derive_failed": _derive_counts(manifest)["derive-failed"],
            "no_effect": describe(self.no_effect_dims(manifest)),
        }

    def no_effect_dims(self, manifest: Manifest | None = None) -> dict[str, int]:
        """Return the dims along which no ok run's outputs or derived values change.

        A swept field GMAT never used (or that no output depends on) shows up
        here: ``{"Sat.Cd": 5}`` for a 5-value ``Sat.Cd`` grid that changed
        nothing. Read from the manifest (each output's digest); empty for runs
        recorded before outputs had digests.
        """
        manifest = self.manifest if manifest is None else manifest
        return no_effect(manifest.runs, Space.from_dict(manifest.space, verify=False))


_RUN_COLUMNS = (
    "status",
    "reason",
    "error",
    "duration_s",
    "gmat_s",
    "attempts",
    "host",
    "pid",
    "started",
    "ended",
    "log",
)


def _output_counts(manifest: Manifest) -> dict[str, int]:
    counts = dict.fromkeys(("unparsed", "absent"), 0)
    for _, p in manifest.output_problems():
        counts[p.status] += 1
    return counts


def _derive_counts(manifest: Manifest) -> dict[str, int]:
    counts = dict.fromkeys(("ok", "derive-failed", "none"), 0)
    for rec in manifest.runs.values():
        if rec.status == "ok":
            counts[derived_row(rec.outcome.derived)["derive_status"]] += 1
    return counts


def baseline_of(manifest: Manifest) -> str | None:
    """Return the variant name a sweep of one script gave its runs on growing a variant."""
    return next((str(e["baseline"]) for e in manifest.extensions if "baseline" in e), None)


def labels_of(rec: RunRecord, baseline: str | None) -> dict[str, Any]:
    """Return a run's labels; a run from before its sweep had variants gets ``baseline``'s."""
    return _labels_of(rec.labels, baseline)


def _labels_of(labels: Mapping[str, Any], baseline: str | None) -> dict[str, Any]:
    if baseline is None or VARIANT_DIM in labels:
        return dict(labels)
    return {VARIANT_DIM: baseline, **labels}


def _runs_frame(records: Iterable[RunRecord], baseline: str | None = None) -> pd.DataFrame:
    rows = []
    for rec in records:
        outcome = rec.outcome
        row: dict[str, Any] = {c: getattr(outcome, c, None) for c in _RUN_COLUMNS}
        row["attempts"] = outcome.attempts
        row.update(labels_of(rec, baseline))
        row.update(rec.overrides)
        row["run_id"] = rec.run_id
        rows.append(row)
    frame = pd.DataFrame(rows, columns=["run_id", *_RUN_COLUMNS] if not rows else None)
    return frame.set_index("run_id").sort_index()
