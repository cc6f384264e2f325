"""One definition of the execution keywords: the API's signatures, the CLI's flags, the checks."""

from __future__ import annotations

import inspect

import pytest

import xsweep as xs
from xsweep.cli.flags import API_ONLY, DERIVE_KEYWORDS, EXECUTION_FLAGS
from xsweep.core.errors import ConfigError
from xsweep.core.options import (
    RESUME_DEFAULTS,
    RUN_DEFAULTS,
    Execution,
    ExecutionOptions,
    ResumeExecution,
)


def test_every_execution_keyword_has_a_flag_or_is_api_only() -> None:
    keywords = set(Execution.__annotations__)
    assert set(EXECUTION_FLAGS) | API_ONLY == keywords
    assert not set(EXECUTION_FLAGS) & API_ONLY
    assert set(DERIVE_KEYWORDS) <= keywords


@pytest.mark.parametrize(
    ("fn", "keywords"),
    [(xs.run, Execution), (xs.extend, Execution), (xs.resume, ResumeExecution)],
)
def test_signatures_spell_out_the_keywords(fn: object, keywords: type) -> None:
    params = inspect.signature(fn).parameters  # type: ignore[arg-type]
    for name in keywords.__annotations__:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def test_run_defaults_show_in_its_signature() -> None:
    params = inspect.signature(xs.run).parameters
    for name, default in RUN_DEFAULTS.items():
        assert params[name].default == default, name


def test_resume_has_no_reuse_keywords() -> None:
    params = inspect.signature(xs.resume).parameters
    assert "reuse" not in params
    assert "reuse_from" not in params
    with pytest.raises(TypeError, match="resume\\(\\) got an unexpected keyword argument 'reuse'"):
        ExecutionOptions.of({"reuse": "content"}, defaults=RESUME_DEFAULTS, caller="resume")


def test_an_unknown_keyword_is_a_type_error(tmp_path: object) -> None:
    with pytest.raises(TypeError, match="run\\(\\) got an unexpected keyword argument 'wokers'"):
        xs.run("nowhere.script", xs.grid({"Sat.SMA": [7000.0]}), out=tmp_path, wokers=2)  # type: ignore[call-arg]


@pytest.mark.parametrize("workers", [0, -1, True, 1.5, "2"])
def test_bad_workers_are_refused(workers: object) -> None:
    with pytest.raises(ConfigError, match="workers must be a positive integer"):
        ExecutionOptions.of({"workers": workers}, defaults=RUN_DEFAULTS, caller="run")


def test_reuse_from_needs_reuse() -> None:
    with pytest.raises(ConfigError, match="needs reuse='content'"):
        ExecutionOptions.of({"reuse_from": ["a/"]}, defaults=RUN_DEFAULTS, caller="run")


def test_options_record_what_was_given() -> None:
    ex = ExecutionOptions.of({"retries": 2, "timeout": 30.0}, defaults=RUN_DEFAULTS, caller="run")
    recorded = ex.options().to_dict()
    assert recorded["retries"] == 2
    assert recorded["timeout"] == 30.0
