from __future__ import annotations

import json
import os

import pytest
from _harness import DOCS_FIGURES, SUMMARY, render


@pytest.fixture(scope="session", autouse=True)
def fresh_summary() -> None:
    """Each run of the suite writes its own summary, of the cases it ran."""
    SUMMARY.unlink(missing_ok=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Refresh the docs page's figures from a passing run (XSWEEP_RELIABILITY_DOCS=1)."""
    if os.environ.get("XSWEEP_RELIABILITY_DOCS") != "1" or exitstatus != 0:
        return
    if SUMMARY.exists():
        DOCS_FIGURES.write_text(render(json.loads(SUMMARY.read_text())))
