"""Datetime to GMAT epoch strings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, strategies as st

from xsweep.core.epochs import format_epoch


def test_gregorian_formats() -> None:
    assert format_epoch(np.datetime64("2026-01-01T12:00:00")) == "01 Jan 2026 12:00:00.000"
    assert format_epoch(dt.datetime(2026, 3, 5, 1, 2, 3, 456789)) == "05 Mar 2026 01:02:03.457"
    assert format_epoch(pd.Timestamp("2030-12-31T23:59:59.9995")) == "01 Jan 2031 00:00:00.000"
    aware = dt.datetime(2026, 1, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert format_epoch(aware, "TAIGregorian") == "01 Jan 2026 12:00:00.000"


def test_modjulian_matches_gmat_origin() -> None:
    # GMAT's MJD origin is JD 2430000.0 = 1941-01-05 12:00.
    assert format_epoch(np.datetime64("1941-01-05T12:00"), "UTCModJulian") == "0"
    assert format_epoch(np.datetime64("1941-01-06T00:00"), "A1ModJulian") == "0.5"
    # 21545 is GMAT's J2000 epoch in its MJD convention.
    assert format_epoch(np.datetime64("2000-01-01T12:00"), "TTModJulian") == "21545"


@given(st.datetimes(min_value=dt.datetime(1950, 1, 1), max_value=dt.datetime(2100, 1, 1)))
def test_modjulian_round_trips_to_the_nanosecond(value: dt.datetime) -> None:
    days = Decimal(format_epoch(value, "UTCModJulian"))
    ns = int((days * 86_400_000_000_000).to_integral_value())
    origin = np.datetime64("1941-01-05T12:00", "ns").astype(np.int64)
    assert origin + ns == np.datetime64(value, "ns").astype(np.int64)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="NaT"):
        format_epoch(np.datetime64("NaT", "ns"))
    with pytest.raises(ValueError, match="cannot format"):
        format_epoch(np.datetime64("2026-01-01"), "Keplerian")


def test_a_day_count_past_the_datetime_range_is_refused_with_the_range() -> None:
    from xsweep.core.epochs import epoch_text

    with pytest.raises(ValueError, match="outside the years 1678-2262"):
        epoch_text(106752.0, "UTCGregorian")  # 2233 in days, past int64 nanoseconds
    assert epoch_text(106752.0, "TAIModJulian") == "106752"  # a day count stays one
    assert epoch_text(21545.0, "UTCGregorian") == "01 Jan 2000 12:00:00.000"
