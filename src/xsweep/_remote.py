"""Sessions on a sweep at a URL: staged in a local directory, mirrored to the bucket.

A session (``run``, ``resume``, ``extend``) on ``s3://bucket/sweeps/a`` runs
exactly as on a directory, in a staging directory on this machine's disk:
the manifest there is locked and fsynced as always. Its
:class:`BucketMirror` makes every group commit durable on the object store
too before the runs in it count as done: first the runs' files, then the
manifest lines as one immutable part (``manifest.d/``, see ``_objstore``).
The Zarr store is uploaded (changed objects only) when the session ends,
and the manifest compacted. A resume on any machine rebuilds the staging
directory from the bucket alone; runs whose files reached the bucket but
whose lines did not are adopted there (their done markers), not rerun.
"""

from __future__ import annotations

import functools
import inspect
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec

from xsweep._errors import ConfigError
from xsweep._handle import Sweep
from xsweep._manifest import MIRRORS
from xsweep._objstore import Remote, Snapshot, is_url, part_name, snapshot
from xsweep._paths import run_dir_name

P = ParamSpec("P")


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
        raise ConfigError(f"{remote.url} already holds a sweep; continue it with xs.resume()")
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


def on_url(param: str, *, new: bool) -> Callable[[Callable[P, Sweep]], Callable[P, Sweep]]:
    """Let a session function take a URL for its sweep argument ``param``.

    The wrapped function keeps its ``storage_options`` parameter; with a URL it
    runs on the staged directory and a :class:`Sweep` on the URL is returned.
    """

    def wrap(fn: Callable[P, Sweep]) -> Callable[P, Sweep]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> Sweep:
            bound = signature.bind(*args, **kwargs)
            target = bound.arguments.get(param)
            options = bound.arguments.get("storage_options")
            if not is_url(target):
                if options:
                    raise ConfigError(
                        f"storage_options is for a sweep at a URL (s3://...), not {target}"
                    )
                return fn(*args, **kwargs)
            with staged(str(target), options, new=new) as local:
                bound.arguments[param] = str(local)
                bound.arguments["storage_options"] = None
                fn(*bound.args, **bound.kwargs)
            return Sweep(str(target), storage_options=options)

        return inner

    return wrap
