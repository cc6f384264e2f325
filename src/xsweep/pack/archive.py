"""Archive bundles: one self-describing, verifiable zip per sweep.

A bundle holds the sweep directory as it is on disk (``manifest.jsonl``, the
script, every recorded run's Parquet, ``sweep.zarr``), a generated
``README.md``, and ``MANIFEST.hash``: the SHA-256 of every other member in
``sha256sum`` format, so ``sha256sum -c MANIFEST.hash`` checks an unzipped
bundle without xsweep.

Bundles are deterministic (members sorted, fixed timestamps and permissions,
no archiving time anywhere), streamed to disk member by member, and stored
uncompressed where the content is compressed already (Parquet, Zarr chunks),
which is also what lets :func:`xsweep.open_sweep` read a Zarr chunk straight
out of the zip by seeking.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import uuid
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import IO, Any

from xsweep.core.atomic import atomic_path
from xsweep.core.errors import BundleError, ConfigError
from xsweep.core.paths import MANIFEST_NAME, RUNS_DIR, STORE_NAME, sweep_dir as resolve_sweep_dir
from xsweep.gmat.closure import CLOSURE_DIR
from xsweep.plan.scripts import VARIANTS_DIR, variant_records
from xsweep.record.bucket import is_url
from xsweep.record.manifest import Manifest, ManifestWriter
from xsweep.record.mirror import staged
from xsweep.record.source import (
    COPY_BYTES,
    HASH_NAME,
    Verification,
    digest,
    hash_list,
    open_zip,
    unsafe_names,
)
from xsweep.space.spaces import Space
from xsweep.store.live import LiveStore

README_NAME = "README.md"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
_FILE_MODE = (stat.S_IFREG | 0o644) << 16
# Text is deflated; everything else is compressed already and stored as is, so a
# reader can seek into it.
_TEXT = (".jsonl", ".script", ".md", ".hash", ".log", ".json", ".txt")


# -- writing --


def _members(sweep_dir: Path, manifest: Manifest, include_logs: bool) -> list[tuple[str, Path]]:
    """Every file the bundle holds, as (member name, source path), sorted by name."""
    logs = {r.outcome.log for r in manifest.runs.values() if r.outcome.log}
    found: dict[str, Path] = {}
    top = [MANIFEST_NAME, *sorted(p.name for p in sweep_dir.glob("mission*.script"))]
    skipped: list[str] = []
    for name in top:
        if not (sweep_dir / name).is_symlink():
            found[name] = sweep_dir / name
    # The closure of a script with includes (and of a drifted one): script/, script-<hash>/.
    roots = sorted(p for p in sweep_dir.glob(f"{CLOSURE_DIR}*") if p.is_dir())
    if (sweep_dir / VARIANTS_DIR).is_dir():  # script variants' copies (drifted ones too)
        roots.append(sweep_dir / VARIANTS_DIR)
    roots.append(sweep_dir / STORE_NAME)
    # Only recorded runs: a run cut off mid-way left nothing a reader could use.
    records = manifest.runs.values()
    run_dirs = {
        PurePosixPath(o.path).parent for r in records if r.outcome.kept for o in r.outcome.outputs
    }
    run_dirs |= {PurePosixPath(r.outcome.log).parent for r in records if r.outcome.log}
    roots += [sweep_dir / d for d in sorted(run_dirs)]
    for root in roots:
        # A symlink (a run directory, a file) could lead out of the sweep: never followed.
        if root.is_symlink() or not root.resolve().is_relative_to(sweep_dir.resolve()):
            skipped.append(root.relative_to(sweep_dir).as_posix())
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for filename in filenames:
                source = Path(dirpath) / filename
                name = source.relative_to(sweep_dir).as_posix()
                if source.is_symlink():
                    skipped.append(name)
                if filename.endswith(".tmp") or source.is_symlink():  # .tmp: a write cut off
                    continue
                if not include_logs and (name in logs or filename.endswith(".log")):
                    continue
                found[name] = source
    if skipped:
        warnings.warn(
            f"archive: left out {len(skipped)} symlinks (a link may lead out of the sweep): "
            f"{skipped[:5]}",
            UserWarning,
            stacklevel=3,
        )
    return sorted(found.items())


def _info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.create_system = 3  # Unix, whatever archived it: the mode bits below mean the same
    info.external_attr = _FILE_MODE
    info.compress_type = zipfile.ZIP_DEFLATED if name.endswith(_TEXT) else zipfile.ZIP_STORED
    info.file_size = size  # so that zipfile picks Zip64 for big members up front
    return info


def _write_member(zf: zipfile.ZipFile, name: str, source: IO[bytes], size: int) -> str:
    """Stream one member into the zip; return its SHA-256."""
    digest = hashlib.sha256()
    with zf.open(_info(name, size), "w") as dst:
        while chunk := source.read(COPY_BYTES):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def _ours(top: str) -> bool:
    """Whether a bundle's top-level name is one a sweep directory has (docs/formats)."""
    fixed = {MANIFEST_NAME, HASH_NAME, README_NAME, RUNS_DIR, STORE_NAME, VARIANTS_DIR}
    hexes = set("0123456789abcdef")
    drifted = top.startswith(f"{CLOSURE_DIR}-") and set(top[len(CLOSURE_DIR) + 1 :]) <= hexes
    script = top.startswith("mission") and top.endswith(".script") and "/" not in top
    return top in fixed or top == CLOSURE_DIR or drifted or script


def _readme(manifest: Manifest, n_members: int) -> str:
    # Its text is part of the bundle's bytes: an old sweep archives to its old bundle.
    header = manifest.header
    counts = manifest.counts()
    # Read as the JSON holds them: absent or null keys print as they always did.
    versions = header.get("versions", {})
    engine = header.get("engine", {})
    dims = ", ".join(f"{d} ({n})" for d, n in manifest.space.get("dims", {}).items())
    records = manifest.runs.values()
    outputs = sorted({f"{o.kind} {o.name}" for r in records for o in r.outcome.outputs})
    lines = [
        "# xsweep sweep bundle",
        "",
        f"A parameter sweep of the GMAT script `{header['script'].get('name', 'mission.script')}`,",
        "run and packed by xsweep (https://pypi.org/project/gmat-xsweep/).",
        "",
        "## Fingerprint",
        "",
        f"- sweep id: `{header.sweep_id}`",
        f"- created: {header.get('created', 'unknown')}",
        *(
            [
                f"- script variant `{name}`: `{rec.name}`, SHA-256 `{rec.sha256}`"
                for name, rec in variant_records(manifest).items()
            ]
            or [f"- script SHA-256: `{header.script_sha256}`"]
        ),
        f"- runs planned: {manifest.n_runs} (ok {counts['ok']}, failed {counts['failed']}, "
        f"pending {counts['pending']})",
        f"- parameter dims: {dims or 'none'}",
        f"- outputs: {', '.join(outputs) or 'none'}",
        f"- GMAT: {engine.get('gmat_version', 'unknown')} ({engine.get('kind', 'unknown')} engine)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v),
        f"- members: {n_members} plus this README and MANIFEST.hash",
        "",
        *_layout(manifest),
        *_USE,
    ]
    return "\n".join(lines)


def _layout(manifest: Manifest) -> list[str]:
    header = manifest.header
    return [
        "## Layout",
        "",
        "- `manifest.jsonl`: line 1 the header (space, versions, options), then one line",
        "  per run outcome (JSON Lines; paths in it are relative to the bundle root).",
        *(
            [
                "- `variants/<name>/`: each script variant the sweep ran, with the files it",
                "  includes (`variants/<name>@<hash>/` for a drifted one).",
            ]
            if variant_records(manifest)
            else [
                f"- `{header.script.file}`: the script the sweep ran, with the files it",
                "  includes laid out beside it as they were (`script-<hash>/` for a drifted one).",
            ]
            if header.script.files
            else [
                "- `mission.script`: the script the sweep ran (and `mission-<hash>.script` for a",
                "  drifted script a resume ran).",
            ]
        ),
        "- `runs/run-NNNNNN/<kind>-<name>.parquet`: each run's outputs as gmat-run parsed them.",
        "- `sweep.zarr/`: every run's outputs in one Zarr v3 store over the parameter dims.",
        "- `MANIFEST.hash`: the SHA-256 of every other member.",
        "",
    ]


_USE = (
    "## Open it",
    "",
    "```python",
    "import xsweep as xs",
    'ds = xs.open_sweep("this.zip")          # lazily, without unzipping',
    'xs.Sweep("this.zip").runs()              # the runs, from the manifest',
    'xs.Sweep("this.zip").read(0)             # run 0\'s output as a DataFrame',
    "```",
    "",
    "## Verify it",
    "",
    "```",
    "xsweep verify this.zip                   # or xs.verify('this.zip') in Python",
    "unzip this.zip -d sweep && cd sweep && sha256sum -c MANIFEST.hash   # without xsweep",
    "```",
    "",
    '`xs.extract("this.zip", "sweep/")` unpacks it safely (hashes checked);',
    '`xs.resume("sweep/")` then finishes any failed or pending runs.',
    "",
)


def _check_out(sweep_dir: Path, out: Path, overwrite: bool) -> None:
    if out.is_relative_to(sweep_dir):
        raise ConfigError(f"the bundle {out} cannot be written inside the sweep it archives")
    if out.is_dir():
        raise ConfigError(f"{out} is a directory; give the bundle's file name")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists; pass overwrite=True to replace it")
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent} does not exist")


def archive(
    path: str | os.PathLike[str],
    *,
    out: str | os.PathLike[str] | None = None,
    include_logs: bool = False,
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
) -> Path:
    """Pack a sweep (finished or partial) into one deterministic, verifiable zip.

    The store is brought up to date first (built if missing), so the bundle
    opens with :func:`xsweep.open_sweep` as it is. The zip is written to a
    temporary name beside ``out`` and renamed at the end: a failure leaves
    nothing behind. Archiving the same sweep twice gives identical bytes.

    Parameters
    ----------
    path : path-like or str
        The sweep directory, or its fsspec URL (copied down to a staging
        directory first; a store brought up to date goes back to the bucket).
    out : path-like, optional
        The zip to write; ``<path>.zip`` beside the sweep directory by default
        (for a URL: ``<name>.zip`` in the working directory).
    include_logs : bool
        Include each run's ``gmat.log`` (left out by default: they are large
        and say nothing the manifest's error lines do not, for most runs).
    overwrite : bool
        Replace an existing ``out``.
    storage_options : mapping, optional
        For a URL: the fsspec file system's options.

    Returns
    -------
    pathlib.Path
        The bundle.

    Raises
    ------
    ConfigError
        ``path`` is not a sweep directory, ``out`` is inside it, or ``out``
        exists and ``overwrite`` is false.
    SweepLockedError
        The sweep is running.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> _ = xs.run("examples/missions/leo_report.script", xs.grid({"Sat.SMA": [7000, 7100]}),
    ...            out=f"{out}/sweep", workers=1, progress=False)
    >>> bundle = xs.archive(f"{out}/sweep")
    >>> bundle.name, xs.verify(bundle).ok
    ('sweep.zip', True)
    >>> xs.open_sweep(bundle)["status"].values.tolist()
    [1, 1]
    """
    if is_url(path):
        url = str(path).rstrip("/")
        dest = Path(out if out is not None else f"{url.rsplit('/', 1)[-1]}.zip")
        with staged(url, storage_options, new=False) as local:
            return archive(local, out=dest.expanduser().resolve(), include_logs=include_logs,
                           overwrite=overwrite)  # fmt: skip
    if storage_options:
        raise ConfigError(f"storage_options is for a sweep at a URL (s3://...), not {path}")
    sweep_dir = resolve_sweep_dir(path)
    target = Path(out).expanduser().resolve() if out is not None else sweep_dir.with_suffix(".zip")
    _check_out(sweep_dir, target, overwrite)
    with ManifestWriter(sweep_dir) as writer:  # a consistent snapshot: nothing appends meanwhile
        manifest = writer.manifest
        assert manifest is not None
        LiveStore(sweep_dir, Space.from_dict(manifest.space, verify=False), manifest).sync()
        members = _members(sweep_dir, manifest, include_logs)
        readme = _readme(manifest, len(members)).encode()
        hashes: dict[str, str] = {}
        with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            entries = sorted([*members, (README_NAME, None)], key=lambda e: e[0])
            for name, source in entries:
                if source is None:
                    hashes[name] = _write_member(zf, name, io.BytesIO(readme), len(readme))
                    continue
                with open(source, "rb") as fh:
                    hashes[name] = _write_member(zf, name, fh, os.fstat(fh.fileno()).st_size)
            listing = "".join(f"{h}  {n}\n" for n, h in sorted(hashes.items())).encode()
            _write_member(zf, HASH_NAME, io.BytesIO(listing), len(listing))
    return target


# -- unpacking --


def extract(
    bundle: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    overwrite: bool = False,
) -> Path:
    """Unpack a bundle safely into a sweep directory, checking hashes as it goes.

    Members with absolute paths or ``..`` (zip slip), symlinks and duplicate
    names are refused before anything is written; every member must be listed
    in ``MANIFEST.hash`` and match it. The bundle is unpacked into a temporary
    directory beside ``dest`` and renamed into place, so a refused bundle
    leaves nothing. The result is an ordinary sweep directory:
    :func:`xsweep.resume` finishes its failed and pending runs.

    Parameters
    ----------
    bundle : path-like
        The zip written by :func:`archive`.
    dest : path-like
        The sweep directory to create.
    overwrite : bool
        Replace an existing ``dest``.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    BundleError
        The bundle is not a zip, is unsafe, or fails verification.
    ConfigError
        ``dest`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> out = tempfile.mkdtemp()
    >>> _ = xs.run("examples/missions/leo_report.script", xs.grid({"Sat.SMA": [7000, 7100]}),
    ...            out=f"{out}/sweep", workers=1, progress=False)
    >>> copy = xs.extract(xs.archive(f"{out}/sweep"), f"{out}/copy")
    >>> xs.Sweep(copy).counts
    {'ok': 2, 'failed': 0, 'pending': 0}
    """
    path = Path(bundle).expanduser().resolve()
    target = Path(dest).expanduser().resolve()
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} exists; pass overwrite=True to replace it")
    if target.is_relative_to(path):
        raise ConfigError(f"cannot extract {path} into itself")
    with open_zip(path) as zf:
        infos = zf.infolist()
        unsafe = unsafe_names(infos)
        if unsafe:
            raise BundleError(f"{path} has unsafe member names, refusing to extract: {unsafe[:10]}")
        foreign = sorted({n for i in infos if not _ours(n := i.filename.split("/")[0])})
        if foreign:  # e.g. a json.py that a ``python -m`` run in the sweep would import
            raise BundleError(
                f"{path} holds members outside a sweep's layout, refusing to extract: "
                f"{foreign[:10]}"
            )
        listed = hash_list(zf, path)
        files = [i for i in infos if not i.is_dir()]
        names = {i.filename for i in files} - {HASH_NAME}
        Verification(
            path, 0, missing=sorted(set(listed) - names), extra=sorted(names - set(listed))
        ).raise_for_problems()
        if MANIFEST_NAME not in names:
            raise BundleError(f"{path} is not an xsweep bundle (no {MANIFEST_NAME})")
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.mkdir(parents=True)
            altered: list[str] = []
            for info in files:
                out = tmp.joinpath(*PurePosixPath(info.filename).parts)
                out.parent.mkdir(parents=True, exist_ok=True)
                with open(out, "wb") as sink:
                    try:
                        found = digest(zf, info, sink)
                    except (zipfile.BadZipFile, OSError, EOFError):
                        found = ""
                if info.filename != HASH_NAME and found != listed[info.filename]:
                    altered.append(info.filename)
            Verification(path, len(files), altered=altered).raise_for_problems()
            if target.exists():
                old = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target
