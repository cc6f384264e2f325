"""Outcome records: one serialiser, JSON round trip, invariants."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xsweep import OutputFile, RunOutcome
from xsweep._records import OUTPUT_KINDS, REASONS

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
outputs = st.builds(
    OutputFile,
    kind=st.sampled_from(OUTPUT_KINDS),
    name=names,
    path=names,
    rows=st.integers(0, 10**9),
)


@st.composite
def outcomes(draw: st.DrawFn) -> RunOutcome:
    failed = draw(st.booleans())
    return RunOutcome(
        status="failed" if failed else "ok",
        reason=draw(st.sampled_from(REASONS)) if failed else None,
        outputs=tuple(draw(st.lists(outputs, max_size=4))),
        started=draw(names),
        ended=draw(names),
        duration_s=draw(st.floats(0, 1e6)),
        gmat_s=draw(st.floats(0, 1e6)),
        error=draw(st.none() | names),
        log=draw(st.none() | names),
        host=draw(names),
        pid=draw(st.integers(0, 2**31)),
    )


@given(outcomes())
def test_json_round_trip(outcome: RunOutcome) -> None:
    assert RunOutcome.from_dict(json.loads(json.dumps(outcome.to_dict()))) == outcome


@given(outcomes(), st.sampled_from(["runs/run-000001", "runs/run-000002/"]))
def test_rebased_prefixes_every_path(outcome: RunOutcome, prefix: str) -> None:
    moved = outcome.rebased(prefix)
    for before, after in zip(outcome.outputs, moved.outputs, strict=True):
        assert after.path == prefix.rstrip("/") + "/" + before.path
    assert (moved.log is None) == (outcome.log is None)


def test_invariants() -> None:
    with pytest.raises(ValueError, match="no failure reason"):
        RunOutcome("ok", "timeout", (), "a", "b", 0.0)
    with pytest.raises(ValueError, match="needs a reason"):
        RunOutcome("failed", None, (), "a", "b", 0.0)
    with pytest.raises(ValueError, match="unknown status"):
        RunOutcome("done", None, (), "a", "b", 0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown output kind"):
        OutputFile.from_dict({"kind": "plot", "name": "x", "path": "p", "rows": 1})


def test_output_lookup() -> None:
    out = OutputFile("report", "RF", "report-RF.parquet", 3)
    outcome = RunOutcome("ok", None, (out,), "a", "b", 0.1)
    assert outcome.output("report", "RF") is out
    with pytest.raises(KeyError):
        outcome.output("ephemeris", "RF")
