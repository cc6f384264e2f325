"""An output's summary, built in the child, against the same computed from stored histories."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from xsweep.cli.flags import keep as parse_keep
from xsweep.core.errors import ConfigError
from xsweep.core.keep import Keep, check_keep, picked, recorded_keep
from xsweep.core.records import OutputFile, OutputSummary, RunOutcome
from xsweep.gmat.outputs import arrow_table
from xsweep.gmat.summary import summarize as child_summary
from xsweep.store.summaries import summarize as store_summary

T0 = np.datetime64("2026-01-01T00:00:00", "ns")


def frames() -> list[pd.DataFrame]:
    """Two runs of one report: NaNs inside, a tie for the minimum, an all-NaN column, text."""
    a = pd.DataFrame(
        {
            "Sat.UTCGregorian": T0 + np.arange(5) * np.timedelta64(60, "s"),
            "Alt": [400.0, np.nan, 350.0, 350.0, 420.0],
            "Flag": [True, False, True, True, False],
            "Gap": [np.nan] * 5,
            "Dt": pd.to_timedelta([0, 1, 2, 3, 4], unit="s"),
            "Note": ["a", "b", "c", "d", "e"],
        }
    )
    b = a.iloc[:3].copy()
    b["Alt"] = [np.nan, 300.0, np.nan]  # ends on NaN: the final value is NaN
    return [a, b]


def stored(frames_: list[pd.DataFrame]) -> xr.Dataset:
    """The runs as the store holds them: padded over ``step``, epochs as ``time``."""
    n = max(len(f) for f in frames_)

    def pad(values: np.ndarray, fill: object) -> np.ndarray:
        return np.concatenate([values, np.full(n - len(values), fill, dtype=values.dtype)])

    data = {}
    for column in frames_[0].columns:
        name = "time" if column == "Sat.UTCGregorian" else column
        rows = []
        for f in frames_:
            v = f[column].to_numpy()
            if v.dtype.kind == "m":
                v = v.astype("timedelta64[ns]").astype(np.int64) / 1e9
            elif v.dtype.kind in "bif":
                v = v.astype(np.float64)
            fill = (
                np.datetime64("NaT", "ns")
                if v.dtype.kind == "M"
                else ("" if v.dtype == object else np.nan)
            )
            rows.append(pad(v, fill))
        data[name] = (("run", "step"), np.stack(rows))
    return xr.Dataset(data)


def test_the_childs_summary_equals_the_one_computed_from_the_store() -> None:
    runs = frames()
    ds = stored(runs)
    kinds = {"Sat.UTCGregorian": "M", "Alt": "f", "Flag": "f", "Gap": "f", "Dt": "m", "Note": "U"}
    names = {c: ("time" if c == "Sat.UTCGregorian" else c) for c in kinds}
    computed = store_summary(ds, kinds, names, "Sat.UTCGregorian", "step").compute()
    for i, frame in enumerate(runs):
        s = child_summary(arrow_table(frame), timed=True)
        assert s.kinds == "MfffmU"
        # Through JSON, as the manifest carries it.
        s = OutputSummary.from_dict(json.loads(json.dumps(s.to_dict())))
        for j, column in enumerate(s.columns):
            name = names[column]
            got = computed[name].isel(run=i).values
            for k, stat in enumerate((s.final, s.min, s.max)):
                want = stat[j]
                if kinds[column] == "M":
                    assert got[k] == (
                        np.datetime64("NaT") if want is None else np.datetime64(want, "ns")
                    )
                elif kinds[column] == "U":
                    assert got[k] == ("" if want is None else want)
                elif want is None:
                    assert np.isnan(got[k])
                else:
                    assert got[k] == want  # bit for bit: the same float
            if f"{name}_time" in computed and s.min_at[j] is not None:
                at = computed[f"{name}_time"].isel(run=i).values
                assert at[1] == np.datetime64(s.min_at[j], "ns")
                assert at[2] == np.datetime64(s.max_at[j], "ns")
    a = child_summary(arrow_table(runs[0]), timed=True)
    alt = a.columns.index("Alt")
    assert (a.final[alt], a.min[alt], a.max[alt]) == (420.0, 350.0, 420.0)
    assert a.min_at[alt] == int(
        (T0 + np.timedelta64(120, "s")).astype(np.int64)
    )  # first of the tie
    assert a.min[a.columns.index("Gap")] is None
    assert child_summary(arrow_table(runs[1]), timed=True).final[alt] is None


def test_a_summary_and_kept_travel_through_a_manifest_line() -> None:
    s = child_summary(arrow_table(frames()[0]), timed=True)
    outcome = RunOutcome("ok", None, (OutputFile("report", "RF", "report-RF.parquet", 5, "ab", s),),
                         "t0", "t1", 0.1, kept=False)  # fmt: skip
    again = RunOutcome.from_dict(json.loads(json.dumps(outcome.to_dict(), allow_nan=False)))
    assert again == outcome
    assert "kept" not in RunOutcome.from_dict({**outcome.to_dict(), "kept": True}).to_dict()
    bad = s.to_dict() | {"min": [1.0]}
    with pytest.raises(ValueError, match="one value a column"):
        OutputSummary.from_dict(bad)
    with pytest.raises(ValueError, match="kinds"):
        OutputSummary.from_dict(s.to_dict() | {"kinds": "xxxxxx"})


def test_keep_is_checked_recorded_and_parsed() -> None:
    assert not check_keep("all").tiered
    policy = check_keep(Keep(every=10, fraction=0.25, seed=3))
    assert recorded_keep(json.loads(json.dumps(policy.to_dict()))) == policy
    assert [policy.upfront(i) for i in (0, 10)] == [True, True]
    share = np.mean([picked(3, i) < 0.25 for i in range(20_000)])
    assert abs(share - 0.25) < 0.02  # a uniform draw per run id
    assert picked(3, 17) == picked(3, 17) != picked(4, 17)
    for bad in ({"every": 0}, {"fraction": 1.5}, {"seed": -1}, {"where": 3}):
        with pytest.raises(ConfigError):
            Keep(**bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="keep must be"):
        check_keep("some")
    assert parse_keep("summary") == "summary"
    assert parse_keep("summary,every=4,fraction=0.1,seed=2") == Keep(every=4, fraction=0.1, seed=2)
    assert parse_keep("summary,failed=no") == Keep(failed=False)
    for text in ("summary,evry=2", "all,every=2", "summary,every=0"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_keep(text)
    summary_only = check_keep(Keep(failed=False))
    assert summary_only.upfront(5) is False
    assert check_keep("summary").upfront(5) is None  # failed or not: known once it ran
