"""Reading a gmat-sweep 0.6.0 sweep: its manifest, and its files, from a directory or a zip.

The manifest (``manifest.jsonl``) is a header line, then one entry a finished
run; a resumed run appends another entry of the same ``run_id`` and the last
one wins; a torn last line (no newline: a sweep cut off) is dropped, as
gmat-sweep drops it. Entries name their files by absolute path (a directory)
or ``runs/run-<id>/<file>`` (an archive). Only the file's *name* is taken
from the entry: it is looked for at its recorded relative place, then at
``run-<id>/`` and ``runs/run-<id>/`` under the source, and must be a regular
file inside it. A zip is checked against its ``MANIFEST.hash`` before
anything is read from it, and read in bounded chunks.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import stat
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from xsweep.core.errors import BundleError, ConfigError, ManifestCorruptError
from xsweep.core.paths import check_name, check_relative
from xsweep.record.source import COPY_BYTES, chunks, open_zip, verify

SCHEMA_VERSION = 1  # the gmat-sweep manifest schema this reads (gmat-sweep 0.6.0)
MANIFEST = "manifest.jsonl"
SCRIPT_DIR = "script"
MAX_LINE = 64 << 20  # a manifest line longer than this is not gmat-sweep's
KINDS = ("report", "ephemeris", "contact")  # output_paths keys: "<kind>__<name>"
STATUSES = ("ok", "failed", "skipped")
_HEADER_KEYS = ("script_sha256", "gmat_sweep_version", "parameter_spec", "run_count")


def canonical_sha256(data: bytes) -> str:
    """Return gmat-sweep's hash of a script: BOM stripped, LF line ends, one final newline."""
    text = data.decode("utf-8").lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256((text.rstrip("\n") + "\n").encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One run of a gmat-sweep manifest (the last entry of its ``run_id``)."""

    run_id: int
    overrides: dict[str, Any]
    status: str
    files: dict[tuple[str, str], str]  # (kind, GMAT name) -> the Parquet's recorded path
    extra: dict[str, str]  # a postprocess hook's outputs: key -> recorded path
    started: str
    ended: str
    duration_s: float
    stderr: str | None
    log: str | None
    more: dict[str, Any] = field(default_factory=dict)  # converged, context, postprocess_status


@dataclass(frozen=True)
class Header:
    """A gmat-sweep manifest's header line."""

    raw: dict[str, Any]

    @property
    def parameter_spec(self) -> dict[str, Any]:
        """How the runs were made: ``_kind`` grid, explicit, monte_carlo or latin_hypercube."""
        spec = self.raw["parameter_spec"]
        assert isinstance(spec, dict)
        return spec

    @property
    def run_count(self) -> int:
        """The runs the sweep was planned with (an extension may have added more)."""
        return int(self.raw["run_count"])


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not text")
    return value


def _paths(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return {str(k): _text(v, f"{what}[{k!r}]") for k, v in value.items()}


def _scalar(value: Any) -> bool:
    return isinstance(value, str | bool | int) or (
        isinstance(value, float) and math.isfinite(value)
    )


def parse_entry(data: Any) -> Entry:
    """Read one entry line's object; ``ValueError`` for one gmat-sweep would not have written."""
    if not isinstance(data, dict):
        raise ValueError("an entry is not an object")
    run_id = data.get("run_id")
    if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id < 0:
        raise ValueError(f"run_id {run_id!r} is not a non-negative integer")
    overrides = data.get("overrides")
    if not isinstance(overrides, dict) or not all(_scalar(v) for v in overrides.values()):
        raise ValueError("overrides is not an object of numbers, text or booleans")
    status = data.get("status")
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    files: dict[tuple[str, str], str] = {}
    for key, path in _paths(data.get("output_paths"), "output_paths").items():
        kind, sep, name = key.partition("__")
        if not sep or kind not in KINDS:
            raise ValueError(f"output key {key!r} is not <report|ephemeris|contact>__<name>")
        check_name(name, "an output's name")
        files[(kind, name)] = path
    for name, path in _paths(data.get("solver_paths", {}), "solver_paths").items():
        check_name(name, "a solver's name")
        files[("solver", name)] = path
    duration = data.get("duration_s")
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        raise ValueError("duration_s is not a number")
    stderr, log = data.get("stderr"), data.get("log_path")
    more = {k: data[k] for k in ("converged", "context", "postprocess_status") if data.get(k)}
    return Entry(
        run_id=run_id,
        overrides={str(k): v for k, v in overrides.items()},
        status=status,
        files=files,
        extra=_paths(data.get("extra_outputs", {}), "extra_outputs"),
        started=_text(data.get("started_at"), "started_at"),
        ended=_text(data.get("ended_at"), "ended_at"),
        duration_s=float(duration),
        stderr=None if stderr is None else _text(stderr, "stderr"),
        log=None if log is None else _text(log, "log_path"),
        more=more,
    )


def _lines(pieces: Iterable[bytes], where: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(number, line)`` of whole lines; a last line without newline is torn: dropped."""
    buffer, number = b"", 0
    for piece in pieces:
        buffer += piece
        *whole, buffer = buffer.split(b"\n")
        for line in whole:
            number += 1
            yield number, line
        if len(buffer) > MAX_LINE:
            raise ManifestCorruptError(f"line {number + 1} is over {MAX_LINE} bytes", where)


def _file_chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        while piece := fh.read(COPY_BYTES):
            yield piece


class GmatSweep:
    """A gmat-sweep sweep, read: its header, its runs, and where each file of a run is.

    Parameters
    ----------
    src : path-like
        Its output directory (holding ``manifest.jsonl``), or its archive zip.
    """

    def __init__(self, src: str | os.PathLike[str]) -> None:
        self.path = Path(src).expanduser().resolve()
        self._root = os.path.realpath(self.path) + os.sep
        self.zip: zipfile.ZipFile | None = None
        if self.path.is_file():
            self.zip = self._open_zip()
            pieces = chunks(self.zip, self.zip.getinfo(MANIFEST))
        elif (self.path / MANIFEST).is_file():
            pieces = _file_chunks(self.path / MANIFEST)
        else:
            raise ConfigError(
                f"{self.path} is not a gmat-sweep sweep: no {MANIFEST} in it, and not an archive"
            )
        self.header, self.entries = self._read(pieces)

    def _open_zip(self) -> zipfile.ZipFile:
        found = verify(self.path)  # BundleError: not a zip, or no MANIFEST.hash
        if not found.ok:
            raise BundleError(f"{self.path} fails its MANIFEST.hash: {'; '.join(found.problems())}")
        zf = open_zip(self.path)
        if MANIFEST not in zf.namelist():
            zf.close()
            raise ConfigError(f"{self.path} is not a gmat-sweep archive: no {MANIFEST} in it")
        return zf

    def _read(self, pieces: Iterable[bytes]) -> tuple[Header, dict[int, Entry]]:
        where = self.path if self.zip is not None else self.path / MANIFEST
        header: Header | None = None
        entries: dict[int, Entry] = {}
        for number, line in _lines(pieces, where):
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise ManifestCorruptError(f"not JSON ({exc})", where, number) from None
            if header is None:
                header = _header(data, where)
                continue
            try:
                entry = parse_entry(data)
            except ValueError as exc:
                raise ManifestCorruptError(f"a malformed entry: {exc}", where, number) from None
            entries[entry.run_id] = entry  # last wins
        if header is None:
            raise ManifestCorruptError("no header line", where, 1)
        return header, dict(sorted(entries.items()))

    def script(self) -> tuple[str, bytes] | None:
        """Return an archive's script (its name and bytes); ``None`` for a directory."""
        if self.zip is None:
            return None
        names = [n for n in self.zip.namelist() if n.startswith(SCRIPT_DIR + "/")]
        if len(names) != 1:
            raise ConfigError(f"{self.path} holds {len(names)} scripts under {SCRIPT_DIR}/, not 1")
        data = b"".join(chunks(self.zip, self.zip.getinfo(names[0])))
        return PurePosixPath(names[0]).name, data

    def find(self, run_id: int, recorded: str) -> str | None:
        """Return the source member of a file an entry records, or ``None`` if it is not there."""
        name = PureWindowsPath(recorded).name if "\\" in recorded else PurePosixPath(recorded).name
        if name in ("", ".", "..") or ":" in name:
            return None
        places = [f"run-{run_id}/{name}", f"runs/run-{run_id}/{name}"]
        try:
            check_relative(recorded, "a file")
            places.insert(0, str(PurePosixPath(recorded)))
        except ValueError:  # absolute (a directory's entries): its place is not followed
            pass
        for member in places:
            if self._is_file(member):
                return member
        return None

    def _is_file(self, member: str) -> bool:
        if self.zip is not None:
            return member in self.zip.NameToInfo
        here = self.path / member
        try:
            mode = os.lstat(here).st_mode
        except OSError:
            return False
        inside = os.path.realpath(here).startswith(self._root)
        return stat.S_ISREG(mode) and inside  # no symlink, nothing outside the source

    def bring(self, member: str, target: Path) -> None:
        """Put the source's ``member`` at ``target``: a hard link, else a copy; never a rewrite."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.zip is None:
            try:
                os.link(self.path / member, target)
            except OSError:  # another file system, or links not allowed
                shutil.copy2(self.path / member, target)
            return
        with open(target, "wb") as sink:
            for piece in chunks(self.zip, self.zip.getinfo(member)):
                sink.write(piece)

    def close(self) -> None:
        """Close the archive, if one is open."""
        if self.zip is not None:
            self.zip.close()


def _header(data: Any, where: Path) -> Header:
    if not isinstance(data, dict) or any(k not in data for k in _HEADER_KEYS):
        raise ManifestCorruptError(
            f"not a gmat-sweep manifest header (it needs {', '.join(_HEADER_KEYS)})", where, 1
        )
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version > SCHEMA_VERSION:
        raise ManifestCorruptError(
            f"manifest schema_version {version!r}: xsweep reads gmat-sweep's schema "
            f"{SCHEMA_VERSION} (gmat-sweep 0.6.0)",
            where,
            1,
        )
    spec, count = data["parameter_spec"], data["run_count"]
    if not isinstance(spec, Mapping) or not isinstance(count, int) or count < 0:
        raise ManifestCorruptError("parameter_spec or run_count is malformed", where, 1)
    if not isinstance(data["script_sha256"], str):
        raise ManifestCorruptError("script_sha256 is not text", where, 1)
    return Header(dict(data))
