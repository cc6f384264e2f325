"""The names inside a sweep directory, and the one check that a path is a sweep.

```
sweep/
  manifest.jsonl        MANIFEST_NAME
  .manifest.lock        LOCK_NAME
  mission.script        SCRIPT_NAME (a drifted script: mission-<hash>.script)
  runs/run-000042/      RUNS_DIR, run_dir_name(42)
  sweep.zarr/           STORE_NAME
```

Every module that names one of these takes it from here.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from xsweep.core.errors import ConfigError

MANIFEST_NAME = "manifest.jsonl"
LOCK_NAME = ".manifest.lock"
SCRIPT_NAME = "mission.script"
RUNS_DIR = "runs"
STORE_NAME = "sweep.zarr"


def inside(root: str | os.PathLike[str], path: str, what: str) -> Path:
    """Return ``root / path`` if it stays inside ``root`` once resolved; else ConfigError.

    Every path a manifest, header, variant, problem or bundle names goes
    through here: it must be relative (POSIX, no ``..``) and, after symlinks
    are followed, still under ``root``. A sweep from someone else cannot make
    xsweep read or write anything outside it.
    """
    try:
        check_relative(path, what)
    except ValueError as exc:
        raise ConfigError(f"{exc}: a sweep names only files inside it") from None
    base = Path(root).resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base):
        raise ConfigError(f"{what} {path!r} leads outside the sweep (a symlink): refused")
    return target


def run_dir_name(run_id: int) -> str:
    """Return a run's directory, relative to the sweep directory (POSIX)."""
    return f"{RUNS_DIR}/run-{run_id:06d}"


def drifted_script_name(sha256: str) -> str:
    """Return the name a drifted script is copied in under, from its hash."""
    return f"mission-{sha256[:12]}.script"


def sweep_of_run_dir(run_dir: str) -> Path:
    """Return the sweep directory a run directory (``<sweep>/runs/run-NNNNNN``) belongs to."""
    return Path(run_dir).parent.parent


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """Tell whether ``path`` is a zip file (a bundle, if it is anything xsweep reads)."""
    p = Path(path)
    return p.is_file() and zipfile.is_zipfile(p)


def sweep_dir(path: str | os.PathLike[str], *, bundle: bool = False) -> Path:
    """Resolve ``path`` to a sweep directory (or, with ``bundle``, an archive zip too).

    Raises
    ------
    ConfigError
        ``path`` holds no manifest; or it is a bundle and ``bundle`` is false
        (a bundle is read-only: extract it to write to it).
    """
    if isinstance(path, str) and "://" in path:
        raise ConfigError(
            f"{path} is a URL: this call needs a sweep directory on local disk (run, resume, "
            "extend, archive, open_sweep and Sweep take a URL; see the 'cloud' docs)"
        )
    resolved = Path(path).expanduser().resolve()
    if is_bundle(resolved):
        if bundle:
            return resolved
        raise ConfigError(
            f"{resolved} is an archive bundle, which is read-only; unpack it with "
            "xs.extract(bundle, dest) and use the directory"
        )
    if not (resolved / MANIFEST_NAME).is_file():
        raise ConfigError(f"{resolved} is not a sweep directory (no {MANIFEST_NAME})")
    return resolved


# GMAT resource names (outputs), and so the file names a run's outputs are written under.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")


def check_name(name: Any, what: str) -> None:
    """Raise ValueError unless ``name`` is an identifier (a GMAT resource name, no path)."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(f"{what} must be a GMAT resource name, got {str(name)[:80]!r}")


def check_relative(path: str, what: str) -> None:
    """Raise ValueError unless ``path`` stays inside the sweep directory (relative, POSIX)."""
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts or "\\" in path or ":" in path:
        raise ValueError(f"{what} must be a relative path inside the sweep, got {path!r}")
