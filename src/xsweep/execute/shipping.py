"""Runs on workers that share no file system with the client: scripts in, outputs back.

The client sends the sweep's script files once per worker (a scattered
:class:`ScriptBundle`); a task runs GMAT in a scratch directory of its own
host and returns the run's files as bytes (:class:`Shipped`), which the
client writes into the sweep. No worker needs any of the client's paths.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xsweep.core.errors import DiskFullError
from xsweep.core.paths import LOCK_NAME, MANIFEST_NAME, RUNS_DIR, STORE_NAME, check_relative
from xsweep.core.records import RunOutcome
from xsweep.gmat.requests import RunRequest
from xsweep.record.bucket import PARTS_DIR

# What of a sweep directory is not script material: the rest travels to the workers.
_NOT_SCRIPTS = {MANIFEST_NAME, LOCK_NAME, RUNS_DIR, STORE_NAME, PARTS_DIR}


@dataclass(frozen=True)
class ScriptBundle:
    """A sweep's script files (its copy of the script, includes, variants), by relative path."""

    sha256: str
    files: Mapping[str, bytes]


@dataclass(frozen=True)
class Shipped:
    """A run done on a worker that shares no disk: its outcome and its files' bytes."""

    outcome: RunOutcome
    files: Mapping[str, bytes]  # path relative to the run's directory -> content


def script_bundle(sweep_dir: Path) -> ScriptBundle:
    """Collect the script material of ``sweep_dir``: everything but manifest, runs and store."""
    files: dict[str, bytes] = {}
    for top in sorted(os.listdir(sweep_dir)):
        if top in _NOT_SCRIPTS or top.startswith("."):
            continue
        files.update(_read_tree(sweep_dir / top, sweep_dir))
    return ScriptBundle(_digest(files), files)


def _digest(files: Mapping[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def write_files(directory: str, files: Mapping[str, bytes]) -> None:
    """Write shipped files under ``directory`` (a run's directory on the client)."""
    for rel, data in files.items():
        check_relative(rel, "a shipped file")
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


def run_shipped(
    body: Callable[..., RunOutcome | Shipped | DiskFullError],
    request: RunRequest,
    bundle: ScriptBundle,
    **kwargs: Any,
) -> Shipped | DiskFullError:
    """Run ``request`` (its script relative to the sweep) here and return a :class:`Shipped`.

    ``body`` is the task body that runs it; anything but a :class:`RunOutcome`
    (a full disk) is returned as it is.
    """
    root = _placed(bundle)
    with tempfile.TemporaryDirectory(prefix="xsweep-run-") as scratch:
        out_dir = os.path.join(scratch, os.path.basename(request.out_dir))
        here = replace(request, script=os.path.join(root, request.script), out_dir=out_dir)
        result = body(here, **kwargs)
        if not isinstance(result, RunOutcome):
            return result  # a full disk (a Shipped would need ``body`` to ship again)
        files = dict(_read_tree(Path(out_dir), Path(out_dir))) if os.path.isdir(out_dir) else {}
        return Shipped(result, files)


_CACHE: list[str] = []  # this process's private script cache (one mkdtemp)
_VERIFIED: set[str] = set()  # bundles placed (or checked) by this process


def _cache() -> str:
    """Return this process's private cache directory (0700, ours), made on first use.

    A shared, predictable path would let another local user plant a modified
    script under a genuine hash; a ``mkdtemp`` of our own cannot be planted.
    """
    if not _CACHE:
        _CACHE.append(tempfile.mkdtemp(prefix="xsweep-scripts-"))
        atexit.register(shutil.rmtree, _CACHE[0], True)
    st = os.lstat(_CACHE[0])
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise PermissionError(f"{_CACHE[0]} is not a private directory of this user")
    return _CACHE[0]


def _placed(bundle: ScriptBundle) -> str:
    """Return this host's copy of ``bundle``'s files, written and checked on first use."""
    root = os.path.join(_cache(), bundle.sha256[:32])
    if root in _VERIFIED:
        return root
    if os.path.isdir(root) and _digest(_read_tree(Path(root), Path(root))) == bundle.sha256:
        _VERIFIED.add(root)
        return root
    shutil.rmtree(root, ignore_errors=True)
    tmp = f"{root}.{uuid.uuid4().hex}.tmp"
    write_files(tmp, bundle.files)
    os.makedirs(tmp, exist_ok=True)
    try:
        os.rename(tmp, root)
    except OSError:  # another thread of this process placed it first
        shutil.rmtree(tmp, ignore_errors=True)
    if _digest(_read_tree(Path(root), Path(root))) != bundle.sha256:
        raise RuntimeError(f"the script files placed in {root} do not match their hash")
    _VERIFIED.add(root)
    return root


def _read_tree(path: Path, base: Path) -> dict[str, bytes]:
    """Read the files under ``path``; symlinks are skipped (they could lead out of it)."""
    if path.is_symlink():
        return {}
    if path.is_file():
        return {path.relative_to(base).as_posix(): path.read_bytes()}
    out: dict[str, bytes] = {}
    for dirpath, _, names in os.walk(path):
        for name in names:
            full = Path(dirpath) / name
            if not full.is_symlink():
                out[full.relative_to(base).as_posix()] = full.read_bytes()
    return out
