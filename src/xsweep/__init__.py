"""xsweep: declarative, xarray- and Dask-native parameter sweeps over GMAT scripts.

Heavy parts (the Dask client machinery, GMAT) load on first use, so that
``import xsweep`` stays cheap in GMAT child processes and Dask workers.
"""

from __future__ import annotations

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

from xsweep._errors import (
    ClusterError,
    ConfigError,
    DiskFullError,
    EngineError,
    FieldError,
    FieldTypeError,
    ManifestCorruptError,
    RunFailedError,
    ScriptDriftError,
    ScriptLoadError,
    ScriptNotFoundError,
    SpaceError,
    SweepAbortedError,
    UnsupportedFeatureError,
    XsweepError,
)
from xsweep._records import OutputFile, RunOutcome
from xsweep._version import __version__

# GMAT children and the workers of an embedded cluster set XSWEEP_LEAN: they never touch
# xarray, and skipping its import (and pandas') makes a sweep start ~0.4 s sooner.
if not _os.environ.get("XSWEEP_LEAN"):
    from xsweep import _accessor  # noqa: F401  (registers the .xsweep accessor)
    from xsweep._space import Run, Space, grid, latin_hypercube, monte_carlo, samples

if TYPE_CHECKING:
    from xsweep._analysis import final, on_time_grid, to_dataframe
    from xsweep._archive import BundleError, Verification, archive, extract, verify
    from xsweep._engine import EngineInfo, get_engine
    from xsweep._manifest import SweepLockedError
    from xsweep._mission import run_mission
    from xsweep._outputs import read_output
    from xsweep._space import Run, Space, grid, latin_hypercube, monte_carlo, samples
    from xsweep._store import StoreError, consolidate, open_sweep
    from xsweep._sweep import Sweep, extend, resume, run

_LAZY = {
    "BundleError": "xsweep._archive",
    "Verification": "xsweep._archive",
    "archive": "xsweep._archive",
    "extract": "xsweep._archive",
    "verify": "xsweep._archive",
    "Run": "xsweep._space",
    "Space": "xsweep._space",
    "grid": "xsweep._space",
    "latin_hypercube": "xsweep._space",
    "monte_carlo": "xsweep._space",
    "samples": "xsweep._space",
    "EngineInfo": "xsweep._engine",
    "get_engine": "xsweep._engine",
    "SweepLockedError": "xsweep._manifest",
    "run_mission": "xsweep._mission",
    "read_output": "xsweep._outputs",
    "StoreError": "xsweep._store",
    "consolidate": "xsweep._store",
    "open_sweep": "xsweep._store",
    "final": "xsweep._analysis",
    "on_time_grid": "xsweep._analysis",
    "to_dataframe": "xsweep._analysis",
    "Sweep": "xsweep._sweep",
    "extend": "xsweep._sweep",
    "resume": "xsweep._sweep",
    "run": "xsweep._sweep",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        importlib.import_module("xsweep._accessor")  # registered on first use, if lean
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xsweep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BundleError",
    "ClusterError",
    "ConfigError",
    "DiskFullError",
    "EngineError",
    "EngineInfo",
    "FieldError",
    "FieldTypeError",
    "ManifestCorruptError",
    "OutputFile",
    "Run",
    "RunFailedError",
    "RunOutcome",
    "ScriptDriftError",
    "ScriptLoadError",
    "ScriptNotFoundError",
    "Space",
    "SpaceError",
    "StoreError",
    "Sweep",
    "SweepAbortedError",
    "SweepLockedError",
    "UnsupportedFeatureError",
    "Verification",
    "XsweepError",
    "__version__",
    "archive",
    "consolidate",
    "extend",
    "extract",
    "final",
    "get_engine",
    "grid",
    "latin_hypercube",
    "monte_carlo",
    "on_time_grid",
    "open_sweep",
    "read_output",
    "resume",
    "run",
    "run_mission",
    "samples",
    "to_dataframe",
    "verify",
]
