"""Shared set-up of the asv suites: paths, and the quick mode the test suite uses.

With ``XSWEEP_BENCH_QUICK=1`` every suite takes small parameters, so
``tests/test_benchmarks.py`` can run each benchmark once as an ordinary test
and the suites never go stale.
"""

from __future__ import annotations

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
MISSION = HERE / "missions" / "leo_day.script"
TOF = {"day": 86400.0, "60s": 60.0}
QUICK = os.environ.get("XSWEEP_BENCH_QUICK") == "1"


def pick(full: list[int], quick: list[int]) -> list[int]:
    """Return the full-size parameters, or the quick ones in quick mode."""
    return quick if QUICK else full


def sma(n: int) -> list[float]:
    """Return ``n`` semi-major axes spread over LEO, km."""
    return [6800.0 + 1200.0 * i / max(n - 1, 1) for i in range(n)]
