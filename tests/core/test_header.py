"""The typed manifest header: read once, written back byte for byte, defaults for old headers."""

from __future__ import annotations

import json

from _helpers import DATA
from xsweep.core.header import ManifestHeader
from xsweep.core.records import RunOutcome, RunRecord


def _old_header() -> tuple[bytes, dict[str, object]]:
    line = (DATA / "v1" / "sweep" / "manifest.jsonl").read_bytes().splitlines()[0]
    return line, json.loads(line)


def test_an_old_header_reads_and_writes_back_the_same_bytes() -> None:
    line, raw = _old_header()
    header = ManifestHeader.from_json(raw)
    assert json.dumps(header.to_json(), allow_nan=False).encode() == line
    assert header.sweep_id == raw["sweep_id"]
    assert header.script.name == raw["script"]["name"]  # type: ignore[index]
    assert header.engine.kind == raw["engine"]["kind"]  # type: ignore[index]
    assert dict(header) == raw  # the mapping reads the JSON object as it was


def test_a_minimal_header_takes_the_defaults() -> None:
    header = ManifestHeader.from_json({"kind": "header", "sweep_id": "abc"})
    assert header.schema_version == 1
    assert header.script.name is None
    assert header.script.files == ()
    assert header.variants == {}
    assert header.engine.kind is None
    assert header.options == {}
    assert header.n_runs == 0


def test_malformed_objects_are_empty_records_not_crashes() -> None:
    raw = {"sweep_id": "x", "script": "not an object", "scripts": [1, 2], "engine": 7}
    header = ManifestHeader.from_json({**raw, "options": None})
    assert header.script.name is None
    assert header.variants == {}
    assert header.engine.kind is None
    assert header.options == {}


def test_attempts_and_reused_read_old_run_lines() -> None:
    lines = (DATA / "v1" / "sweep" / "manifest.jsonl").read_bytes().splitlines()[1:]
    outcomes = [RunRecord.from_dict(json.loads(line)).outcome for line in lines]
    for outcome in outcomes:
        assert outcome.attempts == outcome.extra.get("attempts")
        assert outcome.reused is None
    noted = outcomes[0].noting(attempts=3, reused={"sweep_id": "s", "run_id": 1})
    assert noted.attempts == 3
    assert noted.reused == {"sweep_id": "s", "run_id": 1}
    again = RunOutcome.from_dict(noted.to_dict())
    assert again.attempts == 3
    assert again.reused == {"sweep_id": "s", "run_id": 1}
