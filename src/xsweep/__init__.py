"""xsweep: declarative, xarray- and Dask-native parameter sweeps over GMAT scripts."""

from xsweep import _accessor  # noqa: F401  (registers the .xsweep accessor)
from xsweep._engine import EngineInfo, get_engine
from xsweep._errors import (
    ConfigError,
    EngineError,
    FieldError,
    FieldTypeError,
    ManifestCorruptError,
    RunFailedError,
    ScriptLoadError,
    ScriptNotFoundError,
    SpaceError,
    UnsupportedFeatureError,
    XsweepError,
)
from xsweep._mission import run_mission
from xsweep._outputs import read_output
from xsweep._records import OutputFile, RunOutcome
from xsweep._space import Run, Space, grid, latin_hypercube, monte_carlo, samples
from xsweep._version import __version__

__all__ = [
    "ConfigError",
    "EngineError",
    "EngineInfo",
    "FieldError",
    "FieldTypeError",
    "ManifestCorruptError",
    "OutputFile",
    "Run",
    "RunFailedError",
    "RunOutcome",
    "ScriptLoadError",
    "ScriptNotFoundError",
    "Space",
    "SpaceError",
    "UnsupportedFeatureError",
    "XsweepError",
    "__version__",
    "get_engine",
    "grid",
    "latin_hypercube",
    "monte_carlo",
    "read_output",
    "run_mission",
    "samples",
]
