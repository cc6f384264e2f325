"""xsweep: declarative, xarray- and Dask-native parameter sweeps over GMAT scripts.

Every public name loads from its module on first use (scientific-python's
SPEC 1, through ``lazy_loader``; the names and modules are listed once, in
``__init__.pyi``), so ``import xsweep`` stays cheap in GMAT child processes
and Dask workers.
"""

import importlib
import os
from typing import Any

import lazy_loader

from xsweep._version import __version__ as __version__

_load, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)

# GMAT children and the workers of an embedded cluster set XSWEEP_LEAN: they never touch
# xarray, and skipping its import (and pandas') makes a sweep start ~0.4 s sooner.
_LEAN = bool(os.environ.get("XSWEEP_LEAN"))
# Need no xarray, nor the accessor.
_PLAIN = ("xsweep.core.", "xsweep.derived", "xsweep.space.draws")
if not _LEAN:
    from xsweep.analysis import accessor as _accessor  # noqa: F401  (registers the .xsweep accessor)


def __getattr__(name: str) -> Any:
    value = _load(name)  # an AttributeError for a name that is not public
    home = getattr(value, "__module__", None) or getattr(value, "__name__", "")
    if _LEAN and not str(home).startswith(_PLAIN):  # a lean process registers it on first use
        importlib.import_module("xsweep.analysis.accessor")
    return value
