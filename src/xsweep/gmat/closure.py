"""A script's closure: the script and every file it includes, travelling as one.

GMAT resolves a relative ``#Include`` path against the directory of the
script it loads (the main script, also for an include inside an included
file), then against the process's working directory; an absolute path is
taken as it is. Input files named by a field GMAT reads (a SPICE kernel, a
gravity potential file given by relative path: :data:`INPUT_FIELDS`) that
exist beside the script join it too. At plan time the closure is resolved
the same way, and the
sweep keeps a copy of every file in it under ``script/``, laid out as the
originals are relative to one another, so that each relative ``#Include``
finds the same bytes from the copy: in the planning check, in every run, on
resume on another machine and in an archive. Files the user names with
``files=`` join the closure at their place relative to the main script.

The closure's hash folds every included file into the script's: changing an
included file is drift. A script without includes and side files hashes as
it always did (:func:`script_sha256`), and its sweep keeps
``mission.script`` at the top.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from xsweep.core.atomic import atomic_path
from xsweep.core.errors import ConfigError, ScriptNotFoundError

CLOSURE_DIR = "script"
_INCLUDE = re.compile(r"""^\s*#Include\s+(?:'([^']*)'|"([^"]*)"|(\S+))""", re.IGNORECASE)
# Fields whose value names a file GMAT reads, resolving a relative path from the main
# script's directory (outputs, such as a ReportFile's Filename, are not here).
INPUT_FIELDS = frozenset(
    {
        "OrbitSpiceKernelName",
        "AttitudeSpiceKernelName",
        "SCClockSpiceKernelName",
        "FrameSpiceKernelName",
        "PlanetarySpiceKernelName",
        "CenterOfMassTableFileName",
        "MomentOfInertiaTableFileName",
        "MassPropertiesTableFilePath",
        "SPADSRPFile",
        "SPADDragFile",
        "ShapeFileName",
        "PotentialFile",
        "TideFile",
        "CSSISpaceWeatherFile",
        "SchattenFile",
        "EopFileName",
        "SPKFilename",
        "PCKFilename",
        "DEFilename",
        "FunctionPath",
        "AttitudeFileName",
        "EphemerisName",
    }
)
_ASSIGN = re.compile(r"^\s*[A-Za-z_]\w*(?:\.\w+)*\.(?P<field>\w+)\s*=\s*(?P<value>[^%;]+)")


@dataclass(frozen=True)
class Member:
    """One file of a closure besides the main script.

    Attributes
    ----------
    written : str
        The path as the script writes it (``#Include`` argument), or as given
        in ``files=``.
    source : pathlib.Path
        The file it resolved to.
    named_in : str
        Where it is named: ``"main.script, line 3"`` or ``"files="``.
    """

    written: str
    source: Path
    named_in: str

    @property
    def travels(self) -> bool:
        """Whether the sweep keeps a copy (a relative path); an absolute one stays put."""
        return not os.path.isabs(self.written)


@dataclass(frozen=True)
class Closure:
    """The main script and the files it needs, resolved as GMAT resolves them.

    Attributes
    ----------
    main : pathlib.Path
        The main script.
    members : tuple of Member
        Included files (in the order they are first named), then side files.
    """

    main: Path
    members: tuple[Member, ...] = ()

    def place(self, member: Member) -> Path:
        """Where GMAT looks for a relative member first: from the main script's directory.

        A file GMAT found in the working directory instead is copied to this
        place, where the copy's ``#Include`` finds it.
        """
        return Path(os.path.normpath(self.main.parent / member.written))

    @property
    def root(self) -> Path:
        """The directory the copies are laid out from: holds the main script and members."""
        dirs = [self.main.parent] + [self.place(m).parent for m in self.members if m.travels]
        return Path(os.path.commonpath([str(d) for d in dirs]))

    @property
    def main_member(self) -> str:
        """The main script's path under the closure directory (POSIX)."""
        return self.main.relative_to(self.root).as_posix()

    def layout(self) -> dict[str, Path]:
        """Every file the sweep copies: path under the closure directory -> source."""
        root = self.root
        files = {self.main_member: self.main}
        for m in self.members:
            if m.travels:
                files[self.place(m).relative_to(root).as_posix()] = m.source
        return files

    def sha256(self) -> str:
        """Return the closure's hash: the script's own when it has no members."""
        if not self.members:
            return script_sha256(self.main)
        digest = hashlib.sha256(canonical_script_bytes(self.main.read_bytes()))
        for m in self.members:
            digest.update(f"\n#member {m.written}\n".encode())
            digest.update(canonical_script_bytes(m.source.read_bytes()))
        return digest.hexdigest()

    def read(self) -> dict[str, bytes]:
        """Return the bytes of every copied file, keyed as :meth:`layout`."""
        return {name: path.read_bytes() for name, path in self.layout().items()}

    def records(self, where: str = CLOSURE_DIR) -> list[dict[str, str]]:
        """Return the members as the manifest header lists them (copied under ``where``)."""
        root = self.root
        return [
            {
                "file": f"{where}/{self.place(m).relative_to(root).as_posix()}"
                if m.travels
                else str(m.source),
                "named": m.written,
                "in": m.named_in,
            }
            for m in self.members
        ]


def resolve(
    script: Path,
    files: Iterable[str | os.PathLike[str]] = (),
    *,
    cwd: Path | None = None,
) -> Closure:
    """Resolve ``script``'s includes recursively, and the side ``files``, as GMAT would.

    Raises
    ------
    ScriptNotFoundError
        An included or side file does not exist; the error names the file and
        the line (or ``files=``) that names it.
    ConfigError
        A side file is given that is not a file.
    """
    main = script.resolve()
    base = main.parent
    here = (cwd or Path.cwd()).resolve()
    members: dict[Path, Member] = {}
    pending = [main]
    while pending:
        current = pending.pop(0)
        for written, line, field in _inputs(current):
            found = _find(written, base, None)  # GMAT looks beside the main script only
            if found is not None and found != main and found not in members:
                named_in = f"{_name(current, base)}, line {line}: {field}"
                members[found] = Member(written, found, named_in)
        for written, line in _includes(current):
            found = _find(written, base, here)
            named_in = f"{_name(current, base)}, line {line}: #Include '{written}'"
            if found is None:
                raise ScriptNotFoundError(base / written, named_in)
            if found != main and found not in members:
                members[found] = Member(written, found, named_in)
                pending.append(found)
    for given in files:
        path = Path(given).expanduser()
        source = (path if path.is_absolute() else here / path).resolve()
        if not source.exists():
            raise ScriptNotFoundError(source, "files=")
        if not source.is_file():
            raise ConfigError(f"files= names {source}, which is not a file")
        if source != main and source not in members:
            written = os.path.relpath(source, base) if not path.is_absolute() else str(source)
            members[source] = Member(Path(written).as_posix(), source, "files=")
    return Closure(main, tuple(members.values()))


def _includes(path: Path) -> Iterator[tuple[str, int]]:
    """Yield ``(path as written, line number)`` for each ``#Include`` line."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        match = _INCLUDE.match(line)
        if match:
            yield next(g for g in match.groups() if g is not None), number


def _inputs(path: Path) -> Iterator[tuple[str, int, str]]:
    """Yield ``(path as written, line number, field)`` for each input file a line names.

    A name GMAT finds in its own data directories (``'JGM3.cof'``) does not
    exist beside the script and is left out by the caller.
    """
    text = path.read_bytes().decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ASSIGN.match(line)
        if match is None or match.group("field") not in INPUT_FIELDS:
            continue
        for item in match.group("value").strip().strip("{}").split(","):
            written = item.strip().strip("'\"").strip()
            if written:
                yield written, number, match.group("field")


def _find(written: str, base: Path, cwd: Path | None) -> Path | None:
    if os.path.isabs(written):
        candidates = [Path(written)]
    else:
        candidates = [base / written] + ([] if cwd is None else [cwd / written])
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


def _name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def recorded_closure(
    main: Path, files: Iterable[Mapping[str, Any]], within: Path | None = None
) -> Closure:
    """Resolve ``main``'s closure with the side files of a script record's ``files``.

    With ``within`` (the sweep's own copy of the script), every side file must
    be a relative path that stays inside that directory: a header is data.
    """
    side = [str(f["named"]) for f in files if f.get("in") == "files="]
    paths = [Path(p) if os.path.isabs(p) else main.parent / p for p in side]
    if within is not None:
        base = within.resolve()
        for named, path in zip(side, paths, strict=True):
            if os.path.isabs(named) or not path.resolve().is_relative_to(base):
                raise ConfigError(
                    f"the sweep's header names the side file {named!r}, outside the sweep: "
                    "refused (pass script= your own copy of the script to resume with it)"
                )
    return resolve(main, paths)


def write_copy(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write a closure's files under ``directory`` (each atomically, fsynced)."""
    for name, data in files.items():
        target = directory / PurePosixPath(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target, fsync=True) as tmp:
            tmp.write_bytes(data)


def canonical_script_bytes(raw: bytes) -> bytes:
    """Normalise a script for hashing: no BOM, LF line ends, one trailing newline."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").rstrip(b"\n")
    return text + b"\n"


def script_sha256(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 of a script's canonical form (see `canonical_script_bytes`)."""
    return hashlib.sha256(canonical_script_bytes(Path(path).read_bytes())).hexdigest()


def script_file(script: str | os.PathLike[str]) -> Path:
    """Return a script's absolute path, or raise ScriptNotFoundError."""
    path = Path(script).expanduser().resolve()
    if not path.is_file():
        raise ScriptNotFoundError(path)
    return path
