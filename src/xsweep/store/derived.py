"""Derived quantities in the store: one root variable each, over the parameter dims.

Derived values (see :mod:`xsweep.core.hooks`) are per-run numbers like ``status``
and ``duration_s``, so they sit in the root group beside them: every view
:func:`xsweep.open_sweep` gives (the one output's Dataset, a DataTree's root,
a ``group=`` Dataset) carries them, and ``ds["miss_km"].sel(...)`` just works.
An array value adds its own dims after the parameter dims. ``derive_status``
(CF flags) and ``derive_error`` say which runs' values are missing and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from xsweep.core.hooks import DERIVE_FLAGS, DeriveResult, Kind, decode, kind_of
from xsweep.core.records import RunRecord
from xsweep.store.layout import NAT, STR, Layout, lazy

# Derived values: one root variable each (``xsweep_derived`` describes them), plus a
# status and error per run; stores of sweeps that never derived have none of them.
DERIVED_ATTR = "xsweep_derived"
DERIVE_STATUS_VAR = "derive_status"
DERIVE_ERROR_VAR = "derive_error"


@dataclass
class Derived:
    """One derived quantity across the sweep: a root variable over the parameter dims."""

    name: str
    kind: str  # "f" (number), "M" (epoch) or "U" (text)
    shape: tuple[int, ...]  # an array value's own shape, () for a scalar
    fn: str  # the function that gives it
    type: str  # the Python type it came as ("float", "bool", "timedelta", "array"...)
    attrs: dict[str, Any] = field(default_factory=dict)  # units, long_name, dims

    @property
    def dims(self) -> tuple[str, ...]:
        """Names of its own dims (after the parameter dims)."""
        given = self.attrs.get("dims")
        if given is not None and len(given) == len(self.shape):
            return tuple(str(d) for d in given)
        return tuple(f"{self.name}_dim_{i}" for i in range(len(self.shape)))

    def to_dict(self) -> dict[str, Any]:
        """Describe it in the root's attributes (read back on resume)."""
        return {"kind": self.kind, "shape": list(self.shape), "fn": self.fn,
                "type": self.type, "attrs": self.attrs}  # fmt: skip

    @classmethod
    def from_dict(cls, name: str, data: Mapping[str, Any]) -> Derived:
        """Rebuild from :meth:`to_dict` output."""
        shape = tuple(int(n) for n in data["shape"])
        return cls(name, data["kind"], shape, data["fn"], data["type"], dict(data["attrs"]))


def scan_derived(records: Iterable[RunRecord]) -> dict[str, Derived]:
    """Find every derived quantity of ``records``: its kind from the first value of it."""
    found: dict[str, Derived] = {}
    for rec in records:
        for result in rec.outcome.derived:
            if not result.ok:
                continue
            for name, value in result.values.items():
                kind = kind_of(value)
                if name not in found and kind is not None:
                    attrs = dict(result.attrs.get(name, {}))
                    found[name] = Derived(name, kind[0], kind[1], result.fn, kind[2], attrs)
    return found


def derived_template(
    layout: Layout, derived: Mapping[str, Derived], *, status: bool
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Return the lazy template of derived variables (and, with ``status``, their status)."""
    shape, dims = layout.shape, layout.dims
    data: dict[str, Any] = {}
    enc: dict[str, Any] = {}
    for name, var in derived.items():
        full = (*shape, *var.shape)
        attrs = {k: v for k, v in var.attrs.items() if k in ("units", "long_name")}
        if var.type == "timedelta":
            attrs.setdefault("units", "s")
        attrs["xsweep_derive_fn"] = var.fn
        chunks = {
            "chunks": (*layout.chunks(), *var.shape),
            "shards": (*layout.shards(), *var.shape),
        }
        if var.kind == "M":
            data[name] = (
                (*dims, *var.dims),
                lazy(full, "datetime64[ns]", np.datetime64("NaT", "ns")),
                attrs,
            )
            enc[name] = {**chunks, "units": "nanoseconds since 1970-01-01", "dtype": "int64",
                         "_FillValue": NAT, "fill_value": NAT}  # fmt: skip
        elif var.kind == "U":
            data[name] = ((*dims, *var.dims), lazy(full, STR, ""), attrs)
            enc[name] = chunks
        else:
            data[name] = ((*dims, *var.dims), lazy(full, np.float64, np.nan), attrs)
            enc[name] = chunks
    if status:
        flags = {
            "flag_values": np.array(list(DERIVE_FLAGS.values()), dtype=np.int8),
            "flag_meanings": " ".join(DERIVE_FLAGS),
            "long_name": "derived values of the run: none yet, ok, or a function failed",
        }
        data[DERIVE_STATUS_VAR] = (dims, lazy(shape, np.int8, 0), flags)
        data[DERIVE_ERROR_VAR] = (dims, lazy(shape, STR, ""), {"long_name": "fn: error; ..."})
        for name in (DERIVE_STATUS_VAR, DERIVE_ERROR_VAR):
            enc[name] = {"chunks": layout.chunks(), "shards": layout.shards()}
    return xr.Dataset(data), enc


def derived_arrays(
    derived: Mapping[str, Derived],
    recs: Mapping[tuple[int, ...], RunRecord | None],
    shape: tuple[int, ...],
) -> dict[str, Any]:
    """Fill a block's derived variables and their status from its runs' records."""
    arrays: dict[str, np.ndarray] = {}
    for name, var in derived.items():
        full = (*shape, *var.shape)
        if var.kind == "M":
            arrays[name] = np.full(full, np.datetime64("NaT", "ns"))
        elif var.kind == "U":
            arrays[name] = np.full(full, "", dtype=object)
        else:
            arrays[name] = np.full(full, np.nan)
    status = np.zeros(shape, dtype=np.int8)
    error = np.full(shape, "", dtype=object)
    for pos, rec in recs.items():
        if rec is None or rec.status != "ok" or not rec.outcome.derived:
            continue
        bad = [r for r in rec.outcome.derived if not r.ok]
        status[pos] = DERIVE_FLAGS["derive-failed" if bad else "ok"]
        error[pos] = "; ".join(f"{r.fn}: {r.error}" for r in bad)
        for result in rec.outcome.derived:
            for name, value in result.values.items():
                want = derived.get(name)
                kind = kind_of(value)
                if want is None or want.fn != result.fn or kind is None or kind[1] != want.shape:
                    continue
                arrays[name][pos] = decode(value, want.kind)
    out: dict[str, Any] = {}
    for name, var in derived.items():
        values = arrays[name].astype(STR) if var.kind == "U" else arrays[name]
        out[name] = (var.dims, values)
    out[DERIVE_ERROR_VAR] = ((), error.astype(STR))
    out[DERIVE_STATUS_VAR] = ((), status)  # last: the commit mark of a block's derived values
    return out


class Schema:
    """The derived quantities of a sweep so far, set by the first value of each.

    The client checks every run's results against it as they arrive: a name
    xsweep or the space uses, a name another function gives, or a value of
    another type or shape than earlier runs' cannot go into one variable, so
    that function's result for that run is refused (``derive-failed``, the
    reason recorded) rather than the store made inconsistent.
    """

    def __init__(self, reserved: set[str], results: Iterable[DeriveResult] = ()) -> None:
        self.reserved = reserved
        self.vars: dict[str, tuple[str, Kind]] = {}
        for result in results:
            self._learn(result)

    def _learn(self, result: DeriveResult) -> None:
        if result.ok:
            for name, value in result.values.items():
                kind = kind_of(value)
                if kind is not None:
                    self.vars.setdefault(name, (result.fn, kind))

    def _refusal(self, result: DeriveResult) -> str | None:
        for name, value in result.values.items():
            if name in self.reserved:
                return f"derived name {name!r} is taken by the sweep's own variables; rename it"
            kind, seen = kind_of(value), self.vars.get(name)
            if seen is None or kind is None:
                continue
            if seen[0] != result.fn:
                return f"{name!r} is derived by {seen[0]} already; give it another name"
            numbers = {"int", "float"}  # one float64 variable: a whole-number 0 is 0.0
            if seen[1] != kind and not (
                seen[1][:2] == kind[:2] and {seen[1][2], kind[2]} <= numbers
            ):
                was, now = seen[1], kind
                return (
                    f"{name!r} is a {now[2]} of shape {now[1]} here, a {was[2]} of shape "
                    f"{was[1]} in earlier runs"
                )
        return None

    def check(self, results: Sequence[DeriveResult]) -> tuple[DeriveResult, ...]:
        """Return ``results`` with those the store cannot hold refused; learn the rest."""
        out: list[DeriveResult] = []
        for result in results:
            why = self._refusal(result) if result.ok else None
            if why is not None:
                result = result.failed(f"ValueError: {why}")
            self._learn(result)
            out.append(result)
        return tuple(out)
