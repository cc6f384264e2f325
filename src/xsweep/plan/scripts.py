"""A sweep's scripts: planned, copied in, checked for drift; and script variants.

A script is planned once (:func:`plan_script`: its closure and its bytes, read
once), copied into the sweep (``mission.script``, or its closure under
``script/``) and, on resume, checked against its recorded hash
(:func:`resolve_scripts`).

Script variants run one sweep over several versions of a mission, on a ``script`` dim.

``xs.run({"baseline": "mission.script", "bigger_tank": "tank.script"}, space, out=d)``
runs every point of ``space`` once per variant. The variants are a label dim,
``script``, in front of the space's dims (its coordinate carries
``xsweep_role="script"``), so run ids go variant by variant,
``ds.sel(script="bigger_tank")`` selects one, and a variant added later
(``xs.extend(d, scripts={...})``) is a growth step along ``script``: its runs
are numbered after the old ones, which stay as they are.

Each variant's copy lives under ``variants/<name>/`` (with the files it
includes, laid out as for one script). The header's ``scripts`` maps every
name to its copy, its closure and its canonical hash; an extension that adds
variants records theirs the same way. A sweep of one script has none of this:
its header and directory are as they always were.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from xsweep.core.atomic import atomic_path
from xsweep.core.errors import ConfigError, ScriptDriftError, SpaceError
from xsweep.core.header import ScriptRecord
from xsweep.core.paths import SCRIPT_NAME, drifted_script_name, inside
from xsweep.gmat.closure import (
    CLOSURE_DIR,
    Closure,
    recorded_closure,
    resolve,
    script_file,
    write_copy,
)
from xsweep.record.manifest import Manifest
from xsweep.space.spaces import Space
from xsweep.space.validation import ROLE_ATTR

VARIANT_DIM = "script"
VARIANT_ROLE = "script"
VARIANTS_DIR = "variants"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")


def variant_names(scripts: Mapping[Any, Any]) -> list[str]:
    """Return the variant names of a ``{name: path}`` mapping; raise ConfigError if it is bad."""
    if not scripts:
        raise ConfigError("script variants: give at least one {name: path}")
    names = []
    for name, path in scripts.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"script variant name {name!r}: use letters, digits and _ . + - (up to 64, "
                "not starting with . + or -); it labels the 'script' dim and names a directory"
            )
        if not isinstance(path, str | os.PathLike):
            raise ConfigError(f"script variant {name!r}: expected a path, got {path!r}")
        names.append(name)
    return names


def is_variant_space(space: Space) -> bool:
    """Tell whether ``space`` runs script variants (has the ``script`` dim xsweep made)."""
    coords = space.dataset.coords
    return VARIANT_DIM in coords and coords[VARIANT_DIM].attrs.get(ROLE_ATTR) == VARIANT_ROLE


def variants_of(space: Space) -> list[str]:
    """Return the variant names of a variant space, in order."""
    return [str(v) for v in space.dataset[VARIANT_DIM].values]


def _coord(names: Sequence[str]) -> xr.Variable:
    return xr.Variable((VARIANT_DIM,), np.array(list(names), dtype=str), {ROLE_ATTR: VARIANT_ROLE})


def with_variants(space: Space, names: Sequence[str]) -> Space:
    """Return ``space`` run once per variant: a ``script`` dim in front of its own."""
    if VARIANT_DIM in space.dataset.variables or VARIANT_DIM in space.dims:
        raise SpaceError(
            f"the space already has a {VARIANT_DIM!r} variable or dim; with script variants "
            "that name is the variants' dim: rename yours"
        )
    dataset = space.dataset.assign_coords({VARIANT_DIM: _coord(names)})
    return Space(dataset, dims=(VARIANT_DIM, *space.dims))


def added_variants(space: Space, names: Sequence[str], baseline: str | None) -> Space:
    """Return ``space`` with variants ``names`` after its own: a growth step along ``script``.

    A space of one script gets the ``script`` dim first, its one value
    ``baseline`` (the old runs keep their ids: a dim of one value in front
    changes no C-order index).
    """
    if not is_variant_space(space):
        if baseline is None:
            raise ConfigError("name the script the sweep ran so far: baseline='...'")
        variant_names({baseline: ""})
        space = with_variants(space, [baseline])
    old = variants_of(space)
    taken = sorted(set(old) & set(names))
    if taken:
        raise ConfigError(f"the sweep already has script variants {taken}; name new ones")
    dataset = space.dataset.drop_vars(VARIANT_DIM).assign_coords(
        {VARIANT_DIM: _coord([*old, *names])}
    )
    step = (VARIANT_DIM, len(old), len(names))
    return Space(space.grown(dataset, [step]), dims=space.dims)


def variant_records(manifest: Manifest) -> dict[str, ScriptRecord]:
    """Return every variant's header record (its copy, closure and hash), by name, in order."""
    records = dict(manifest.header.variants)
    for extension in manifest.extensions:
        added = extension.get("scripts")
        if isinstance(added, Mapping):
            records.update({str(k): ScriptRecord.from_json(v) for k, v in added.items()})
    return records


def write_variant(
    out_dir: Path, name: str, closure: Closure, tree: Mapping[str, bytes]
) -> tuple[dict[str, Any], Path]:
    """Copy a variant's closure under ``variants/<name>/``; return its header record and main."""
    where = f"{VARIANTS_DIR}/{name}"
    write_copy(out_dir / where, tree)
    main = out_dir / where / closure.main_member
    record: dict[str, Any] = {
        "source": str(closure.main),
        "name": closure.main.name,
        "file": f"{where}/{closure.main_member}",
    }
    if closure.members:
        record["files"] = closure.records(where)
    record["sha256"] = recorded_closure(
        main, record.get("files", ())
    ).sha256()  # of the copy: what runs load
    return record, main


def drifted_dir(name: str, sha256: str) -> str:
    """Where a variant's drifted script is copied in (beside its own copy)."""
    return f"{VARIANTS_DIR}/{name}@{sha256[:12]}"


class ScriptCopy(NamedTuple):
    """The copy of a script that runs load, and its (closure's) SHA-256."""

    path: str
    sha256: str


@dataclass(frozen=True)
class Scripts:
    """The script each run loads and its hash: the sweep's one, or one per variant.

    Attributes
    ----------
    by_name : mapping
        Variant name (``None`` for a sweep of one script) to its :class:`ScriptCopy`.
    """

    by_name: Mapping[str | None, ScriptCopy]

    @classmethod
    def single(cls, path: Path, sha256: str) -> Scripts:
        """Return the scripts of a sweep of one script."""
        return cls({None: ScriptCopy(str(path), sha256)})

    def of(self, labels: Mapping[str, Any]) -> ScriptCopy:
        """Return (path, sha256) of the script a run with ``labels`` loads."""
        if None in self.by_name:
            return self.by_name[None]
        return self.by_name[str(labels[VARIANT_DIM])]

    def added(
        self, sweep_dir: Path, records: Mapping[str, Mapping[str, Any]], baseline: str | None
    ) -> Scripts:
        """Return these scripts with the variants an extension recorded.

        A sweep's one script becomes the variant ``baseline``, run from where
        it was resolved (it may have drifted).
        """
        out: dict[str | None, ScriptCopy] = {k: v for k, v in self.by_name.items() if k is not None}
        if None in self.by_name:
            assert baseline is not None
            out[baseline] = self.by_name[None]
        for name, record in records.items():
            file = inside(sweep_dir, str(record["file"]), f"variant {name!r}'s file")
            out.setdefault(name, ScriptCopy(str(file), str(record["sha256"])))
        return Scripts(out)


@dataclass(frozen=True)
class PlannedScript:
    """A sweep's script as planned: its closure and the bytes read once from it."""

    closure: Closure
    tree: dict[str, bytes]

    @property
    def text(self) -> bytes:
        """The main script's bytes."""
        return self.tree[self.closure.main_member]


def plan_script(
    script: str | os.PathLike[str], files: Iterable[str | os.PathLike[str]] = ()
) -> PlannedScript:
    """Resolve the script's includes and side files (a missing one is refused here)."""
    closure = resolve(script_file(script), files)
    return PlannedScript(closure, closure.read())


@contextlib.contextmanager
def staged(planned: PlannedScript) -> Iterator[Path]:
    """Yield the main script to check: laid out as the sweep's copy will be."""
    if not planned.closure.members:
        yield planned.closure.main
        return
    with tempfile.TemporaryDirectory(prefix="xsweep-plan-") as scratch:
        write_copy(Path(scratch), planned.tree)
        yield Path(scratch) / planned.closure.main_member


def write_single(out_dir: Path, planned: PlannedScript) -> tuple[dict[str, Any], Path]:
    """Copy a sweep's one script (``mission.script``, or its closure under ``script/``)."""
    closure = planned.closure
    script: dict[str, Any] = {"source": str(closure.main), "name": closure.main.name}
    if closure.members:
        write_copy(out_dir / CLOSURE_DIR, planned.tree)
        main = out_dir / CLOSURE_DIR / closure.main_member
        script |= {"file": f"{CLOSURE_DIR}/{closure.main_member}", "files": closure.records()}
    else:
        main = out_dir / SCRIPT_NAME
        with atomic_path(main, fsync=True) as tmp:
            tmp.write_bytes(planned.text)
        script["file"] = SCRIPT_NAME
    return script, main


ScriptArg = str | os.PathLike[str] | Mapping[str, str | os.PathLike[str]] | None


def resolve_scripts(
    sweep_dir: Path, manifest: Manifest, script: ScriptArg, allow_script_drift: bool
) -> tuple[Scripts, dict[str | None, Path]]:
    """Return the scripts to run, and those that drifted from the record (to check).

    A sweep of variants checks each variant against its own recorded hash;
    ``script`` is then a mapping of the variants to run from another file.
    The hash covers the script's closure: a changed included file is drift.
    """
    records = variant_records(manifest)
    if not records:
        if isinstance(script, Mapping):
            raise ConfigError("this sweep runs one script: pass script= a path, not a mapping")
        header = manifest.header
        found = _resolve_one(sweep_dir, header.script, header.script_sha256, script,
                             allow_script_drift, None)  # fmt: skip
        return Scripts.single(found[0], found[1]), {None: found[0]} if found[2] else {}
    if script is not None and not isinstance(script, Mapping):
        raise ConfigError(
            f"this sweep runs script variants {list(records)}: pass script={{name: path}}"
        )
    given = dict(script or {})
    unknown = sorted(set(given) - set(records))
    if unknown:
        raise ConfigError(f"script= names {unknown}, not variants of this sweep {list(records)}")
    paths: dict[str | None, ScriptCopy] = {}
    drifted: dict[str | None, Path] = {}
    for name, record in records.items():
        path, sha, moved = _resolve_one(sweep_dir, record, str(record.sha256),
                                        given.get(name), allow_script_drift, name)  # fmt: skip
        paths[name] = ScriptCopy(str(path), sha)
        if moved:
            drifted[name] = path
    return Scripts(paths), drifted


def _resolve_one(
    sweep_dir: Path,
    record: ScriptRecord,
    recorded: str,
    script: str | os.PathLike[str] | None,
    allow_script_drift: bool,
    variant: str | None,
) -> tuple[Path, str, bool]:
    """Return one script to run, its hash, and whether it drifted from ``recorded``."""
    own = record.file or SCRIPT_NAME
    if script is None:  # the sweep's own copy: it and its side files stay inside the sweep
        candidate = script_file(inside(sweep_dir, own, "the script's file"))
        closure = recorded_closure(candidate, record.files, within=sweep_dir)
    else:
        candidate = script_file(script)
        closure = recorded_closure(candidate, record.files)
    found = closure.sha256()
    if found == recorded:
        return candidate, found, False
    what = f"{candidate}" if script is not None else f"{own} in the sweep directory"
    if variant is not None:
        what = f"script variant {variant!r}: {what}"
    if not allow_script_drift:
        raise ScriptDriftError(
            f"{what} differs from the script this sweep ran (recorded sha256 {recorded}, "
            f"found {found}); pass allow_script_drift=True to run the rest with it anyway",
            recorded,
            found,
        )
    warnings.warn(
        f"script drift: {what} has sha256 {found}, the sweep recorded {recorded}; the "
        "remaining runs use it (each run's record carries the hash it ran with)",
        UserWarning,
        stacklevel=4,
    )
    # Keep the sweep self-contained: the drifted script is copied in, named by its hash.
    if variant is not None or closure.members:
        drifted = inside(
            sweep_dir,
            drifted_dir(variant, found) if variant is not None else f"{CLOSURE_DIR}-{found[:12]}",
            "a drifted script's copy",
        )
        if not (drifted / closure.main_member).exists():
            write_copy(drifted, closure.read())
        return drifted / closure.main_member, found, True
    copy = sweep_dir / drifted_script_name(found)
    if not copy.exists():
        with atomic_path(copy, fsync=True) as tmp:
            tmp.write_bytes(candidate.read_bytes())
    return copy, found, True
