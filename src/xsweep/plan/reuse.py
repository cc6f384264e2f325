"""Reusing identical runs (``reuse="content"``): a run linked to an ok run done already.

A run's fingerprint is the SHA-256 of what decides its outputs as far as a sweep can
tell: the canonical hash of the script it loads (its closure), its overrides, and the
engine (kind, GMAT and gmatpy versions). With ``reuse="content"``, a run whose
fingerprint matches an ok run of the same sweep, or of a sweep given as ``reuse_from=``,
is not run. It is recorded ``ok`` with ``extra["reused"]`` naming its source
(``{"sweep_id", "run_id"}``), and its outputs are the source's: in the same sweep, the
source's files (its paths); from another sweep, hard links (or copies) under its own run
directory, so that the sweep stays self-contained and archives whole.

It is off by default: a script is not always a pure function of its fields. A ``Write``
of a per-process counter (``NAIFId``), the wall clock, or a file the script reads that
xsweep does not hash (one GMAT finds in its own data directories) can make two runs of
one fingerprint differ.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from xsweep.core.header import ManifestHeader
from xsweep.core.paths import MANIFEST_NAME, sweep_dir
from xsweep.core.records import RunOutcome, RunRecord, json_safe
from xsweep.record.manifest import Manifest

Reuse = Literal["content"] | None


def reuse_sources(
    here: Path, manifest: Manifest | None, reuse_from: Iterable[str | os.PathLike[str]]
) -> dict[str, Source]:
    """Index the ok runs of this sweep (its ``manifest``) and of the sweeps ``reuse_from``.

    Raises
    ------
    ConfigError
        A ``reuse_from`` path is not a sweep directory (a bundle: extract it first).
    """
    sweeps = [] if manifest is None else [(here, manifest)]
    for path in reuse_from:
        other = sweep_dir(path)
        sweeps.append((other, Manifest.load(other / MANIFEST_NAME)))
    return index(sweeps)


def engine_key(header: ManifestHeader) -> list[Any]:
    """Return the engine a sweep's header records, as the fingerprint holds it."""
    engine = header.engine
    return [engine.kind, engine.gmat_version, engine.gmatpy_version]


def fingerprint(script_sha256: str, overrides: Mapping[str, Any], engine: list[Any]) -> str:
    """Return a run's fingerprint: its script's hash, its overrides and the engine."""
    text = json.dumps(
        {"script": script_sha256, "overrides": {k: json_safe(v) for k, v in overrides.items()},
         "engine": engine},
        sort_keys=True,
        allow_nan=False,
    )  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Source:
    """An ok run another run can reuse: its sweep and its record."""

    sweep_dir: Path
    sweep_id: str
    record: RunRecord


def index(sweeps: Iterable[tuple[Path, Manifest]]) -> dict[str, Source]:
    """Return every ok run of ``sweeps`` by fingerprint (the first of each wins)."""
    found: dict[str, Source] = {}
    for where, manifest in sweeps:
        engine = engine_key(manifest.header)
        sweep_id = manifest.header.sweep_id
        for run_id in sorted(manifest.runs):
            rec = manifest.runs[run_id]
            if rec.status == "ok" and rec.outcome.kept and not rec.outcome.problems:  # files
                key = fingerprint(rec.script_sha256, rec.overrides, engine)
                found.setdefault(key, Source(where, sweep_id, rec))
    return found


def linked(source: Source, here: Path, run_dir: str, functions: Iterable[Any] = ()) -> RunOutcome:
    """Return the outcome of a run that reuses ``source``; bring its files in if need be.

    In the same sweep, the outcome points at the source's files. From another sweep,
    each file is hard-linked (copied across file systems) into ``run_dir``. The
    source's derived values are kept for the ``functions`` (same name, same hash) it
    was given.
    """
    outcome = source.record.outcome
    reused = {"sweep_id": source.sweep_id, "run_id": source.record.run_id}
    if source.sweep_dir != here:
        (here / run_dir).mkdir(parents=True, exist_ok=True)
        outputs = tuple(
            replace(o, path=_bring(source.sweep_dir, o.path, here, run_dir))
            for o in outcome.outputs
        )
        log = None if outcome.log is None else _bring(source.sweep_dir, outcome.log, here, run_dir)
        outcome = replace(outcome, outputs=outputs, log=log)
    keys = {(f.ref, f.sha256) for f in functions}
    derived = tuple(d for d in outcome.derived if (d.fn, d.sha256) in keys)
    return replace(outcome.noting(reused=reused), derived=derived)


def _bring(src_dir: Path, member: str, here: Path, run_dir: str) -> str:
    name = f"{run_dir}/{PurePosixPath(member).name}"
    target = here / name
    if target.exists() or target.is_symlink():
        target.unlink()
    try:
        os.link(src_dir / member, target)
    except OSError:
        shutil.copy2(src_dir / member, target)
    return name


WAIT: Literal["wait"] = "wait"  # the run waits for its twin of this session


class Reuser:
    """Decide, run by run, whether a session's run is linked instead of run.

    A run whose fingerprint a known ok run has is linked to it. Of the runs of
    one session that share a fingerprint, the first runs and the others wait
    for it: linked when it is ok, run themselves when it is not.

    Parameters
    ----------
    sources : dict
        The ok runs to reuse, by fingerprint (:func:`index`).
    here : pathlib.Path
        The sweep directory.
    header : mapping
        The sweep's manifest header (its id and engine).
    functions : iterable of DeriveFunction
        The sweep's derive functions: a source's values of them are kept.
    """

    def __init__(
        self,
        sources: dict[str, Source],
        here: Path,
        header: ManifestHeader,
        functions: Iterable[Any] = (),
    ) -> None:
        self.sources = sources
        self.here = here
        self.sweep_id = header.sweep_id
        self.engine = engine_key(header)
        self.functions = tuple(functions)
        self.linked = 0
        self._first: dict[str, int] = {}
        self._waiting: dict[int, tuple[str, list[Any]]] = {}

    def take(self, run: Any, sha256: str) -> Source | Literal["wait"] | None:
        """Return the source ``run`` reuses, :data:`WAIT`, or ``None`` (it runs)."""
        key = fingerprint(sha256, run.overrides, self.engine)
        source = self.sources.get(key)
        if source is not None:
            return source
        first = self._first.get(key)
        if first is not None:
            self._waiting[first][1].append(run)
            return WAIT
        self._first[key] = run.run_id
        self._waiting[run.run_id] = (key, [])
        return None

    def done(self, record: RunRecord) -> list[tuple[Any, Source | None]]:
        """Take in a recorded run; return the runs that waited for it and their source.

        A source of ``None``: it was not ok, and they run themselves.
        """
        key, runs = self._waiting.pop(record.run_id, ("", []))
        if not key:
            return []
        del self._first[key]
        if record.status != "ok" or record.outcome.problems:
            return [(run, None) for run in runs]
        source = Source(self.here, self.sweep_id, record)
        self.sources[key] = source
        return [(run, source) for run in runs]

    def outcome(self, source: Source, run_dir: str) -> RunOutcome:
        """Return the outcome of a run linked to ``source`` (its files brought in)."""
        self.linked += 1
        if source.sweep_dir != self.here:
            shutil.rmtree(self.here / run_dir, ignore_errors=True)  # an attempt's leftovers
        return linked(source, self.here, run_dir, self.functions)
