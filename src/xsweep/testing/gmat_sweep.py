"""A GMAT install root over the gmatpy wheel, so gmat-sweep runs on the embedded engine.

gmat-sweep 0.6.0 (through gmat-run) only knows desktop GMAT installs: it looks
for ``<root>/bin/gmatpy/`` and ``<root>/api/load_gmat.py`` and imports
``gmatpy`` from ``<root>/bin``. :func:`gmat_sweep_root` writes such a root
whose ``gmatpy`` package is a shim over the wheel's own engine (after
``../shared/bench/make_fake_root.py``), so the tests and the import example
make real gmat-sweep sweeps, unmodified, on the engine xsweep uses::

    root = gmat_sweep_root(tmp)
    subprocess.run([sys.executable, "make.py"], env={**os.environ, "GMAT_ROOT": str(root)})

Nothing in xsweep uses it; gmat-sweep runs in its own interpreter (it loads
GMAT in its workers' processes, which must not be xsweep's).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SHIM = '''\
"""Shim: the gmatpy wheel's raw SWIG GMAT API as a GMAT install's bin/gmatpy."""
from importlib.metadata import distribution as _distribution

__path__.append(str(_distribution("gmatpy").locate_file("gmatpy")))  # noqa: F821

from ._native.gmat_py import *  # noqa: E402,F401,F403
from . import _runtime  # noqa: E402


def Setup(path=None, *args, **kwargs):
    """Ignore the install's startup file: the wheel starts its own engine, once."""
    return _runtime.engine()
'''


def gmat_sweep_root(where: str | Path) -> Path:
    """Write a GMAT install root at ``where`` for gmat-sweep (``GMAT_ROOT``); return it.

    Raises
    ------
    RuntimeError
        The gmatpy wheel is not installed here.
    """
    if importlib.util.find_spec("gmatpy") is None:
        raise RuntimeError("gmatpy (the GMAT wheel) is not installed in this interpreter")
    root = Path(where).resolve()
    (root / "bin" / "gmatpy").mkdir(parents=True, exist_ok=True)
    (root / "api").mkdir(parents=True, exist_ok=True)
    (root / "output").mkdir(parents=True, exist_ok=True)
    (root / "bin" / "gmatpy" / "__init__.py").write_text(_SHIM, encoding="utf-8")
    (root / "api" / "load_gmat.py").write_text("# gmat-run checks only that it exists\n")
    (root / "bin" / "api_startup_file.txt").write_text("# the shim ignores it\n")
    # gmat-run reads the GMAT version from README.txt (R\d{4}[a-z]).
    (root / "README.txt").write_text("GMAT R2026a engine of the gmatpy wheel\n")
    return root
