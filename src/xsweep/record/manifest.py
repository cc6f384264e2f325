"""The sweep manifest: ``manifest.jsonl``, the append-only record of a sweep.

Line 1 is the header (schema version, sweep id, script hash, the space, the
versions that ran it). Every further line is one run outcome, appended,
flushed and fsynced as the run completes, so a crash loses at most the line
being written. Loading tolerates a torn final line (with a warning), rejects
a corrupt line anywhere else with :class:`ManifestCorruptError` naming its
line number, and folds repeated run ids last-wins (a resumed run supersedes
its failure).

One process writes a sweep at a time: :class:`ManifestWriter` holds an OS
file lock (released by the kernel if the process dies) and records its pid
in the lock file, so a lock left by a dead writer is taken over with a
warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import filelock

from xsweep.core.atomic import atomic_path
from xsweep.core.errors import ManifestCorruptError, SweepLockedError
from xsweep.core.header import ManifestHeader
from xsweep.core.paths import LOCK_NAME, MANIFEST_NAME
from xsweep.core.records import OutputProblem, RunRecord, is_int, json_safe
from xsweep.record.lock import lock_text

SCHEMA_VERSION = 1


@dataclass
class Manifest:
    """A loaded manifest: the header and the latest record of every run id.

    Attributes
    ----------
    path : pathlib.Path
        The ``manifest.jsonl`` file.
    header : ManifestHeader
        The first line, typed (and a read-only mapping over its JSON).
    runs : dict of int to RunRecord
        Run id to its last recorded line (last-wins).
    extensions : list of dict
        The ``extend`` records, in order; the last one holds the current space.
    derive : list of dict
        The derive functions in effect (``fn``, ``sha256``, ``importable``):
        the last ``derive`` record's.
    lines : int
        Number of valid lines read (header included).
    """

    path: Path
    header: ManifestHeader
    runs: dict[int, RunRecord] = field(default_factory=dict)
    extensions: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 1
    derive: list[dict[str, Any]] = field(default_factory=list)

    @property
    def space(self) -> dict[str, Any]:
        """The current space description (the header's, or the last extension's)."""
        source = self.extensions[-1] if self.extensions else self.header
        space = source.get("space")
        if not isinstance(space, dict):
            raise ManifestCorruptError("the header records no space", self.path, 1)
        return space

    @property
    def n_runs(self) -> int:
        """Number of runs the sweep plans, extensions included."""
        source = self.extensions[-1] if self.extensions else self.header
        return int(source.get("n_runs", 0))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read a manifest, tolerating a torn final line.

        Raises
        ------
        FileNotFoundError
            No manifest at ``path``.
        ManifestCorruptError
            The header is missing or invalid, the schema is newer than this
            xsweep, or a line other than the last is not a valid record.
        """
        path = Path(path)
        manifest, _ = _read(path)
        return manifest

    @classmethod
    def from_bytes(cls, data: bytes, path: str | os.PathLike[str]) -> Manifest:
        """Parse manifest content read from elsewhere (a bundle member, say).

        ``path`` names the source in messages. Same rules as :meth:`load`.
        """
        manifest, _ = _parse(data, Path(path))
        return manifest

    def counts(self) -> dict[str, int]:
        """Count recorded runs by status, plus ``pending`` (never recorded)."""
        out = {"ok": 0, "failed": 0}
        for rec in self.runs.values():
            out[rec.status] += 1
        out["pending"] = self.n_runs - len(self.runs)
        return out

    def output_problems(self) -> list[tuple[int, OutputProblem]]:
        """Return ``(run_id, problem)`` for every unwritten output of an ok run, by run id."""
        return [
            (run_id, problem)
            for run_id, rec in sorted(self.runs.items())
            if rec.status == "ok"
            for problem in rec.outcome.problems
        ]

    def failed(self) -> dict[int, RunRecord]:
        """Return the records of the runs whose latest outcome is ``failed``."""
        return {rid: r for rid, r in self.runs.items() if r.status == "failed"}


def _read(path: Path) -> tuple[Manifest, int]:
    """Parse ``path``; return the manifest and the byte length of its valid part."""
    return _parse(path.read_bytes(), path)


def _lines(data: bytes) -> Iterator[tuple[bytes, bool]]:
    """Yield each line (no newline) and whether it is the last: one at a time, no list."""
    pos, size = 0, len(data)
    while pos < size:
        end = data.find(b"\n", pos)
        end = size if end < 0 else end  # a last line without its newline: torn, maybe
        yield data[pos:end], end + 1 >= size
        pos = end + 1


def _parse(data: bytes, path: Path) -> tuple[Manifest, int]:
    if not data or data.isspace():
        raise ManifestCorruptError("empty manifest (no header line)", path, 1)
    good_bytes = 0
    records: list[dict[str, Any] | RunRecord] = []
    n_runs: int | None = None  # the planned runs so far: the header's, then each extension's
    for number, (chunk, last) in enumerate(_lines(data), start=1):
        try:
            record = json.loads(chunk)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            _check_record(record, first=number == 1)
            if number == 1 or record["kind"] == "extend":
                n_runs = record.get("n_runs")  # None: a newer schema, refused below
            elif record["kind"] == "derive":
                pass
            else:
                record = RunRecord.from_dict(record)
                if n_runs is not None and record.run_id >= n_runs:
                    raise ValueError(f"run_id {record.run_id} is beyond the {n_runs} planned runs")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:  # too deep: corrupt
            if last and number > 1:
                warnings.warn(
                    f"{path}: ignoring a torn final line {number} ({exc}); "
                    "the run it described will be rerun by resume",
                    RuntimeWarning,
                    stacklevel=4,
                )
                break
            raise ManifestCorruptError(f"invalid line ({exc})", path, number) from None
        records.append(record)
        good_bytes += len(chunk) + 1
    header = records[0]
    assert isinstance(header, dict)
    if header["schema_version"] > SCHEMA_VERSION:
        raise ManifestCorruptError(
            f"schema_version {header['schema_version']} is newer than this xsweep "
            f"understands ({SCHEMA_VERSION}); upgrade xsweep",
            path,
            1,
        )
    runs: dict[int, RunRecord] = {}
    extensions: list[dict[str, Any]] = []
    derive: list[dict[str, Any]] = []
    for rec in records[1:]:
        if isinstance(rec, RunRecord):
            runs[rec.run_id] = rec
        elif rec["kind"] == "derive":
            derive = list(rec["functions"])
        else:
            extensions.append(rec)
    good_bytes = min(good_bytes, len(data))
    if len(data) > 1 << 20:  # a large space: its values as arrays, not lists of numbers
        from xsweep.space.values import compact_values  # numpy: only for a large manifest

        for described in (header, *extensions):
            if isinstance(described.get("space"), dict):
                compact_values(described["space"])
    typed = ManifestHeader.from_json(header)
    return Manifest(path, typed, runs, extensions, len(records), derive), good_bytes


def _check_record(record: Mapping[str, Any], *, first: bool) -> None:
    """Raise ValueError unless a header or extend line has the shape readers rely on."""
    if first:
        if record.get("kind") != "header" or not is_int(record.get("schema_version")):
            raise ValueError("the first line must be the header")
        if record["schema_version"] > SCHEMA_VERSION:
            return  # refused, by version, once read
        if not (is_int(record.get("n_runs")) and record["n_runs"] >= 0):
            raise ValueError("the header needs n_runs, a non-negative integer")
        if "space" in record and not isinstance(record["space"], dict):
            raise ValueError("the header's space must be an object")
        if not isinstance(record.get("script", {}), dict):
            raise ValueError("the header's script must be an object")
        if not isinstance(record.get("script_sha256", ""), str):
            raise ValueError("the header's script_sha256 must be a string")
        return
    if record.get("kind") == "extend":
        if not is_int(record.get("n_runs")) or not isinstance(record.get("space"), dict):
            raise ValueError("an extend record needs n_runs and space")
        return
    if record.get("kind") == "derive":
        functions = record.get("functions")
        if not isinstance(functions, list) or not all(
            isinstance(f, dict) and isinstance(f.get("fn"), str) for f in functions
        ):
            raise ValueError("a derive record needs functions, a list of {fn, sha256}")
        return
    if record.get("kind") != "run":
        raise ValueError(f"unknown record kind {record.get('kind')!r}")


_VERSIONED = (
    "gmat-xsweep",
    "gmat-run",
    "gmatpy",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "xarray",
    "dask",
    "distributed",
    "zarr",
)


def platform_versions() -> dict[str, str | None]:
    """Versions of the packages a sweep's results depend on, plus Python and the OS."""
    out: dict[str, str | None] = {}
    for dist in _VERSIONED:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = None
    out["python"] = platform.python_version()
    out["platform"] = platform.platform()
    return out


def write_header(path: Path, header: Mapping[str, Any]) -> None:
    """Create ``path`` holding only ``header``, atomically and durably."""
    record = {"kind": "header", "schema_version": SCHEMA_VERSION, **header}
    with atomic_path(path, fsync=True) as tmp:
        tmp.write_bytes(json.dumps(record, allow_nan=False).encode() + b"\n")


class Mirror(Protocol):
    """Where a staged sweep's manifest goes too: its object store (see ``_remote``)."""

    def opened(self, data: bytes) -> None:
        """Take note that the writer opened the manifest, whose whole content is ``data``."""

    def appended(self, data: bytes, records: Sequence[Mapping[str, Any]]) -> None:
        """Make ``records`` (the lines ``data``), durable here now, durable there too."""

    def closed(self, data: bytes) -> None:
        """Take note that the writer closes the manifest, whose whole content is ``data``."""


# Staged sweep directories (their realpath) -> the mirror of their manifest.
MIRRORS: dict[str, Mirror] = {}


class ManifestWriter:
    """Append run records to a sweep's manifest, one fsynced line each.

    Use as a context manager. Entering takes the sweep's lock and cuts a torn
    final line, so appends never glue onto a half-written record.

    Parameters
    ----------
    sweep_dir : path-like
        The sweep directory holding ``manifest.jsonl``.
    """

    def __init__(self, sweep_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(sweep_dir)
        self.path = self.dir / MANIFEST_NAME
        self._lock = filelock.FileLock(self.dir / LOCK_NAME, timeout=0, mode=0o600)
        self._fh: Any = None
        self._owner = ""
        self.manifest: Manifest | None = None
        self._mirror = MIRRORS.get(os.path.realpath(self.dir))
        # Whether the last append's lines are whole in the file even though it raised (a
        # Ctrl-C during its fsync): its records are then recorded, and count as such.
        self.whole = False

    def __enter__(self) -> ManifestWriter:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def acquire(self) -> None:
        """Take the sweep lock and open the manifest for appending."""
        lock_file = self.dir / LOCK_NAME
        try:
            self._lock.acquire()
        except filelock.Timeout:
            owner = " ".join(lock_text(lock_file)[:1])
            raise SweepLockedError(self.dir, owner) from None
        previous = " ".join(lock_text(lock_file)[:1])
        if previous:
            warnings.warn(
                f"taking over the lock of {self.dir} from {previous}, which exited without "
                "releasing it",
                RuntimeWarning,
                stacklevel=3,
            )
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        lock_file.write_text(self._owner + "\n")
        try:
            self.manifest, good = _read(self.path)
            if good < self.path.stat().st_size:
                with open(self.path, "r+b") as fh:
                    fh.truncate(good)
                    os.fsync(fh.fileno())
            self._fh = open(self.path, "ab", buffering=0)  # noqa: SIM115
            if self._mirror is not None:
                self._mirror.opened(self.path.read_bytes())
        except BaseException:
            self._release()
            raise

    @property
    def mirrored(self) -> bool:
        """Whether the sweep is staged here for an object store (see ``_remote``)."""
        return self._mirror is not None

    def note_dashboard(self, link: str) -> None:
        """Leave the Dask dashboard's address in the lock, for readers of the live sweep."""
        (self.dir / LOCK_NAME).write_text(f"{self._owner}\n{link}\n")

    def append(self, record: RunRecord) -> None:
        """Append one run's outcome and fsync it."""
        self._write({"kind": "run", **record.to_dict()})

    def append_extension(self, record: Mapping[str, Any]) -> None:
        """Append an ``extend`` record (the grown space) and fsync it."""
        self._write({"kind": "extend", **record})

    def append_derive(self, functions: list[dict[str, Any]]) -> None:
        """Append a ``derive`` record (the derive functions now in effect) and fsync it."""
        self._write({"kind": "derive", "functions": functions})

    def append_many(self, records: list[RunRecord]) -> None:
        """Append several runs' records with one write and one fsync (re-derived values)."""
        self._write(*({"kind": "run", **r.to_dict()} for r in records))

    def _write(self, *records: Mapping[str, Any]) -> None:
        if self._fh is None:
            raise RuntimeError("ManifestWriter is not open")
        if not records:
            return
        lines = [json.dumps(r, allow_nan=False, default=json_safe) for r in records]
        whole = "\n".join(lines).encode() + b"\n"
        data = memoryview(whole)
        start = os.fstat(self._fh.fileno()).st_size
        try:
            while data:  # a raw write may take only part of it (a filling disk)
                data = data[self._fh.write(data) :]
            os.fsync(self._fh.fileno())
        except BaseException:
            # Take back a half-written line, so the next append (after space is freed,
            # or by resume) starts on a clean line. Truncating needs no free space. Whole
            # lines stay: readers may have seen them (a Ctrl-C that lands during fsync).
            self.whole = False
            with contextlib.suppress(OSError):
                self.whole = os.fstat(self._fh.fileno()).st_size == start + len(whole)
                if not self.whole:
                    os.ftruncate(self._fh.fileno(), start)
            raise
        if self._mirror is not None:  # acknowledged only once the object store has it too
            self._mirror.appended(whole, records)

    def close(self) -> None:
        """Close the manifest and release the lock."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
            if self._mirror is not None:
                try:
                    self._mirror.closed(self.path.read_bytes())
                except Exception as exc:  # its parts hold every line: the next session compacts
                    warnings.warn(
                        f"could not compact the manifest on the object store: {exc}",
                        RuntimeWarning,
                        stacklevel=2,
                    )
        self._release()

    def _release(self) -> None:
        if self._lock.is_locked:
            # An empty lock file means "released cleanly"; a pid means its writer died.
            (self.dir / LOCK_NAME).write_text("")
            self._lock.release()
