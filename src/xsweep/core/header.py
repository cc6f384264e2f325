"""The manifest's header line, typed: read in one place, written back as it was read.

A :class:`ManifestHeader` is built from the header's JSON object once, when a
manifest is loaded (:meth:`ManifestHeader.from_json`), and every module reads
its typed fields (``header.sweep_id``, ``header.script.name``,
``header.engine.kind``...). It is also a read-only mapping over the JSON object
it came from, so ``manifest.header["script_sha256"]`` reads as it always did,
and :meth:`ManifestHeader.to_json` gives that object back unchanged: a sweep's
header is rewritten (a compacted bucket manifest, an archive) byte for byte.
Fields an older or a minimal header lacks take the defaults below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


def _object(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class ScriptRecord:
    """The script a sweep ran, as the header records it.

    ``name`` is the user's file name, ``file`` the copy's path in the sweep
    (``mission.script``, or under ``script/`` with its includes), ``files``
    the closure's members (empty for a script without includes).
    """

    name: str | None = None
    file: str | None = None
    files: tuple[Mapping[str, Any], ...] = ()
    sha256: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, raw: Any) -> ScriptRecord:
        """Read the header's ``script`` object (anything else: an empty record)."""
        obj = _object(raw)
        files = obj.get("files")
        return cls(
            name=None if obj.get("name") is None else str(obj["name"]),
            file=None if obj.get("file") is None else str(obj["file"]),
            files=tuple(f for f in files if isinstance(f, Mapping))
            if isinstance(files, list)
            else (),
            sha256=None if obj.get("sha256") is None else str(obj["sha256"]),
            raw=obj,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object this record was read from."""
        return dict(self.raw)


@dataclass(frozen=True)
class EngineRecord:
    """The GMAT engine that checked the plan: its kind and versions."""

    kind: str | None = None
    gmat_version: str | None = None
    gmatpy_version: str | None = None

    @classmethod
    def from_json(cls, raw: Any) -> EngineRecord:
        """Read the header's ``engine`` object."""
        obj = _object(raw)
        return cls(**{k: None if obj.get(k) is None else str(obj[k]) for k in cls.__annotations__})

    def to_json(self) -> dict[str, str | None]:
        """Return the object the header records."""
        return {"kind": self.kind, "gmat_version": self.gmat_version,
                "gmatpy_version": self.gmatpy_version}  # fmt: skip


@dataclass(frozen=True)
class ManifestHeader(Mapping[str, Any]):
    """A manifest's first line: the sweep's identity, script, engine, options and space.

    Build it with :meth:`from_json`; read its fields; :meth:`to_json` returns
    the JSON object it was read from. As a mapping it reads that object.
    """

    raw: Mapping[str, Any] = field(repr=False)
    sweep_id: str = ""
    created: str | None = None
    schema_version: int = 1
    script: ScriptRecord = ScriptRecord()
    script_sha256: str = ""
    variants: Mapping[str, ScriptRecord] = field(default_factory=dict)
    n_runs: int = 0
    engine: EngineRecord = EngineRecord()
    options: Mapping[str, Any] = field(default_factory=dict)
    versions: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ManifestHeader:
        """Type the header's JSON object (checked for shape by the manifest reader)."""
        variants = _object(raw.get("scripts"))
        return cls(
            raw=dict(raw),
            sweep_id=str(raw.get("sweep_id", "")),
            created=None if raw.get("created") is None else str(raw["created"]),
            schema_version=int(raw.get("schema_version", 1)),
            script=ScriptRecord.from_json(raw.get("script")),
            script_sha256=str(raw.get("script_sha256", "")),
            variants={str(k): ScriptRecord.from_json(v) for k, v in variants.items()},
            n_runs=int(raw.get("n_runs", 0)),
            engine=EngineRecord.from_json(raw.get("engine")),
            options=_object(raw.get("options")),
            versions=_object(raw.get("versions")),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON object this header was read from."""
        return dict(self.raw)

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)
