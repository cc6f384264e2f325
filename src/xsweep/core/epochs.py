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
import re
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


_GREGORIAN = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$")
EPOCH_FORMS = (
    "a numpy.datetime64 or datetime, an ISO string ('2026-01-01T12:00:00'), GMAT's "
    "Gregorian text ('01 Jan 2026 12:00:00.000') or a ModJulian day count (27000.5, "
    "days from GMAT's origin 1941-01-05 12:00)"
)


def is_epoch_field(path: str) -> bool:
    """Return True for a field GMAT reads as an epoch (``Sat.Epoch``)."""
    return path.rsplit(".", 1)[-1] == "Epoch"


def _mjd(days: Any) -> np.datetime64:
    ns = Decimal(str(days)) * _NS_PER_DAY
    return GMAT_MJD_ORIGIN + np.timedelta64(int(ns), "ns")


def parse_epoch(value: Any) -> np.datetime64 | Decimal | None:
    """Read an epoch as a datetime64, or a ModJulian day count as a Decimal; None if neither.

    Examples
    --------
    >>> parse_epoch("01 Jan 2026 12:00:00.000")
    np.datetime64('2026-01-01T12:00:00.000000000')
    >>> parse_epoch("2026-01-01T12:00")
    np.datetime64('2026-01-01T12:00:00.000000000')
    >>> parse_epoch(27000.5), parse_epoch("tomorrow")
    (Decimal('27000.5'), None)
    """
    if isinstance(value, bool | np.bool_):
        return None
    if is_datetime(value):
        return to_datetime64(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return Decimal(str(value)) if np.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _GREGORIAN.match(text):
        try:
            when = _dt.datetime.strptime(text.partition(".")[0], "%d %b %Y %H:%M:%S")
        except ValueError:
            return None
        fraction = text.partition(".")[2]
        return np.datetime64(when, "ns") + np.timedelta64(int(fraction.ljust(9, "0") or 0), "ns")
    try:
        return Decimal(text) if Decimal(text).is_finite() else None
    except ArithmeticError:
        pass
    try:
        return to_datetime64(np.datetime64(text))
    except ValueError:
        return None


def epoch_text(value: Any, date_format: str) -> str:
    """Return ``value`` as the epoch text GMAT reads for ``date_format``.

    A Gregorian text for a Gregorian format and a day count for a ModJulian
    one are passed through unchanged; any other form is converted (no time
    scale conversion: the value is taken in the scale ``date_format`` names).

    Raises
    ------
    ValueError
        ``value`` is not an epoch; the message lists the forms that are.

    Examples
    --------
    >>> epoch_text("2026-01-01T12:00:00", "UTCGregorian")
    '01 Jan 2026 12:00:00.000'
    >>> epoch_text(21545.0, "UTCGregorian")  # J2000 in GMAT's day count
    '01 Jan 2000 12:00:00.000'
    >>> epoch_text("01 Jan 2026 12:00:00.000", "TAIModJulian")
    '31042'
    """
    parsed = parse_epoch(value)
    if parsed is None:
        raise ValueError(f"{value!r} is not an epoch; give {EPOCH_FORMS}")
    gregorian = date_format.endswith("Gregorian")
    text = value.strip() if isinstance(value, str) else None
    if text is not None and (_GREGORIAN.match(text) if gregorian else isinstance(parsed, Decimal)):
        return text
    if isinstance(parsed, Decimal) and not gregorian:
        return format(parsed.normalize(), "f")
    try:
        return format_epoch(_mjd(parsed) if isinstance(parsed, Decimal) else parsed, date_format)
    except (OverflowError, ValueError, ArithmeticError) as exc:  # past datetime64[ns]'s range
        raise ValueError(
            f"{value!r} as a {date_format} epoch is outside the years 1678-2262 "
            f"this conversion holds ({exc})"
        ) from None
