"""Re-flying runs in full: :func:`refly`, and the check that a run gives what it gave.

A sweep that keeps summaries (``keep=``) has every run's summaries and some runs'
full histories. ``refly`` runs chosen runs again, in full, into the same sweep
(through resume's continuation: the same lock, scripts, drift check and store),
and compares each new outcome with the recorded one: the value digest of each
output's whole history, and its summary, bit for bit. GMAT is deterministic for
a script and its values, so a difference means the run is not the run it was (a
drifted script run with ``allow_script_drift``, an engine of another version):
the run's new line records it (``extra["refly"]``) and a warning names it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from xsweep.core.errors import ConfigError
from xsweep.core.keep import Keep
from xsweep.core.records import RunOutcome, RunRecord
from xsweep.record.manifest import Manifest
from xsweep.space.spaces import Space

# A re-flown run keeps everything: its files, and the summaries it is compared by.
FULL = Keep(every=1)


def same_as(old: RunRecord, new: RunOutcome) -> dict[str, Any]:
    """Compare a re-flown outcome with the recorded one: ``{"same": True}`` or what differs."""
    was = old.outcome
    differ: list[str] = []
    for what in ("status", "reason", "error"):
        if getattr(was, what) != getattr(new, what):
            differ.append(what)
    before = {(o.kind, o.name): o for o in was.outputs}
    after = {(o.kind, o.name): o for o in new.outputs}
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        name = key[1]
        if a is None or b is None:
            differ.append(f"{name}: {'new' if a is None else 'gone'}")
            continue
        if a.rows != b.rows:
            differ.append(f"{name}: rows {a.rows} -> {b.rows}")
        if a.digest is not None and a.digest != b.digest:
            differ.append(f"{name}: values")
        if a.summary is not None and b.summary is not None:
            diff = _summary_diff(a.summary.to_dict(), b.summary.to_dict())
            differ += [f"{name}: {d}" for d in diff]
    if differ:
        return {"same": False, "differ": differ[:20], "was_started": was.started}
    return {"same": True, "was_started": was.started}


def _summary_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Name the summary values that differ in any bit (JSON text: -0.0 is not 0.0)."""
    out = []
    columns = list(a["columns"])
    for stat in ("final", "min", "max", "min_at", "max_at"):
        for column, x, y in zip(columns, a[stat], b[stat], strict=False):
            if json.dumps(x) != json.dumps(y):
                out.append(f"{column} {stat}")
    return out


def chosen_runs(manifest: Manifest, space: Space, runs: Any) -> list[int]:
    """Return the run ids ``runs`` names: ids, an opened sweep's selection, or a predicate.

    A predicate is ``fn(summary, params) -> bool`` over each ok run's summaries (as
    ``Keep(where=...)`` gets them). A selection (a Dataset or DataArray of
    :func:`xsweep.open_sweep`) names its runs by its ``run_id``.

    Raises
    ------
    ConfigError
        Nothing chosen, or a run that was never run (resume runs those).
    """
    import numpy as np

    if isinstance(runs, str):
        ids = _queried(manifest, runs)
    elif callable(runs) and not hasattr(runs, "dims"):
        from xsweep.gmat.summary import summary_frames

        ids = []
        for run_id, rec in sorted(manifest.runs.items()):
            params = {**rec.labels, **rec.overrides}
            if rec.status == "ok" and runs(summary_frames(rec.outcome), params):
                ids.append(run_id)
    elif hasattr(runs, "dims"):  # xarray: its run ids (a run_id of NaN: masked out)
        values = np.asarray(runs["run_id"] if "run_id" in runs.coords else runs).reshape(-1)
        if values.dtype.kind == "f":
            values = values[~np.isnan(values)]
        ids = [int(i) for i in values]
    elif isinstance(runs, int | np.integer):
        ids = [int(runs)]
    else:
        ids = [int(i) for i in runs]
    if not ids:
        raise ConfigError("refly: no run chosen")
    for run_id in ids:
        if not 0 <= run_id < space.n_runs:
            last = space.n_runs - 1
            raise ConfigError(f"refly: the sweep has no run {run_id} (its runs are 0..{last})")
        if run_id not in manifest.runs:
            raise ConfigError(f"refly: run {run_id} never ran; xs.resume runs it")
    return sorted(set(ids))


def _queried(manifest: Manifest, expression: str) -> list[int]:
    """Return the ok runs a :meth:`pandas.DataFrame.query` expression picks from their summaries.

    Raises
    ------
    ConfigError
        The expression is not one pandas evaluates over that table.
    """
    import pandas as pd

    rows: dict[int, dict[str, Any]] = {}
    for run_id, rec in manifest.runs.items():
        if rec.status != "ok":
            continue
        outputs = [o for o in rec.outcome.outputs if o.summary is not None]
        row: dict[str, Any] = {**rec.overrides, **rec.labels}
        for out in outputs:
            s = out.summary
            assert s is not None
            prefix = f"{out.name}." if len(outputs) > 1 else ""
            for i, column in enumerate(s.columns):
                for stat, values in (("final", s.final), ("min", s.min), ("max", s.max)):
                    row[f"{prefix}{column}.{stat}"] = values[i]
        rows[run_id] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    try:
        picked = table.query(expression)
    except Exception as exc:  # pandas' own parse and name errors, whatever their type
        columns = ", ".join(sorted(map(str, table.columns))[:12])
        raise ConfigError(
            f"refly: cannot evaluate {expression!r} ({type(exc).__name__}: {exc}); the "
            f"columns are {columns}... (a name with dots in backticks: `Sat.X.min`)"
        ) from None
    return [int(i) for i in picked.index]
