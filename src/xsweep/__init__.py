"""xsweep: declarative, xarray- and Dask-native parameter sweeps over GMAT scripts.

Heavy parts (the Dask client machinery, GMAT) load on first use, so that
``import xsweep`` stays cheap in GMAT child processes and Dask workers.
"""

from __future__ import annotations

import importlib
import os as _os
from typing import TYPE_CHECKING, Any

from xsweep._version import __version__ as __version__

if TYPE_CHECKING:  # what type checkers see; tests/test_layering.py checks it against _PUBLIC
    from xsweep import derived as derived
    from xsweep._analysis import (
        final as final,
    )
    from xsweep._analysis import (
        on_time_grid as on_time_grid,
    )
    from xsweep._analysis import (
        to_dataframe as to_dataframe,
    )
    from xsweep._archive import archive as archive
    from xsweep._archive import extract as extract
    from xsweep._continue import extend as extend
    from xsweep._continue import resume as resume
    from xsweep._convergence import extend_until as extend_until
    from xsweep._czml import to_czml as to_czml
    from xsweep._derive import DeriveResult as DeriveResult
    from xsweep._designs import (
        grid as grid,
    )
    from xsweep._designs import (
        latin_hypercube as latin_hypercube,
    )
    from xsweep._designs import (
        monte_carlo as monte_carlo,
    )
    from xsweep._designs import (
        qmc as qmc,
    )
    from xsweep._designs import (
        samples as samples,
    )
    from xsweep._draws import nominal as nominal
    from xsweep._errors import (
        BundleError as BundleError,
    )
    from xsweep._errors import (
        ClusterError as ClusterError,
    )
    from xsweep._errors import (
        ClusterStartError as ClusterStartError,
    )
    from xsweep._errors import (
        ConfigError as ConfigError,
    )
    from xsweep._errors import (
        DiskFullError as DiskFullError,
    )
    from xsweep._errors import (
        EngineError as EngineError,
    )
    from xsweep._errors import (
        FieldError as FieldError,
    )
    from xsweep._errors import (
        FieldTypeError as FieldTypeError,
    )
    from xsweep._errors import (
        ManifestCorruptError as ManifestCorruptError,
    )
    from xsweep._errors import (
        ObjectStoreError as ObjectStoreError,
    )
    from xsweep._errors import (
        RunFailedError as RunFailedError,
    )
    from xsweep._errors import (
        ScriptDriftError as ScriptDriftError,
    )
    from xsweep._errors import (
        ScriptLoadError as ScriptLoadError,
    )
    from xsweep._errors import (
        ScriptNotFoundError as ScriptNotFoundError,
    )
    from xsweep._errors import (
        SpaceError as SpaceError,
    )
    from xsweep._errors import (
        StoreError as StoreError,
    )
    from xsweep._errors import (
        SweepAbortedError as SweepAbortedError,
    )
    from xsweep._errors import (
        SweepLockedError as SweepLockedError,
    )
    from xsweep._errors import (
        UnsupportedFeatureError as UnsupportedFeatureError,
    )
    from xsweep._errors import (
        XsweepError as XsweepError,
    )
    from xsweep._fields import fields as fields
    from xsweep._frames import state_block as state_block
    from xsweep._handle import Sweep as Sweep
    from xsweep._inspect import RunInfo as RunInfo
    from xsweep._records import OutputFile as OutputFile
    from xsweep._records import RunOutcome as RunOutcome
    from xsweep._session import derive as derive
    from xsweep._sobol import saltelli as saltelli
    from xsweep._sobol import sobol as sobol
    from xsweep._source import Verification as Verification
    from xsweep._source import verify as verify
    from xsweep._space import Run as Run
    from xsweep._space import Space as Space
    from xsweep._sweep import run as run
    from xsweep.derived import Quantity as Quantity
    from xsweep.gmat.engine import EngineInfo as EngineInfo
    from xsweep.gmat.engine import get_engine as get_engine
    from xsweep.gmat.mission import run_mission as run_mission
    from xsweep.gmat.outputs import read_output as read_output
    from xsweep.store.open import open_sweep as open_sweep
    from xsweep.store.write import consolidate as consolidate

# Every public name, and the module that defines it. Each loads on first use, so a
# GMAT child or a lean Dask worker that imports ``xsweep`` gets none of xarray or Dask.
_PUBLIC = {
    "BundleError": "xsweep._errors",
    "ClusterError": "xsweep._errors",
    "ClusterStartError": "xsweep._errors",
    "ConfigError": "xsweep._errors",
    "DiskFullError": "xsweep._errors",
    "EngineError": "xsweep._errors",
    "FieldError": "xsweep._errors",
    "FieldTypeError": "xsweep._errors",
    "ManifestCorruptError": "xsweep._errors",
    "ObjectStoreError": "xsweep._errors",
    "RunFailedError": "xsweep._errors",
    "ScriptDriftError": "xsweep._errors",
    "ScriptLoadError": "xsweep._errors",
    "ScriptNotFoundError": "xsweep._errors",
    "SpaceError": "xsweep._errors",
    "StoreError": "xsweep._errors",
    "SweepAbortedError": "xsweep._errors",
    "SweepLockedError": "xsweep._errors",
    "UnsupportedFeatureError": "xsweep._errors",
    "XsweepError": "xsweep._errors",
    "OutputFile": "xsweep._records",
    "RunOutcome": "xsweep._records",
    "Run": "xsweep._space",
    "Space": "xsweep._space",
    "grid": "xsweep._designs",
    "latin_hypercube": "xsweep._designs",
    "monte_carlo": "xsweep._designs",
    "samples": "xsweep._designs",
    "qmc": "xsweep._designs",
    "saltelli": "xsweep._sobol",
    "state_block": "xsweep._frames",
    "fields": "xsweep._fields",
    "nominal": "xsweep._draws",
    "RunInfo": "xsweep._inspect",
    "extend_until": "xsweep._convergence",
    "sobol": "xsweep._sobol",
    "run": "xsweep._sweep",
    "resume": "xsweep._continue",
    "extend": "xsweep._continue",
    "derive": "xsweep._session",
    "Quantity": "xsweep.derived",
    "DeriveResult": "xsweep._derive",
    "Sweep": "xsweep._handle",
    "run_mission": "xsweep.gmat.mission",
    "read_output": "xsweep.gmat.outputs",
    "EngineInfo": "xsweep.gmat.engine",
    "get_engine": "xsweep.gmat.engine",
    "open_sweep": "xsweep.store.open",
    "consolidate": "xsweep.store.write",
    "final": "xsweep._analysis",
    "on_time_grid": "xsweep._analysis",
    "to_dataframe": "xsweep._analysis",
    "archive": "xsweep._archive",
    "to_czml": "xsweep._czml",
    "extract": "xsweep._archive",
    "Verification": "xsweep._source",
    "verify": "xsweep._source",
}
__all__ = sorted([*_PUBLIC, "__version__", "derived"])
# Need no xarray, nor the accessor.
_PLAIN = ("xsweep._errors", "xsweep._records", "xsweep._derive", "xsweep.derived", "xsweep._draws")

# GMAT children and the workers of an embedded cluster set XSWEEP_LEAN: they never touch
# xarray, and skipping its import (and pandas') makes a sweep start ~0.4 s sooner.
if not _os.environ.get("XSWEEP_LEAN"):
    from xsweep import _accessor  # noqa: F401  (registers the .xsweep accessor)


def __getattr__(name: str) -> Any:
    if name == "derived":  # the built-in derive functions, a module
        return importlib.import_module("xsweep.derived")
    if name in _PUBLIC:
        if _PUBLIC[name] not in _PLAIN:  # registered on first use, if lean
            importlib.import_module("xsweep._accessor")
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xsweep' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC) | {"derived"})
