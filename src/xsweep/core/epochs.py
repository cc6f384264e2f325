"""Convert datetime values to the epoch strings GMAT scripts use.

A ``Spacecraft.Epoch`` is a string whose form depends on the object's
``DateFormat``: ``'01 Jan 2026 12:00:00.000'`` for the Gregorian formats,
a day count from GMAT's Modified Julian origin (JD 2430000.0,
1941-01-05 12:00) for the ModJulian ones. The datetime is taken in the
time scale that ``DateFormat`` names (UTC, TAI, TT, TDB, A1): no scale
conversion happens here.
"""

from __future__ import annotations

import datetime as _dt
from decimal import Decimal
from typing import Any

import numpy as np

GMAT_MJD_ORIGIN = np.datetime64("1941-01-05T12:00:00", "ns")
_NS_PER_DAY = Decimal(86_400_000_000_000)
_GREGORIAN_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)


def is_datetime(value: Any) -> bool:
    """Return True for numpy datetime64 values and datetimes (pandas Timestamps too)."""
    return isinstance(value, np.datetime64 | _dt.datetime)


def to_datetime64(value: Any) -> np.datetime64:
    """Return ``value`` as a timezone-naive ``datetime64[ns]``.

    Timezone-aware datetimes are converted to UTC first.
    """
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(_dt.UTC).replace(tzinfo=None)
    out = np.datetime64(value, "ns")
    if np.isnat(out):
        raise ValueError("NaT is not an epoch")
    return out


def format_epoch(value: Any, date_format: str = "UTCGregorian") -> str:
    """Format a datetime as a GMAT epoch string for ``date_format``.

    Parameters
    ----------
    value : numpy.datetime64 or datetime.datetime
        The epoch. Gregorian output is rounded to the millisecond, the
        precision GMAT's Gregorian parser accepts.
    date_format : str
        The owning object's ``DateFormat``, e.g. ``"UTCGregorian"`` or
        ``"TAIModJulian"``.

    Examples
    --------
    >>> import numpy as np
    >>> format_epoch(np.datetime64("2026-01-01T12:00:00.0004"))
    '01 Jan 2026 12:00:00.000'
    >>> format_epoch(np.datetime64("1941-01-06T12:00"), "UTCModJulian")
    '1'
    """
    ns = to_datetime64(value)
    if date_format.endswith("ModJulian"):
        delta = int((ns - GMAT_MJD_ORIGIN).astype("timedelta64[ns]").astype(np.int64))
        days = Decimal(delta) / _NS_PER_DAY
        return format(days.normalize(), "f")
    if not date_format.endswith("Gregorian"):
        raise ValueError(f"cannot format a datetime for DateFormat {date_format!r}")
    round_up = int(ns.astype(np.int64)) % 1_000_000 >= 500_000
    ms = np.datetime64(ns, "ms") + np.timedelta64(int(round_up), "ms")
    text = str(ms)  # 'YYYY-MM-DDTHH:MM:SS.mmm'
    date, time = text.split("T")
    year, month, day = date.split("-")
    return f"{day} {_GREGORIAN_MONTHS[int(month) - 1]} {year} {time}"
