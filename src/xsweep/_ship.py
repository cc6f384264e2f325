"""Runs on workers that share no file system with the client: scripts in, outputs back.

The client sends the sweep's script files once per worker (a scattered
:class:`ScriptBundle`); a task runs GMAT in a scratch directory of its own
host and returns the run's files as bytes (:class:`Shipped`), which the
client writes into the sweep. No worker needs any of the client's paths.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xsweep._objstore import PARTS_DIR
from xsweep._paths import LOCK_NAME, MANIFEST_NAME, RUNS_DIR, STORE_NAME
from xsweep._records import RunOutcome
from xsweep.gmat.requests import RunRequest

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
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return ScriptBundle(digest.hexdigest(), files)


def write_files(directory: str, files: Mapping[str, bytes]) -> None:
    """Write shipped files under ``directory`` (a run's directory on the client)."""
    for rel, data in files.items():
        path = os.path.join(directory, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)


def run_shipped(
    body: Callable[..., Any], request: RunRequest, bundle: ScriptBundle, **kwargs: Any
) -> Any:
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
            return result
        files = dict(_read_tree(Path(out_dir), Path(out_dir))) if os.path.isdir(out_dir) else {}
        return Shipped(result, files)


def _placed(bundle: ScriptBundle) -> str:
    """Return this host's copy of ``bundle``'s files, writing it on first use."""
    base = os.path.join(tempfile.gettempdir(), f"xsweep-scripts-{os.getuid()}")
    root = os.path.join(base, bundle.sha256[:32])
    if os.path.isdir(root):
        return root
    tmp = f"{root}.{uuid.uuid4().hex}.tmp"
    for rel, data in bundle.files.items():
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
    os.makedirs(tmp, exist_ok=True)
    try:
        os.rename(tmp, root)
    except OSError:  # another worker of this host placed it first
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def _read_tree(path: Path, base: Path) -> dict[str, bytes]:
    if path.is_file():
        return {path.relative_to(base).as_posix(): path.read_bytes()}
    out: dict[str, bytes] = {}
    for dirpath, _, names in os.walk(path):
        for name in names:
            full = Path(dirpath) / name
            out[full.relative_to(base).as_posix()] = full.read_bytes()
    return out
