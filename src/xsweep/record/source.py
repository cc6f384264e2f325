"""Where a sweep is read from: its directory, or an archive bundle (a zip), read-only.

Both give the manifest, a run's Parquet output and the Zarr store with the
same calls, so a reader never asks which one it has. This module also holds
the bundle's integrity checks (``MANIFEST.hash``), which :func:`xsweep.verify`
and :func:`xsweep.open_sweep` use; writing bundles is ``_archive``'s.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import pandas as pd

from xsweep.core.errors import BundleError, ConfigError, StoreError
from xsweep.core.paths import MANIFEST_NAME, STORE_NAME, inside, sweep_dir
from xsweep.record.bucket import Remote, is_url
from xsweep.record.manifest import Manifest

HASH_NAME = "MANIFEST.hash"
COPY_BYTES = 1 << 20
# A bundle is someone else's data: a member may inflate to at most RATIO x its compressed
# size (deflate tops out near 1032:1; a manifest compresses ~10:1), above FREE bytes.
RATIO = 200
FREE = 16 << 20


@dataclass(frozen=True)
class Verification:
    """The result of :func:`verify`: what differs from ``MANIFEST.hash``.

    Attributes
    ----------
    path : pathlib.Path
        The bundle.
    checked : int
        Members whose hash was computed.
    missing : list of str
        Listed in ``MANIFEST.hash`` but not in the zip.
    extra : list of str
        In the zip but not listed.
    altered : list of str
        Present and listed, with a different SHA-256.
    unsafe : list of str
        Names :func:`xsweep.extract` refuses: absolute, with ``..``, symlinks, duplicates.
    """

    path: Path
    checked: int
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every member is listed, present, safe and unaltered."""
        return not (self.missing or self.extra or self.altered or self.unsafe)

    def __bool__(self) -> bool:
        return self.ok

    def problems(self) -> list[str]:
        """One line per problem, ``"<kind>: <member>"``."""
        return [
            f"{kind}: {name}"
            for kind, names in (
                ("altered", self.altered),
                ("missing", self.missing),
                ("extra", self.extra),
                ("unsafe", self.unsafe),
            )
            for name in names
        ]

    def raise_for_problems(self) -> None:
        """Raise :class:`BundleError` naming every problem, if there are any."""
        problems = self.problems()
        if problems:
            listed = "; ".join(problems[:20])
            more = len(problems) - 20
            tail = f"; and {more} more" if more > 0 else ""
            raise BundleError(f"{self.path} fails verification: {listed}{tail}")


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open a bundle, turning a damaged zip into BundleError."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(f"{path} is not a readable zip ({exc})") from None


def hash_list(zf: zipfile.ZipFile, path: Path) -> dict[str, str]:
    """Read a bundle's member hash list (``MANIFEST.hash``), bounded in size."""
    try:
        text = read_member(zf, HASH_NAME).decode(errors="replace")
    except KeyError:
        raise BundleError(f"{path} is not an xsweep bundle (no {HASH_NAME})") from None
    listed: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name:
            raise BundleError(f"{path}: {HASH_NAME} line {number} is malformed: {line[:80]!r}")
        listed[name] = digest
    return listed


def unsafe_names(infos: Iterable[zipfile.ZipInfo]) -> list[str]:
    """Return the member names that are absolute, escape the bundle, or repeat."""
    seen: set[str] = set()
    bad: list[str] = []
    for info in infos:
        name = info.filename
        parts = PurePosixPath(name).parts
        mode = info.external_attr >> 16
        if (
            name.startswith(("/", "\\"))
            or "\\" in name
            or (len(name) > 1 and name[1] == ":")
            or ".." in parts
            or stat.S_ISLNK(mode)
            or name in seen
        ):
            bad.append(name)
        seen.add(name)
    return bad


def chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterable[bytes]:
    """Yield a member's bytes a chunk at a time; a zip bomb raises :class:`BundleError`."""
    limit = max(FREE, RATIO * info.compress_size)
    total = 0
    with zf.open(info) as src:
        while chunk := src.read(COPY_BYTES):
            total += len(chunk)
            if total > limit:
                raise BundleError(
                    f"{zf.filename}: member {info.filename} inflates past {RATIO}x its "
                    "compressed size (a zip bomb?): refused"
                )
            yield chunk


def read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    """Read a whole member, bounded as :func:`chunks` bounds it (KeyError if absent)."""
    return b"".join(chunks(zf, zf.getinfo(name)))


def digest(zf: zipfile.ZipFile, info: zipfile.ZipInfo, sink: IO[bytes] | None = None) -> str:
    """Return a member's SHA-256, read in bounded chunks (copied to ``sink`` if given)."""
    digest = hashlib.sha256()
    for chunk in chunks(zf, info):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    return digest.hexdigest()


def _check(zf: zipfile.ZipFile, path: Path) -> Verification:
    listed = hash_list(zf, path)
    infos = [i for i in zf.infolist() if not i.is_dir() and i.filename != HASH_NAME]
    names = {i.filename for i in infos}
    altered: list[str] = []
    checked = 0
    for info in infos:
        if info.filename in listed:
            checked += 1
            try:
                ok = digest(zf, info) == listed[info.filename]
            except (zipfile.BadZipFile, OSError, EOFError):  # CRC or zlib failure
                ok = False
            if not ok:
                altered.append(info.filename)
    return Verification(
        path,
        checked,
        missing=sorted(set(listed) - names),
        extra=sorted(names - set(listed)),
        altered=sorted(altered),
        unsafe=unsafe_names(zf.infolist()),
    )


def verify(bundle: str | os.PathLike[str]) -> Verification:
    r"""Check every member of a bundle against its ``MANIFEST.hash``.

    Parameters
    ----------
    bundle : path-like
        The zip written by :func:`xsweep.archive`.

    Returns
    -------
    Verification
        ``.ok`` is true when nothing is missing, extra, altered or unsafe;
        otherwise the offending member names are listed by kind.

    Raises
    ------
    BundleError
        ``bundle`` is not a zip, or has no readable ``MANIFEST.hash``.

    Examples
    --------
    >>> import tempfile, zipfile
    >>> import xsweep as xs
    >>> bad = tempfile.mktemp(suffix=".zip")
    >>> with zipfile.ZipFile(bad, "w") as zf:
    ...     zf.writestr("manifest.jsonl", "{}\n")
    ...     zf.writestr("MANIFEST.hash", "0" * 64 + "  manifest.jsonl\n")
    >>> xs.verify(bad).problems()
    ['altered: manifest.jsonl']
    """
    path = Path(bundle).expanduser().resolve()
    with open_zip(path) as zf:
        return _check(zf, path)


class DirectorySource:
    """A sweep directory, read as it is on disk now.

    Parameters
    ----------
    path : pathlib.Path
        The (resolved) sweep directory.
    """

    is_bundle = False

    def __init__(self, path: Path) -> None:
        self.path = path

    def manifest(self) -> Manifest:
        """Read the manifest as it is on disk now."""
        return Manifest.load(self.path / MANIFEST_NAME)

    def read_parquet(self, member: str) -> pd.DataFrame:
        """Read a Parquet file, by its path relative to the sweep (attrs restored)."""
        path = inside(self.path, member, "an output's path")
        try:
            return pd.read_parquet(path)
        except FileNotFoundError:
            raise StoreError(
                f"{member} is missing from {self.path} (moved or deleted?); "
                "xs.resume reruns the runs whose files are gone"
            ) from None

    def read_text(self, member: str) -> str | None:
        """Read a text file (a run's log) by its path relative to the sweep; ``None`` if absent."""
        try:
            return inside(self.path, member, "a log's path").read_text(errors="replace")
        except FileNotFoundError:
            return None

    def zarr_store(self, *, check_members: bool = False) -> tuple[Any, str | None]:
        """Return the Zarr store to open and the group prefix in it (``None`` here)."""
        if not (self.path / STORE_NAME).is_dir():
            raise StoreError(
                f"{self.path} has no consolidated store ({STORE_NAME}); build it with "
                f"xs.consolidate({str(self.path)!r})"
            )
        return self.path / STORE_NAME, None


class BundleSource:
    """An archive bundle, read straight from the zip (stored members seek in place).

    Parameters
    ----------
    path : pathlib.Path
        The (resolved) bundle.
    """

    is_bundle = True

    def __init__(self, path: Path) -> None:
        self.path = path

    def manifest(self) -> Manifest:
        """Read the bundle's manifest member (not checked against its hash: see :func:`verify`)."""
        with open_zip(self.path) as zf:
            try:
                data = read_member(zf, MANIFEST_NAME)
            except KeyError:
                raise BundleError(
                    f"{self.path} is not an xsweep bundle (no {MANIFEST_NAME})"
                ) from None
        return Manifest.from_bytes(data, self.path / MANIFEST_NAME)

    def read_parquet(self, member: str) -> pd.DataFrame:
        """Read one Parquet member (attrs restored)."""
        with open_zip(self.path) as zf:
            try:
                return pd.read_parquet(io.BytesIO(read_member(zf, member)))
            except KeyError:
                raise BundleError(f"{self.path} has no member {member}") from None

    def read_text(self, member: str) -> str | None:
        """Read a text member (a run's log: archived with ``include_logs``); ``None`` if absent."""
        with open_zip(self.path) as zf:
            try:
                return read_member(zf, member).decode(errors="replace")
            except KeyError:
                return None

    def zarr_store(self, *, check_members: bool = False) -> tuple[Any, str | None]:
        """Return the zip as a Zarr store and ``sweep.zarr`` as the prefix in it.

        The manifest member is checked against its hash first (cheap); with
        ``check_members``, every member.
        """
        import zarr  # only a bundle needs zarr here; a directory's store is opened by path

        members = check_header(self.path)
        if check_members:
            verify(self.path).raise_for_problems()
        if f"{STORE_NAME}/zarr.json" not in members:
            raise StoreError(f"{self.path} holds no {STORE_NAME}; xsweep did not archive it")
        return zarr.storage.ZipStore(self.path, mode="r"), STORE_NAME


class RemoteSource:
    """A sweep at an fsspec URL, read where it is (nothing is copied down).

    Parameters
    ----------
    remote : Remote
        The sweep's bucket side.
    """

    is_bundle = False

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        self.path = remote.url

    def manifest(self) -> Manifest:
        """Read the manifest: the compacted object and the parts written since."""
        return Manifest.from_bytes(self.remote.manifest_bytes(), f"{self.path}/{MANIFEST_NAME}")

    def read_parquet(self, member: str) -> pd.DataFrame:
        """Read one run's Parquet file, by its path relative to the sweep."""
        with self.remote.fs.open(self.remote.key(member), "rb") as fh:
            return pd.read_parquet(fh)

    def read_text(self, member: str) -> str | None:
        """Read a text file (a run's log); ``None`` if absent."""
        data = self.remote.cat(member)
        return None if data is None else data.decode(errors="replace")

    def zarr_store(self, *, check_members: bool = False) -> tuple[Any, str | None]:
        """Return the store as a read-only ``FsspecStore`` on the URL."""
        from zarr.storage import FsspecStore

        if self.remote.cat(f"{STORE_NAME}/zarr.json") is None:
            raise StoreError(
                f"{self.path} has no consolidated store ({STORE_NAME}) yet: a sweep uploads it "
                "when its session ends"
            )
        url = f"{self.remote.url}/{STORE_NAME}"
        opts = self.remote.storage_options
        return FsspecStore.from_url(url, storage_options=opts, read_only=True), None


def open_source(
    path: str | os.PathLike[str], storage_options: Mapping[str, Any] | None = None
) -> DirectorySource | BundleSource | RemoteSource:
    """Return the source of a sweep directory, bundle, or URL.

    Raises
    ------
    ConfigError
        ``path`` is neither a sweep directory nor a zip nor a sweep's URL.
    """
    if is_url(path):
        remote = Remote(str(path), storage_options)
        if not remote.has_manifest():
            raise ConfigError(f"{remote.url} is not a sweep (no {MANIFEST_NAME})")
        return RemoteSource(remote)
    if storage_options:
        raise ConfigError(f"storage_options is for a sweep at a URL (s3://...), not {path}")
    resolved = sweep_dir(path, bundle=True)
    if resolved.is_file():
        return BundleSource(resolved)
    return DirectorySource(resolved)


def check_header(path: Path) -> set[str]:
    """Check cheaply that a bundle's manifest member matches its hash; return its member names."""
    with open_zip(path) as zf:
        listed = hash_list(zf, path)
        if MANIFEST_NAME not in listed or MANIFEST_NAME not in zf.NameToInfo:
            raise BundleError(f"{path} is not an xsweep bundle (no {MANIFEST_NAME})")
        if digest(zf, zf.getinfo(MANIFEST_NAME)) != listed[MANIFEST_NAME]:
            raise BundleError(f"{path} fails verification: altered: {MANIFEST_NAME}")
        return set(zf.NameToInfo)
