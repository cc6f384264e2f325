"""A ready GMAT engine per process: the embedded gmatpy wheel or a desktop install.

GMAT is process-global: one engine per interpreter, initialised once and kept
warm. Every mission reloads its script (``LoadScript`` replaces the whole
object graph), so nothing set for one run survives into the next.

gmat-run's :class:`~gmat_run.Mission` expects to bootstrap a desktop install
itself. For the embedded engine we initialise GMAT through gmatpy and build
the ``Mission`` around that module, repeating the spacecraft pre-initialisation
``Mission.load`` does. This touches internals of gmat-run 0.6.0 and
gmatpy 0.2.1, which is why both are pinned exactly.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from gmat_run import GmatInstall, Mission
from gmat_run.errors import GmatLoadError, GmatNotFoundError
from gmat_run.mission import _get_api_exception, _initialize_spacecraft

from xsweep.core.errors import (
    EngineError,
    ScriptLoadError,
    ScriptNotFoundError,
    UnsupportedFeatureError,
)
from xsweep.core.options import ENGINE_KINDS, EngineKind
from xsweep.gmat import kernels

# Object types that live in GMAT plugins the embedded wheel leaves out
# (gmatpy.capabilities().deferred_plugins): stations and event locators,
# estimation, external optimizers, functions.
PLUGIN_TYPES: frozenset[str] = frozenset(
    {
        "GroundStation",
        "ContactLocator",
        "EclipseLocator",
        "Antenna",
        "Transmitter",
        "Receiver",
        "Transponder",
        "ErrorModel",
        "TrackingFileSet",
        "Simulator",
        "BatchEstimator",
        "ExtendedKalmanFilter",
        "Smoother",
        "AcceptFilter",
        "RejectFilter",
        "EstimatedParameter",
        "VF13ad",
        "SNOPT",
        "FminconOptimizer",
        "MatlabFunction",
        "GmatFunction",
        "PythonFunction",
        "IntrusionLocator",
        "PlanetographicRegion",
        "ThrustHistoryFile",
        "ThrustSegment",
        "Imager",
        "CustomFOV",
        "ConicalFOV",
        "RectangularFOV",
        "SpacecraftNavigation",
        "OpticalTrackingFile",
    }
)

_UNKNOWN_TYPE = re.compile(r'The "([^"]+)" is an unknown object type')
_ERROR_MARK = "**** ERROR ****"


@dataclass(frozen=True)
class EngineInfo:
    """What engine runs the missions, for the manifest header and reports.

    Attributes
    ----------
    kind : {"embedded", "desktop"}
        The gmatpy wheel's bundled engine, or a desktop GMAT install.
    gmat_version : str or None
        The GMAT release (``"R2026a"``), when known.
    gmatpy_version : str or None
        Version of the gmatpy wheel (embedded engine only).
    root : str
        Where the engine lives on disk.
    """

    kind: Literal["embedded", "desktop"]
    gmat_version: str | None
    gmatpy_version: str | None
    root: str


class Engine:
    """A warm GMAT engine bound to this process.

    Obtain one with :func:`get_engine`; do not construct it directly. All GMAT
    calls go through :attr:`lock`, since the engine is process-global and not
    thread-safe.
    """

    def __init__(self, gmat: ModuleType, install: GmatInstall, info: EngineInfo) -> None:
        self.gmat = gmat
        self.install = install
        self.info = info
        self.lock = threading.RLock()
        # Removed when the process exits normally (a GMAT child on stdin EOF).
        self._scratch = tempfile.TemporaryDirectory(prefix="xsweep-engine-")
        self._api_exception: type[BaseException] = _get_api_exception(gmat)
        self._lean: dict[str, str] = {}
        if kernels.enabled():
            originals = kernels.default_text_kernels(gmat)
            self._lean = kernels.make_lean(originals, Path(self._scratch.name) / "kernels")

    def load(self, script: str | os.PathLike[str]) -> Mission:
        """Load ``script`` into the engine and return gmat-run's handle on it.

        Raises
        ------
        ScriptNotFoundError
            The script does not exist.
        UnsupportedFeatureError
            The script creates an object type the engine lacks (a plugin).
        ScriptLoadError
            GMAT could not parse the script; carries GMAT's own error lines.
        """
        path = Path(script).expanduser().resolve()
        if not path.is_file():
            raise ScriptNotFoundError(path)
        log_path = Path(self._scratch.name) / "load.log"
        gmat = self.gmat
        with self.lock:
            gmat.UseLogFile(str(log_path))
            load_exc: BaseException | None = None
            try:
                loaded = bool(gmat.LoadScript(str(path)))
            except self._api_exception as exc:
                loaded, load_exc = False, exc
            finally:
                gmat.UseLogFile(os.devnull)
            if not loaded:
                log = _read(log_path)
                errors = gmat_errors(log)
                if load_exc is not None:
                    errors.append(str(load_exc))
                raise self._load_error(path, errors, log)
            kernels.use_lean(gmat, self._lean)
            try:
                _initialize_spacecraft(gmat)
            except self._api_exception as exc:
                raise ScriptLoadError(path, [f"initialising spacecraft: {exc}"]) from exc
        return Mission(gmat=gmat, install=self.install, script_path=path)

    def object_names(self) -> list[str]:
        """Names of every resource in the loaded script (no parameters)."""
        moderator = self.gmat.Moderator.Instance()
        names = list(moderator.GetListOfObjects(self.gmat.UNKNOWN_OBJECT))
        return [str(n) for n in names if "." not in str(n)]

    def get_object(self, name: str) -> Any:
        """Return resource ``name`` of the loaded script, or None if there is none."""
        try:
            return self.gmat.GetObject(name)
        except Exception:  # gmatpy raises AttributeError for an unknown name
            return None

    def _load_error(self, path: Path, errors: list[str], log: str) -> ScriptLoadError:
        unknown = list(dict.fromkeys(m.group(1) for m in _UNKNOWN_TYPE.finditer(log)))
        plugin = [t for t in unknown if t in PLUGIN_TYPES]
        if plugin and self.info.kind == "embedded":
            return UnsupportedFeatureError(path, plugin, errors, log)
        return ScriptLoadError(path, errors, log)


def gmat_errors(log: str) -> list[str]:
    """Extract GMAT's error messages from a log, one string per error.

    GMAT marks errors with ``**** ERROR ****`` and follows interpreter errors
    with the offending script line; both are kept, whitespace-normalised.
    Runtime failures that GMAT logs without the marker (``... exception: ...``
    followed by ``This error occurred on line N``) are picked up too.
    """
    lines = log.splitlines()
    found: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        lowered = line.lower()
        if _ERROR_MARK in line or ("exception" in lowered and ":" in line):
            parts = [line.split(_ERROR_MARK, 1)[-1].strip()]
            j = i + 1
            while j < len(lines) and lines[j].strip() and _ERROR_MARK not in lines[j]:
                parts.append(lines[j].strip())
                j += 1
            found.append(" ".join(p for p in parts if p))
            i = j
        else:
            i += 1
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


_engine: Engine | None = None
_engine_lock = threading.Lock()


def embedded_available() -> bool:
    """Return True when the gmatpy wheel (with its bundled engine) is importable."""
    return importlib.util.find_spec("gmatpy") is not None and (
        importlib.util.find_spec("gmatpy._runtime") is not None
    )


def get_engine(
    kind: EngineKind = "auto", *, gmat_root: str | os.PathLike[str] | None = None
) -> Engine:
    """Return this process's warm GMAT engine, initialising it on first use.

    Parameters
    ----------
    kind : {"auto", "embedded", "desktop"}
        ``"embedded"`` uses the GMAT R2026a engine bundled in the ``gmatpy``
        wheel; ``"desktop"`` a GMAT install found by gmat-run (``gmat_root``,
        ``GMAT_ROOT``, then its usual places); ``"auto"`` the embedded engine
        when gmatpy is installed, else a desktop install.
    gmat_root : path, optional
        Desktop GMAT install root. Implies ``kind="desktop"`` under ``"auto"``.

    Raises
    ------
    EngineError
        No engine of that kind can be loaded, or this process already holds a
        different engine (GMAT cannot be re-initialised in one process).
    """
    global _engine
    if kind not in ENGINE_KINDS:
        raise EngineError(f"unknown engine {kind!r}; expected one of {ENGINE_KINDS}")
    if kind == "auto":
        kind = "desktop" if gmat_root is not None or not embedded_available() else "embedded"
    with _engine_lock:
        if _engine is not None:
            if _engine.info.kind != kind:
                raise EngineError(
                    f"this process already runs the {_engine.info.kind} GMAT engine; "
                    f"GMAT cannot load a second engine ({kind}) in one process"
                )
            return _engine
        _engine = _embedded() if kind == "embedded" else _desktop(gmat_root)
        return _engine


def _embedded() -> Engine:
    if not embedded_available():
        raise EngineError(
            "the embedded GMAT engine needs the 'gmatpy' wheel (Python 3.12+, Linux or macOS): "
            "pip install gmatpy==0.2.1, or use a desktop GMAT install with engine='desktop'"
        )
    import gmatpy
    from gmatpy import _runtime

    try:
        with _runtime.lock:
            gmat = _runtime.engine()
    except RuntimeError as exc:
        raise EngineError(f"the embedded GMAT engine failed to start: {exc}") from exc
    root = Path(_runtime.__file__).resolve().parent
    # gmat-run only reads these paths when it bootstraps a desktop install
    # itself, which it never does here; they record where the engine lives.
    install = GmatInstall(root=root, bin_dir=root, api_dir=root, output_dir=root, version="R2026a")
    info = EngineInfo("embedded", "R2026a", str(gmatpy.__version__), str(root))
    return Engine(gmat, install, info)


def _desktop(gmat_root: str | os.PathLike[str] | None) -> Engine:
    from gmat_run import bootstrap, locate_gmat

    try:
        install = locate_gmat(gmat_root)
        gmat = bootstrap(install)
    except GmatNotFoundError as exc:
        raise EngineError(f"no desktop GMAT install found.\n{exc}") from exc
    except GmatLoadError as exc:
        raise EngineError(f"the desktop GMAT install could not be loaded: {exc}") from exc
    info = EngineInfo("desktop", install.version, None, str(install.root))
    return Engine(gmat, install, info)
