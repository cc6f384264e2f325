"""Who holds a sweep's lock: the lock file's text, for ``show`` and a refused second writer."""

from __future__ import annotations

from pathlib import Path

import filelock

from xsweep.core.paths import LOCK_NAME


def lock_owner(sweep_dir: Path) -> str | None:
    """Return ``host:pid`` of the process writing the sweep, or None if none is.

    Probes the writer's OS lock without taking it for longer than the probe,
    and writes nothing: safe on a sweep that is running.
    """
    held = lock_lines(sweep_dir)
    return None if held is None else held[0]


def lock_lines(sweep_dir: Path) -> list[str] | None:
    """Return the lines the sweep's writer left in its lock, or None if nobody holds it.

    The first is its ``host:pid``; a second, its Dask dashboard's address
    (:meth:`ManifestWriter.note_dashboard`).
    """
    lock_file = sweep_dir / LOCK_NAME
    if not lock_file.exists():
        return None
    probe = filelock.FileLock(lock_file, timeout=0, mode=0o600)
    try:
        probe.acquire()
    except filelock.Timeout:
        return lock_text(lock_file) or ["unknown"]
    probe.release()
    return None


def lock_text(lock_file: Path) -> list[str]:
    """Return the lines a writer left in its lock: ``host:pid``, then its dashboard."""
    return lock_file.read_text(errors="replace").split() if lock_file.exists() else []
