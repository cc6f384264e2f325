"""Derived quantities: the functions a sweep derives per-run values with, and those values.

A derive function takes a finished run's outputs (its parsed frames, keyed by
output name) and its parameter values, and returns a few numbers: a miss
distance, a total delta-V, a final SMA. It runs once per ok run, in the GMAT
child process that ran it (killable: a hung or crashing function is that
run's derive failure, never a hung sweep), reading the run's Parquet on first
use of an output, so live and re-derived values come from the same bytes.

Values travel JSON-encoded (:func:`encode`) in :class:`DeriveResult` records,
from the child into the manifest, and from there into the store. This module
imports nothing of xarray or Dask.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import FunctionType, ModuleType
from typing import Any, Literal, get_args

from xsweep.core.errors import ConfigError
from xsweep.derived import Quantity

DeriveStatus = Literal["ok", "derive-failed"]
DERIVE_STATUSES: tuple[DeriveStatus, ...] = get_args(DeriveStatus)
# A run's derived values as the store codes them (CF flags): none yet, all ok, one failed.
DERIVE_FLAGS = {"none": 0, "ok": 1, "derive-failed": 2}
MAX_VALUES = 10_000  # per derived value: a per-run number or a small array, not a series
Kind = tuple[str, tuple[int, ...], str]  # store kind ("f", "M", "U"), shape, Python type


@dataclass(frozen=True)
class DeriveResult:
    """What one derive function gave for one run.

    Attributes
    ----------
    fn : str
        The function's reference (``"pkg.mod:fn"``, or a built-in's recipe).
    sha256 : str
        Hash of its source (or recipe): a changed function is drift.
    status : {"ok", "derive-failed"}
        Whether it returned values the store can hold.
    values : dict
        Name to JSON-encoded value (see :func:`encode`).
    attrs : dict
        Name to its ``units``/``long_name``/``dims`` (when the function gave them).
    error : str or None
        The exception a failed function raised, or why its values were refused.
    """

    fn: str
    sha256: str
    status: DeriveStatus
    values: Mapping[str, Any] = field(default_factory=dict)
    attrs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the function returned usable values."""
        return self.status == "ok"

    def failed(self, error: str) -> DeriveResult:
        """Return this result refused: no values, ``error`` recorded."""
        return DeriveResult(self.fn, self.sha256, "derive-failed", error=error)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict."""
        out: dict[str, Any] = {"fn": self.fn, "sha256": self.sha256, "status": self.status}
        if self.ok:
            out["values"] = dict(self.values)
            if self.attrs:
                out["attrs"] = {k: dict(v) for k, v in self.attrs.items()}
        else:
            out["error"] = self.error
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeriveResult:
        """Rebuild from :meth:`to_dict` output."""
        if data.get("status") not in DERIVE_STATUSES:
            raise ValueError(f"unknown derive status {data.get('status')!r}")
        if not isinstance(data.get("fn"), str) or not isinstance(data.get("values", {}), dict):
            raise ValueError("a derive result needs fn (a string) and values (an object)")
        return cls(
            data["fn"],
            str(data.get("sha256") or ""),
            data["status"],
            dict(data.get("values", {})),
            {str(k): dict(v) for k, v in data.get("attrs", {}).items()},
            data.get("error"),
        )


_LOADED: dict[tuple[str, str], Callable[..., Any]] = {}


@dataclass(frozen=True)
class DeriveFunction:
    """A derive function as it travels to the processes that call it.

    Attributes
    ----------
    ref : str
        ``"module:qualname"``, or a built-in's recipe (``xsweep.derived:final(...)``).
    sha256 : str
        Hash of its source (built-ins: of their class and recipe).
    payload : bytes or None
        The callable, cloudpickled; ``None``: import ``ref``.
    path : str or None
        A ``sys.path`` entry its module needs (the directory holding it).
    also : tuple of str
        The caller's own ``sys.path`` additions (directories outside the
        interpreter's), which the module's own imports may need.
    importable : bool
        Whether ``ref`` imports anywhere the module does (not ``__main__``, a
        lambda or a local function): a later ``resume`` can reload it by name.
    """

    ref: str
    sha256: str
    payload: bytes | None = None
    path: str | None = None
    importable: bool = True
    builtin: Mapping[str, Any] | None = None  # an xsweep.derived recipe: {"name", "params"}
    also: tuple[str, ...] = ()

    def load(self) -> Callable[..., Any]:
        """Return the callable (unpickled or imported once per process)."""
        key = (self.ref, self.sha256)
        if key not in _LOADED:
            for entry in (self.path, *self.also):
                if entry and entry not in sys.path:
                    sys.path.append(entry)
            if self.payload is not None:
                import cloudpickle  # type: ignore[import-untyped]

                _LOADED[key] = cloudpickle.loads(self.payload)
            else:
                _LOADED[key] = _import(self.ref)
        return _LOADED[key]

    def to_dict(self) -> dict[str, Any]:
        """Return what the manifest records of it."""
        out = {"fn": self.ref, "sha256": self.sha256, "importable": self.importable}
        if self.builtin is not None:
            out["builtin"] = dict(self.builtin)
        return out


def reload(entry: Mapping[str, Any]) -> DeriveFunction | None:
    """Rebuild a built-in recipe the manifest records (``None`` for any other function).

    A manifest is data from whoever wrote the sweep: only an ``xsweep.derived``
    recipe is rebuilt from it (by its factory, never evaluated from text).
    Nothing a manifest names is imported: other functions must be given again.
    """
    builtin = entry.get("builtin")
    if not isinstance(builtin, Mapping):
        return None
    from xsweep import derived

    name, params = builtin.get("name"), builtin.get("params")
    if name not in derived.BUILTINS or not isinstance(params, Mapping):
        return None
    try:
        return _of_callable(getattr(derived, str(name))(**params))
    except (TypeError, ValueError):  # a recipe's parameters that the factory refuses
        return None


def _import(ref: str) -> Callable[..., Any]:
    import importlib  # on the client, or in a child importing a function: not at start-up

    module, _, name = ref.partition(":")
    if not module or not name:
        raise ConfigError(f"derive={ref!r}: give 'package.module:function'")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"derive={ref!r}: cannot import {module!r} ({exc})") from None
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ConfigError(f"derive={ref!r}: {module!r} has no {name!r}")
    if not callable(obj):
        raise ConfigError(f"derive={ref!r} is a {type(obj).__name__}, not a function")
    return obj  # type: ignore[no-any-return]


def _module_root(module: str) -> str | None:
    """Find the ``sys.path`` entry ``module`` came from (so a child imports it too)."""
    mod = sys.modules.get(module)
    file = getattr(mod, "__file__", None)
    if mod is None or file is None or module == "__main__":
        return None
    root = os.path.dirname(os.path.abspath(str(file)))
    depth = module.count(".") + (os.path.basename(file) == "__init__.py")
    for _ in range(depth):
        root = os.path.dirname(root)
    return root


def _additions() -> tuple[str, ...]:
    """Return this process's ``sys.path`` directories that are not the interpreter's own."""
    own = tuple({os.path.abspath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    found = []
    for entry in sys.path:
        path = os.path.abspath(entry or os.curdir)
        if os.path.isdir(path) and not path.startswith(own) and path not in found:
            found.append(path)
    return tuple(found)


def _source_sha(obj: Any, extra: str = "") -> str:
    import hashlib
    import inspect

    target = obj if isinstance(obj, FunctionType | type | ModuleType) else type(obj)
    try:
        text = inspect.getsource(target)
    except (OSError, TypeError):  # a built-in or a function typed at a prompt
        text = getattr(target, "__qualname__", repr(target))
    return hashlib.sha256((text + extra).encode()).hexdigest()


def resolve(derive: Any) -> tuple[DeriveFunction, ...]:
    """Turn ``derive=`` (a callable, a ``"module:function"`` string, or a list) into functions.

    Strings are imported here first, so a typo fails before any run.
    """
    if derive is None:
        return ()
    items = [derive] if isinstance(derive, str) or callable(derive) else list(derive)
    out: list[DeriveFunction] = []
    for item in items:
        if isinstance(item, str):
            fn = _import(item)
            module = item.partition(":")[0]
            out.append(
                DeriveFunction(item, _source_sha(fn), None, _module_root(module), also=_additions())
            )
        elif callable(item):
            out.append(_of_callable(item))
        else:
            raise ConfigError(
                f"derive= takes functions or 'module:function' strings, got {type(item).__name__}"
            )
    refs = [f.ref for f in out]
    if len(set(refs)) != len(refs):
        raise ConfigError(f"derive= names a function twice: {refs}")
    return tuple(out)


def _of_callable(fn: Callable[..., Any]) -> DeriveFunction:
    import cloudpickle

    recipe = getattr(fn, "xsweep_builtin", None)  # a built-in: {"name", "params"}
    if isinstance(recipe, Mapping):
        args = ", ".join(f"{k}={v!r}" for k, v in recipe["params"].items())
        ref = f"xsweep.derived:{recipe['name']}({args})"
        sha = _source_sha(sys.modules[type(fn).__module__], ref)  # the module holds the code
        return DeriveFunction(ref, sha, cloudpickle.dumps(fn), builtin=recipe)
    module = getattr(fn, "__module__", None) or type(fn).__module__
    qualname = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    ref = f"{module}:{qualname}"
    importable = module != "__main__" and "<" not in qualname
    return DeriveFunction(
        ref,
        _source_sha(fn),
        cloudpickle.dumps(fn),
        _module_root(module),
        importable,
        also=_additions(),
    )


# -- values --


def encode(value: Any) -> tuple[Any, dict[str, Any]]:
    """Encode a derived value as JSON (and the attrs a :class:`Quantity` gave it)."""
    attrs: dict[str, Any] = {}
    if isinstance(value, Quantity):
        attrs = {k: v for k in ("units", "long_name") if (v := getattr(value, k)) is not None}
        if value.dims is not None:
            attrs["dims"] = [str(d) for d in value.dims]
        value = value.value
    return _plain(value), attrs


def _plain(v: Any) -> Any:
    import numpy as np
    import pandas as pd

    if v is None:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        f = float(v)
        return f if math.isfinite(f) else {"float": repr(f)}
    if isinstance(v, str):
        return v
    if isinstance(v, datetime | date | np.datetime64):
        text = str(np.datetime64(pd.Timestamp(v).asm8, "ns"))
        return {"datetime": None if text == "NaT" else text}
    if isinstance(v, timedelta | np.timedelta64):
        seconds = float(pd.Timedelta(v).total_seconds())
        return {"seconds": seconds if math.isfinite(seconds) else None}
    if isinstance(v, np.ndarray | list | tuple | pd.Series):
        arr = np.asarray(v)
        if arr.ndim == 0:
            return _plain(arr.item())
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"an array value must be numeric, got dtype {arr.dtype}")
        if arr.size > MAX_VALUES:
            raise TypeError(
                f"an array of {arr.size} values is not a per-run quantity (at most "
                f"{MAX_VALUES}); keep a series in a GMAT output"
            )
        flat = [None if not math.isfinite(x) else x for x in arr.astype(float).reshape(-1)]
        return {"array": flat, "shape": list(arr.shape)}
    raise TypeError(
        f"cannot store a {type(v).__name__}: return numbers, bools, strings, datetimes, "
        "timedeltas or small numeric arrays"
    )


def kind_of(encoded: Any) -> Kind | None:
    """Return the store kind, shape and Python type of an encoded value (None: missing)."""
    if encoded is None:
        return None
    if isinstance(encoded, bool):
        return ("f", (), "bool")
    if isinstance(encoded, int):
        return ("f", (), "int")
    if isinstance(encoded, float):
        return ("f", (), "float")
    if isinstance(encoded, str):
        return ("U", (), "str")
    if "float" in encoded:
        return ("f", (), "float")
    if "datetime" in encoded:
        return ("M", (), "datetime")
    if "seconds" in encoded:
        return ("f", (), "timedelta")
    return ("f", tuple(int(n) for n in encoded["shape"]), "array")


def decode(encoded: Any, kind: str) -> Any:
    """Return an encoded value as the store holds it (NaN, NaT or "" when missing)."""
    import numpy as np

    if kind == "M":
        text = encoded.get("datetime") if isinstance(encoded, dict) else None
        return np.datetime64(text or "NaT", "ns")
    if kind == "U":
        return encoded if isinstance(encoded, str) else ""
    if isinstance(encoded, dict):
        if "array" in encoded:
            values = [np.nan if x is None else x for x in encoded["array"]]
            return np.asarray(values, dtype=np.float64).reshape(encoded["shape"])
        if "float" in encoded:
            return float(encoded["float"])
        seconds = encoded.get("seconds")
        return np.nan if seconds is None else float(seconds)
    return np.nan if encoded is None else float(encoded)


def derived_row(results: Sequence[DeriveResult]) -> dict[str, Any]:
    """Return one run's derived values (decoded), ``derive_status`` and ``derive_error``."""
    row: dict[str, Any] = {}
    for result in results:
        for name, value in result.values.items():
            kind = kind_of(value)
            row[name] = float("nan") if kind is None else decode(value, kind[0])
    bad = [r for r in results if not r.ok]
    row["derive_status"] = "none" if not results else "derive-failed" if bad else "ok"
    row["derive_error"] = "; ".join(f"{r.fn}: {r.error}" for r in bad)
    return row


# -- calling them --


def check_name(name: Any) -> None:
    """Raise ``ValueError`` unless ``name`` can name a variable of the store."""
    if not isinstance(name, str) or not name or "/" in name or name.startswith("__"):
        raise ValueError(
            f"derived name {name!r}: give a non-empty string without '/' that does not "
            "start with '__'"
        )
