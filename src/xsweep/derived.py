"""Built-in derive functions: the per-run numbers every analyst otherwise writes by hand.

Each factory returns a derive function for :func:`xsweep.run`'s ``derive=``
(and :func:`xsweep.resume`, :func:`xsweep.extend`, :func:`xsweep.derive`);
its recipe is recorded in the manifest, so a later resume rebuilds it by
name. ``output`` names a GMAT output (``"RF"``); it may be left out when the
run has one output. A report's first epoch column is its time axis.

>>> import xsweep as xs
>>> low = xs.derived.minimum("Sat.Earth.Altitude", output="RF")
>>> low.xsweep_builtin
{'name': 'minimum', 'params': {'column': 'Sat.Earth.Altitude', 'output': 'RF'}}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Quantity", "at_epoch", "delta_v", "final", "first_crossing", "maximum", "minimum"]


@dataclass(frozen=True)
class Quantity:
    """A derived value with its units (and a description) for the store's attributes.

    Parameters
    ----------
    value : scalar or array
        The value (a float, int, bool, str, datetime, timedelta, or a small
        numeric array).
    units : str, optional
        CF-style units, e.g. ``"km/s"``.
    long_name : str, optional
        A description.
    dims : tuple of str, optional
        Names of an array value's own dims (default ``<name>_dim_0``...).

    Examples
    --------
    >>> import xsweep as xs
    >>> xs.Quantity(3.2, "km/s", "total delta-V").units
    'km/s'
    """

    value: Any
    units: str | None = None
    long_name: str | None = None
    dims: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Builtin:
    """A built-in derive function: a recipe (its factory's name and arguments), callable.

    Attributes
    ----------
    name : str
        The factory in :mod:`xsweep.derived` (``"final"``...).
    params : tuple of (str, value)
        Its arguments, JSON-safe (the manifest records them).
    """

    name: str
    params: tuple[tuple[str, Any], ...]

    @property
    def xsweep_builtin(self) -> dict[str, Any]:
        """The recipe the manifest records (and a resume rebuilds it from)."""
        return {"name": self.name, "params": dict(self.params)}

    def __call__(self, outputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        """Derive this run's values from its ``outputs``."""
        return _IMPLS[self.name](outputs, **dict(self.params))


def _recipe(name: str, **params: Any) -> Builtin:
    return Builtin(name, tuple((k, list(v) if isinstance(v, tuple) else v)
                               for k, v in params.items()))  # fmt: skip


def final(output: str | None = None, columns: Sequence[str] | None = None) -> Builtin:
    """Derive each column's value in the output's last row, as ``<column>_final``.

    Parameters
    ----------
    output : str, optional
        The GMAT output (``"RF"``); the run's only one by default.
    columns : sequence of str, optional
        The columns (default: all).

    Returns
    -------
    Builtin
        A derive function.
    """
    return _recipe("final", output=output, columns=None if columns is None else list(columns))


def minimum(column: str, output: str | None = None) -> Builtin:
    """Derive a column's least value (``<column>_min``) and when it occurs (``<column>_min_time``).

    Closest approach, minimum altitude: the time is the row's epoch (no
    interpolation between rows). NaN rows are skipped.

    Parameters
    ----------
    column : str
        A numeric column of the output.
    output : str, optional
        The GMAT output; the run's only one by default.

    Returns
    -------
    Builtin
    """
    return _recipe("minimum", column=column, output=output)


def maximum(column: str, output: str | None = None) -> Builtin:
    """Derive a column's greatest value (``<column>_max``) and when (``<column>_max_time``).

    Parameters
    ----------
    column : str
        A numeric column of the output.
    output : str, optional
        The GMAT output; the run's only one by default.

    Returns
    -------
    Builtin
    """
    return _recipe("maximum", column=column, output=output)


def at_epoch(epoch: str | float, columns: Sequence[str], output: str | None = None) -> Builtin:
    """Derive columns' values at an epoch, linearly interpolated between rows (``<column>_at``).

    Parameters
    ----------
    epoch : str or float
        An ISO UTC epoch (``"2026-01-01T13:00:00"``), or seconds after the
        output's first row. Outside the output's span the value is NaN.
    columns : sequence of str
        Numeric columns of the output.
    output : str, optional
        The GMAT output; the run's only one by default.

    Returns
    -------
    Builtin
    """
    return _recipe("at_epoch", epoch=epoch, columns=list(columns), output=output)


def first_crossing(
    column: str,
    threshold: float,
    direction: Literal["either", "up", "down"] = "either",
    output: str | None = None,
) -> Builtin:
    """Derive when a column first crosses ``threshold``, interpolated between rows.

    Gives ``<column>_crossing`` (the epoch; NaT if it never crosses) and
    ``<column>_crossing_s`` (seconds after the first row; NaN if never).

    Parameters
    ----------
    column : str
        A numeric column of the output.
    threshold : float
        The level.
    direction : {"either", "up", "down"}
        Crossing upward (the value rises through it), downward, or either.
    output : str, optional
        The GMAT output; the run's only one by default.

    Returns
    -------
    Builtin
    """
    if direction not in ("either", "up", "down"):
        raise ValueError(f"direction must be 'either', 'up' or 'down', got {direction!r}")
    return _recipe(
        "first_crossing", column=column, threshold=float(threshold), direction=direction,
        output=output,
    )  # fmt: skip


def delta_v(output: str | None = None) -> Builtin:
    """Derive the total delta-V of a run's impulsive burns from their reported components.

    Finds the output's ``<Burn>.Element1``/``2``/``3`` columns (an
    ImpulsiveBurn's delta-V components, as a targeting sequence leaves them
    in the last row), gives each burn's magnitude (``<Burn>.delta_v``) and
    their sum (``delta_v_total``), in km/s.

    Parameters
    ----------
    output : str, optional
        The GMAT output; the run's only one by default.

    Returns
    -------
    Builtin
    """
    return _recipe("delta_v", output=output)


# -- what they compute --


def _frame(outputs: Mapping[str, Any], output: str | None) -> Any:
    if output is None:
        if len(outputs) != 1:
            raise KeyError(f"name the output: this run has {sorted(outputs)}")
        output = next(iter(outputs))
    frame = outputs[output]
    if len(frame) == 0:
        raise ValueError(f"output {output!r} has no rows")
    return frame


def _column(frame: Any, column: str) -> Any:
    if column not in frame.columns:
        raise KeyError(f"no column {column!r}; the output has {list(frame.columns)}")
    return frame[column]


def _epoch(frame: Any) -> Any:
    """Return the first epoch column as int64 nanoseconds, or None."""
    for name in frame.columns:
        if frame[name].dtype.kind == "M":
            return frame[name].to_numpy().astype("datetime64[ns]")
    return None


def _final(
    outputs: Mapping[str, Any], output: str | None, columns: list[str] | None
) -> dict[str, Any]:
    frame = _frame(outputs, output)
    names = list(frame.columns) if columns is None else columns
    return {f"{c}_final": _with_units(c, _column(frame, c).iloc[-1]) for c in names}


def _with_units(column: str, value: Any) -> Any:
    """Return ``value`` as a :class:`Quantity` carrying ``column``'s units, when known."""
    unit = units(column)
    return value if unit is None else Quantity(value, unit)


def _extreme(
    outputs: Mapping[str, Any], column: str, output: str | None, which: str
) -> dict[str, Any]:
    import numpy as np

    frame = _frame(outputs, output)
    values = _column(frame, column).to_numpy(dtype=float)
    if np.isnan(values).all():
        raise ValueError(f"{column!r} has no values")
    i = int(np.nanargmin(values) if which == "min" else np.nanargmax(values))
    out: dict[str, Any] = {f"{column}_{which}": _with_units(column, values[i])}
    t = _epoch(frame)
    if t is not None:
        out[f"{column}_{which}_time"] = t[i]
    return out


def _at_epoch(
    outputs: Mapping[str, Any], epoch: str | float, columns: list[str], output: str | None
) -> dict[str, Any]:
    import numpy as np

    frame = _frame(outputs, output)
    t = _epoch(frame)
    if t is None:
        raise ValueError("the output has no epoch column")
    ns = (t - t[0]).astype(np.int64).astype(float)
    if isinstance(epoch, int | float):
        at = float(epoch) * 1e9
    else:
        at = float((np.datetime64(str(epoch).replace("Z", ""), "ns") - t[0]).astype(np.int64))
    out = {}
    for c in columns:
        y = _column(frame, c).to_numpy(dtype=float)
        out[f"{c}_at"] = _with_units(c, float(np.interp(at, ns, y, left=np.nan, right=np.nan)))
    return out


def _first_crossing(
    outputs: Mapping[str, Any], column: str, threshold: float, direction: str, output: str | None
) -> dict[str, Any]:
    import numpy as np

    frame = _frame(outputs, output)
    t = _epoch(frame)
    if t is None:
        raise ValueError("the output has no epoch column")
    y = _column(frame, column).to_numpy(dtype=float) - threshold
    s = (t - t[0]).astype(np.int64) / 1e9
    a, b = y[:-1], y[1:]
    up = (a < 0) & (b >= 0)
    down = (a > 0) & (b <= 0)
    hits = {"up": up, "down": down, "either": up | down}[direction]
    seconds = np.nan
    if y[0] == 0:
        seconds = 0.0
    elif hits.any():
        i = int(np.argmax(hits))
        seconds = float(s[i] + (0 - a[i]) / (b[i] - a[i]) * (s[i + 1] - s[i]))
    when = (
        t[0] + np.timedelta64(round(seconds * 1e9), "ns")
        if np.isfinite(seconds)
        else np.datetime64("NaT", "ns")
    )
    return {
        f"{column}_crossing": when,
        f"{column}_crossing_s": Quantity(
            seconds, "s", f"seconds until {column} crosses {threshold}"
        ),
    }


def _delta_v(outputs: Mapping[str, Any], output: str | None) -> dict[str, Any]:
    import math

    frame = _frame(outputs, output)
    burns: dict[str, list[float]] = {}
    for name in frame.columns:
        burn, _, element = str(name).rpartition(".")
        if burn and element in ("Element1", "Element2", "Element3"):
            burns.setdefault(burn, []).append(float(frame[name].iloc[-1]))
    if not burns:
        raise ValueError(f"no burn columns (<Burn>.Element1...) among {list(frame.columns)}")
    out: dict[str, Any] = {}
    for burn, parts in burns.items():
        out[f"{burn}.delta_v"] = Quantity(math.sqrt(sum(p * p for p in parts)), "km/s")
    total = sum(q.value for q in out.values())
    out["delta_v_total"] = Quantity(total, "km/s", "total impulsive delta-V")
    return out


_IMPLS: dict[str, Callable[..., dict[str, Any]]] = {
    "final": _final,
    "minimum": lambda outputs, column, output: _extreme(outputs, column, output, "min"),
    "maximum": lambda outputs, column, output: _extreme(outputs, column, output, "max"),
    "at_epoch": _at_epoch,
    "first_crossing": _first_crossing,
    "delta_v": _delta_v,
}
# The recipes a manifest may name: a resume rebuilds these, and nothing else, from a sweep.
BUILTINS = frozenset(_IMPLS)


# Units of GMAT parameters, by the last part of a column name.
_UNITS = {
    **dict.fromkeys(("X", "Y", "Z", "SMA", "RMAG", "Altitude", "RadApo", "RadPer"), "km"),
    **dict.fromkeys(("VX", "VY", "VZ", "VMAG"), "km/s"),
    **dict.fromkeys(("INC", "RAAN", "AOP", "TA", "MA", "EA", "Latitude", "Longitude"), "deg"),
    "ElapsedSecs": "s",
    "ElapsedDays": "day",
    "Duration": "s",
}


def units(column: str) -> str | None:
    """Return the units of a GMAT parameter column, by its last part, if known.

    >>> from xsweep.derived import units
    >>> units("Sat.Earth.Altitude"), units("Sat.Cd")
    ('km', None)
    """
    return _UNITS.get(column.rsplit(".", 1)[-1])
