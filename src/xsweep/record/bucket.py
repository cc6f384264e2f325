"""A sweep directory on object storage: the bucket side (fsspec), with bounded retries.

An object store has no append and no rename, so a sweep at a URL keeps its
manifest as objects that are each written whole:

```
s3://bucket/sweeps/a/
  manifest.jsonl              the compacted manifest (header + every line so far)
  manifest.d/compacted.json   {"generation": G}: parts up to generation G are in it
  manifest.d/000007-000000042.jsonl   the lines of one group commit (generation 7)
  mission.script, runs/..., sweep.zarr/   as in a sweep directory
```

The manifest is ``manifest.jsonl`` followed by the parts of generations past
``G`` in name order, read last-wins as on disk. Every session compacts when
it starts and when it ends (``manifest.jsonl`` first, then the marker, then
the parts are deleted), and writes its own parts under the next generation:
a compaction cut short leaves parts that are the tail of the compacted
manifest, and reading them twice changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from xsweep.core.errors import ConfigError, ObjectStoreError
from xsweep.core.paths import LOCK_NAME, MANIFEST_NAME, RUNS_DIR

PARTS_DIR = "manifest.d"
MARKER_NAME = f"{PARTS_DIR}/compacted.json"
_PART = re.compile(r"(\d{6})-(\d{9})\.jsonl$")
# Seconds a write to the object store is retried for before the session stops with an
# error (a restarting server takes a few); the runs it held stay pending, never lost.
RETRY_S = float(os.environ.get("XSWEEP_OBJECT_STORE_RETRY_S", "60"))

T = TypeVar("T")
_PERMANENT = (FileNotFoundError, PermissionError, FileExistsError, IsADirectoryError,
              NotADirectoryError, ValueError, TypeError, NotImplementedError)  # fmt: skip

Snapshot = dict[str, tuple[int, int]]  # path relative to the sweep -> (size, mtime_ns)


def is_url(path: object) -> bool:
    """Tell whether ``path`` names a sweep on an fsspec file system (``s3://...``)."""
    return isinstance(path, str) and re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", path) is not None


def part_name(generation: int, seq: int) -> str:
    """Return the name of the manifest part ``seq`` of session ``generation``."""
    return f"{PARTS_DIR}/{generation:06d}-{seq:09d}.jsonl"


class Remote:
    """A sweep at an fsspec URL: its manifest objects, files and uploads.

    Parameters
    ----------
    url : str
        The sweep's URL (``s3://bucket/sweeps/a``).
    storage_options : mapping, optional
        Passed to the fsspec file system (credentials, ``endpoint_url``...).
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        from fsspec.core import url_to_fs

        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        extra = {"auto_mkdir": True} if self.url.startswith(("file://", "local://")) else {}
        try:
            self.fs, root = url_to_fs(self.url, **{**extra, **self.storage_options})
        except (ImportError, ValueError) as exc:
            protocol = self.url.split("://", 1)[0]
            hint = " (pip install 'xsweep[s3]')" if protocol in ("s3", "s3a") else ""
            raise ConfigError(f"cannot open {self.url}: {exc}{hint}") from None
        self.root = str(root).rstrip("/")

    def key(self, rel: str) -> str:
        """Return the file system path of ``rel`` (POSIX, relative to the sweep)."""
        return f"{self.root}/{rel}"

    # -- with retries --

    def retried(self, what: str, call: Callable[[], T]) -> T:
        """Call ``call``, retrying a failure with backoff for up to ``RETRY_S`` seconds.

        A missing object, a refused permission or a bad argument is raised at
        once; anything else (a connection refused, a 5xx) may pass.
        """
        deadline = time.monotonic() + RETRY_S
        wait = 0.2
        while True:
            try:
                return call()
            except _PERMANENT:
                raise
            except Exception as exc:  # backends raise their own (botocore's connection errors)
                if time.monotonic() + wait > deadline:
                    raise ObjectStoreError(
                        f"could not {what} at {self.url} for {RETRY_S:g} s "
                        f"({type(exc).__name__}: {exc}); set XSWEEP_OBJECT_STORE_RETRY_S "
                        "to wait longer"
                    ) from exc
                time.sleep(wait)
                wait = min(2 * wait, 5.0)
                self.fs.invalidate_cache()

    def pipe(self, rel: str, data: bytes) -> None:
        """Write one object whole."""
        self.retried(f"write {rel}", lambda: self.fs.pipe_file(self.key(rel), data))

    def cat(self, rel: str) -> bytes | None:
        """Read one object; ``None`` if it does not exist."""
        try:
            data = self.retried(f"read {rel}", lambda: self.fs.cat_file(self.key(rel)))
        except FileNotFoundError:
            return None
        return bytes(data)

    def put(self, files: Mapping[str, str]) -> None:
        """Upload local files ``{local path: relative name}`` (concurrently where fsspec can)."""
        if files:
            local = list(files)
            remote = [self.key(files[p]) for p in local]
            self.retried(f"upload {len(local)} files", lambda: self.fs.put(local, remote))

    def delete(self, rels: Iterable[str]) -> None:
        """Delete objects (those already gone are fine)."""
        keys = [self.key(r) for r in rels]
        if keys:
            self.retried(f"delete {len(keys)} objects", lambda: _rm(self.fs, keys))

    def listing(self, rel: str = "") -> list[str]:
        """Return every object under ``rel``, relative to the sweep, sorted."""
        base = self.key(rel) if rel else self.root
        self.fs.invalidate_cache()
        try:
            found = self.retried("list the sweep", lambda: self.fs.find(base))
        except FileNotFoundError:
            return []
        prefix = self.root + "/"
        return sorted(str(p)[len(prefix) :] for p in found if str(p).startswith(prefix))

    # -- the manifest --

    def has_manifest(self) -> bool:
        """Tell whether a sweep lives at the URL."""
        self.fs.invalidate_cache()
        return bool(
            self.retried("look for the manifest", lambda: self.fs.exists(self.key(MANIFEST_NAME)))
        )

    def parts(self) -> tuple[int, list[tuple[int, str]]]:
        """Return the compacted generation and the parts past it, ``(generation, name)``."""
        marker = self.cat(MARKER_NAME)
        compacted = int(json.loads(marker)["generation"]) if marker else 0
        found = []
        for rel in self.listing(PARTS_DIR):
            m = _PART.search(rel)
            if m and int(m.group(1)) > compacted:
                found.append((int(m.group(1)), rel))
        return compacted, sorted(found, key=lambda p: p[1])

    def manifest_bytes(self) -> bytes:
        """Return the whole manifest: ``manifest.jsonl`` and the parts not compacted yet."""
        data = self.cat(MANIFEST_NAME)
        if data is None:
            raise ConfigError(f"{self.url} is not a sweep (no {MANIFEST_NAME})")
        chunks = [data if not data or data.endswith(b"\n") else data + b"\n"]
        for _, rel in self.parts()[1]:
            chunks.append(self.cat(rel) or b"")
        return b"".join(chunks)

    def compact(self, data: bytes) -> int:
        """Write ``data`` (the whole manifest) as ``manifest.jsonl``; return the next generation.

        ``data`` must hold every part listed now (the caller read them first).
        """
        compacted, parts = self.parts()
        last = max([compacted, *(g for g, _ in parts)])
        self.pipe(MANIFEST_NAME, data)
        self.pipe(MARKER_NAME, json.dumps({"generation": last}).encode())
        self.delete(rel for rel in self.listing(PARTS_DIR) if _PART.search(rel))
        return last + 1

    # -- whole directories --

    def download(self, into: Path) -> None:
        """Copy the sweep into ``into`` (its merged manifest too), but not the manifest parts."""
        rels = [
            r for r in self.listing() if not r.startswith(f"{PARTS_DIR}/") and r != MANIFEST_NAME
        ]
        remote = [self.key(r) for r in rels]
        local = [str(into / r) for r in rels]
        for path in {os.path.dirname(p) for p in local}:
            os.makedirs(path, exist_ok=True)
        if rels:
            self.retried("download the sweep", lambda: self.fs.get(remote, local))
        (into / MANIFEST_NAME).write_bytes(self.manifest_bytes())

    def sync(self, local: Path, before: Snapshot, *, store: bool) -> Snapshot:
        """Upload what changed in ``local`` since ``before``; return the new snapshot.

        Run directories and the manifest are the mirror's own; without ``store``
        the Zarr store is left for later too. Files gone from the store are
        deleted from the bucket (a rebuilt store may have fewer chunks).
        """
        now = snapshot(local, store=store)
        changed = {str(local / rel): rel for rel, st in now.items() if before.get(rel) != st}
        # Chunks before metadata: a reader never finds metadata naming chunks not there yet.
        ordered = dict(sorted(changed.items(), key=lambda kv: kv[1].endswith("zarr.json")))
        self.put(ordered)
        if store:
            self.delete(rel for rel in before if rel not in now and rel.startswith("sweep.zarr/"))
        return {
            **{k: v for k, v in before.items() if store or not k.startswith("sweep.zarr/")},
            **now,
        }


def snapshot(local: Path, *, store: bool) -> Snapshot:
    """Return ``{relative path: (size, mtime_ns)}`` of the files a sync uploads."""
    skip = {MANIFEST_NAME, LOCK_NAME, RUNS_DIR, PARTS_DIR} | (set() if store else {"sweep.zarr"})
    out: Snapshot = {}
    for top in os.listdir(local):
        if top in skip:
            continue
        base = local / top
        if base.is_file():
            st = base.stat()
            out[top] = (st.st_size, st.st_mtime_ns)
            continue
        for dirpath, _, names in os.walk(base):
            for name in names:
                path = os.path.join(dirpath, name)
                st = os.stat(path)
                out[os.path.relpath(path, local).replace(os.sep, "/")] = (
                    st.st_size,
                    st.st_mtime_ns,
                )
    return out


def _rm(fs: Any, keys: list[str]) -> None:
    try:
        fs.rm(keys)
    except FileNotFoundError:
        for key in keys:
            if fs.exists(key):
                fs.rm_file(key)
