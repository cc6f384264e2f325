"""A staged sweep mirrored to its object store, group commit by group commit.

A session on ``s3://bucket/sweeps/a`` runs in a staging directory on this
machine's disk (:func:`staged`); its :class:`BucketMirror` makes every group
commit durable in the bucket before the runs in it count as done: first the
runs' files, then the manifest lines as one immutable part (``manifest.d/``,
see :mod:`xsweep.record.bucket`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from xsweep.core.errors import ConfigError
from xsweep.core.paths import run_dir_name
from xsweep.record.bucket import Remote, Snapshot, part_name, snapshot
from xsweep.record.manifest import MIRRORS


class BucketMirror:
    """Mirror a staged sweep's manifest and run files to its object store.

    Parameters
    ----------
    remote : Remote
        The bucket side.
    staging : pathlib.Path
        The local sweep directory the session writes.
    synced : dict
        What of ``staging`` the bucket holds already (sizes and mtimes).
    """

    def __init__(self, remote: Remote, staging: Path, synced: Snapshot) -> None:
        self.remote = remote
        self.staging = staging
        self.synced = synced
        self.generation = 0
        self.seq = 0

    def opened(self, data: bytes) -> None:
        """Upload the script files, then compact: this session's parts start a generation."""
        self.synced = self.remote.sync(self.staging, self.synced, store=False)
        self.generation = self.remote.compact(data)
        self.seq = 0

    def appended(self, data: bytes, records: Sequence[Mapping[str, Any]]) -> None:
        """Upload the recorded runs' files, then their lines as one part."""
        self.synced = self.remote.sync(self.staging, self.synced, store=False)  # a drifted copy
        files: dict[str, str] = {}
        for record in records:
            if record.get("kind") != "run":
                continue
            rel = run_dir_name(int(record["run_id"]))
            for dirpath, _, names in os.walk(self.staging / rel):
                for name in names:
                    path = os.path.join(dirpath, name)
                    files[path] = os.path.relpath(path, self.staging).replace(os.sep, "/")
        self.remote.put(files)
        self.remote.pipe(part_name(self.generation, self.seq), data)
        self.seq += 1

    def closed(self, data: bytes) -> None:
        """Compact the manifest: one object again."""
        self.generation = self.remote.compact(data)
        self.seq = 0


@contextmanager
def staged(
    url: str,
    storage_options: Mapping[str, Any] | None,
    *,
    new: bool,
    write: bool = True,
) -> Iterator[Path]:
    """Yield a local directory holding the sweep at ``url``, mirrored back as it is written.

    ``new``: the sweep is created (nothing may be at ``url``); otherwise it is
    copied down first. With ``write`` false nothing goes back (an archive).
    The staging directory is removed after a clean exit and kept (its path
    in the error's notes) after an error.
    """
    remote = Remote(url, storage_options)
    exists = remote.has_manifest()
    if new and exists:
        raise ConfigError(
            f"{remote.url} already holds a sweep: give another output URL for this space; "
            "resuming it would run that sweep's own space"
        )
    if not new and not exists:
        raise ConfigError(f"{remote.url} is not a sweep (no manifest.jsonl)")
    parent = Path(tempfile.mkdtemp(prefix="xsweep-staging-"))
    local = parent / "sweep"
    if not new:
        local.mkdir()
        remote.download(local)
    key = os.path.realpath(local)
    mirror = BucketMirror(remote, local, snapshot(local, store=True) if not new else {})
    if write:
        MIRRORS[key] = mirror
    try:
        yield local
        if write and local.is_dir():
            mirror.synced = remote.sync(local, mirror.synced, store=True)
    except BaseException as exc:
        exc.add_note(f"xsweep: the session's local copy of {remote.url} is kept at {local}")
        raise
    else:
        shutil.rmtree(parent, ignore_errors=True)
    finally:
        MIRRORS.pop(key, None)
