"""Trajectories in 3D: a sweep's ephemerides as one CZML document, through gmat-czml.

Each selected run's ephemeris (its Parquet, as gmat-run parsed it: already
gmat-czml's canonical state series) becomes one object, named by the run's
parameters. gmat-czml writes the CZML; this module only picks and names the
runs. It is the ``[czml]`` extra.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xsweep.analysis.handle import Sweep, baseline_of, labels_of
from xsweep.core.errors import ConfigError
from xsweep.record.manifest import Manifest

HINT = "xs.to_czml needs gmat-czml: pip install 'gmat-xsweep[czml]'"


def _gmat_czml() -> Any:
    try:
        import gmat_czml
    except ImportError:
        raise ConfigError(HINT) from None
    return gmat_czml


def _run_ids(runs: Any, manifest: Manifest) -> list[int]:
    """Run ids from an id, ids, or a selection of an opened sweep (its ``run_id``)."""
    if runs is None:
        return sorted(rid for rid, rec in manifest.runs.items() if rec.status == "ok")
    if hasattr(runs, "variables") or hasattr(runs, "dims"):  # ds.sel(...), or its run_id
        ids = runs["run_id"] if "run_id" in getattr(runs, "variables", {}) else runs
        return sorted(int(i) for i in ids.values.ravel())
    if isinstance(runs, int):
        return [runs]
    if isinstance(runs, Iterable) and not isinstance(runs, str):
        return [int(i) for i in runs]
    raise ConfigError(f"runs= takes a run id, run ids or a selection of the sweep, got {runs!r}")


def _name(run_id: int, labels: dict[str, Any], overrides: dict[str, Any]) -> str:
    point = ", ".join(f"{k}={_short(v)}" for k, v in {**labels, **overrides}.items())
    return f"run {run_id}: {point}" if point else f"run {run_id}"


def _short(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def to_czml(
    sweep: str | os.PathLike[str] | Sweep,
    *,
    runs: Any = None,
    output: str | None = None,
    out: str | os.PathLike[str] | None = None,
    ground_track: bool = False,
    playback_seconds: float = 60.0,
    style: Any = None,
) -> Any:
    """Write the selected runs' ephemerides as one CZML document for Cesium.

    One object per run, named by its parameters (``"run 3: Sat.SMA=7100,
    Sat.INC=51.6"``), each the run's ``EphemerisFile`` as gmat-run parsed it.
    gmat-czml builds the document (orbit paths, points, labels, a clock over
    the runs' span, optionally ground tracks).

    Parameters
    ----------
    sweep : path-like or Sweep
        The sweep directory (or bundle), or its handle.
    runs : int, sequence of int, or xarray object, optional
        The runs: ids, or a selection of the opened sweep
        (``xs.open_sweep(d).sel({"Sat.INC": 51.6})``; its ``run_id`` says
        which). Default: every ok run. A failed run in the selection has no
        ephemeris: it is left out, with a warning naming it.
    output : str, optional
        The ``EphemerisFile``'s name; needed when the runs have several.
    out : path-like, optional
        Write the document there (``.czml``) as well as returning it.
    ground_track, playback_seconds, style
        Passed to :func:`gmat_czml.to_czml`.

    Returns
    -------
    gmat_czml.CzmlDocument
        ``.to_json()``, ``.to_dict()``, ``.save(path)``.

    Raises
    ------
    ConfigError
        gmat-czml is missing (the ``[czml]`` extra), no selected run has the
        ephemeris, or ``output`` is needed or names none.
    """
    gmat_czml = _gmat_czml()
    handle = sweep if isinstance(sweep, Sweep) else Sweep(sweep)
    manifest = handle.manifest
    ids = _run_ids(runs, manifest)
    baseline = baseline_of(manifest)
    trajectories, skipped = [], []
    for rid in ids:
        rec = manifest.runs.get(rid)
        if rec is None or rec.status != "ok":
            skipped.append(rid)
            continue
        names = sorted({o.name for o in rec.outcome.outputs if o.kind == "ephemeris"})
        if not names:
            raise ConfigError(f"run {rid} wrote no ephemeris (its script has no EphemerisFile)")
        if output is None and len(names) > 1:
            raise ConfigError(f"the runs have ephemerides {names}; pass output= one of them")
        name = output or names[0]
        if name not in names:
            raise ConfigError(f"run {rid} has no ephemeris {name!r}; it has {names}")
        frame = handle.read_record(rec, rid, name)
        named = _name(rid, labels_of(rec, baseline), dict(rec.overrides))
        frame.attrs = {**frame.attrs, "object_name": named}
        trajectories.append(frame)
    if skipped:
        warnings.warn(
            f"runs {skipped[:10]}{' ...' if len(skipped) > 10 else ''} are not ok: they have "
            "no ephemeris and are left out of the CZML",
            UserWarning,
            stacklevel=2,
        )
    if not trajectories:
        raise ConfigError(f"none of the runs {ids[:10]} is ok: nothing to draw")
    with warnings.catch_warnings():  # CZML times are microseconds; GMAT's epochs are not
        warnings.filterwarnings("ignore", "Discarding nonzero nanoseconds", UserWarning)
        document = gmat_czml.to_czml(trajectories, ground_track=ground_track,
                                     playback_seconds=playback_seconds, style=style)  # fmt: skip
    if out is not None:
        document.save(Path(out).expanduser())
    return document
