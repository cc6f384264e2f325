"""Outcome records: one serialiser, JSON round trip, invariants."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from hypothesis import given, strategies as st

from xsweep import OutputFile, RunOutcome
from xsweep.core.records import RunRecord
from xsweep.core.vocabulary import OUTPUT_KINDS, REASONS

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


safe_paths = st.from_regex(r"[a-z][a-z0-9_-]{0,8}(/[a-z0-9_.-]{1,8}){0,2}", fullmatch=True)
gmat_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,30}", fullmatch=True)  # GMAT resources
safe_outputs = st.builds(
    OutputFile,
    kind=st.sampled_from(OUTPUT_KINDS),
    name=gmat_names,
    path=safe_paths,
    rows=st.integers(0),
)


@given(
    outcomes(),
    st.lists(safe_outputs, max_size=3),
    st.integers(0, 10**6),
    st.dictionaries(st.sampled_from(["Sat.SMA", "TOF", "Sat.INC"]), st.floats(-1e6, 1e6)),
)
def test_a_run_record_is_its_manifest_line(
    outcome: RunOutcome, outs: list[OutputFile], run_id: int, overrides: dict[str, float]
) -> None:
    outcome = dataclasses.replace(outcome, outputs=tuple(outs), log=None)
    record = RunRecord.of(
        run_id,
        (run_id, 0),
        {"sample": run_id},
        overrides,
        "ab" * 32,
        outcome,
        f"runs/run-{run_id:06d}",
    )
    line = json.dumps({"kind": "run", **record.to_dict()}, allow_nan=False)
    back = RunRecord.from_dict(json.loads(line))
    assert back == record
    assert [o.path for o in back.outcome.outputs] == [
        f"runs/run-{run_id:06d}/{o.path}" for o in outs
    ]
    assert json.dumps({"kind": "run", **back.to_dict()}, allow_nan=False) == line


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"run_id": -1}, "run_id"),
        ({"status": "ok", "reason": "crashed"}, "no failure reason"),
        ({"status": "failed", "reason": None}, "needs a reason"),
        (
            {"outputs": [{"kind": "report", "name": "RF", "path": "/etc/passwd", "rows": 1}]},
            "relative",
        ),
        ({"outputs": [{"kind": "video", "name": "RF", "path": "a", "rows": 1}]}, "output kind"),
        ({"log": "../gmat.log"}, "relative"),
        ({"index": [0.5]}, "index"),
        ({"pid": "1234"}, "pid"),
        ({"duration_s": "fast"}, "duration_s"),
    ],
)
def test_a_run_line_readers_cannot_rely_on_is_refused(change: dict[str, object], why: str) -> None:
    line = {"run_id": 3, "index": [3], "status": "ok", "reason": None, "outputs": [], **change}
    with pytest.raises(ValueError, match=why):
        RunRecord.from_dict(line)


def test_a_failed_outcome_built_outside_gmat() -> None:
    t0 = time.perf_counter()
    outcome = RunOutcome.failed("crashed", "the child died", started="2026-01-01T00:00:00", t0=t0)
    assert (outcome.status, outcome.reason, outcome.outputs) == ("failed", "crashed", ())
    assert outcome.started == "2026-01-01T00:00:00"
    assert outcome.duration_s >= 0
    now = RunOutcome.failed("exception", "boom")
    assert now.started == now.ended
    assert now.duration_s == 0.0
