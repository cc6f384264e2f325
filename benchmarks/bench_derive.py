"""The derive step's cost per run: one request to a warm GMAT child, as a sweep makes it.

A run's derive functions run in the GMAT child that ran it (``execute_run``:
``child.derive(...)`` after ``child.run(...)``). What the hook adds to a run
is that round trip: pickling the request, the pipe, the child calling the
functions and encoding their values, the reply, plus the client's check of
the values. Measured on a synthetic run directory (one 835-row report, the
1-day mission's shape) with a trivial function (reads no output) and one that
reads the report. ``python -m benchmarks.bench_derive`` prints milliseconds
per run, medians of 5 x 200 calls.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from xsweep.core.hooks import DeriveFunction, resolve
from xsweep.gmat.child import DeriveRequest, GmatChild
from xsweep.store.derived import Schema
from xsweep.testing.synthetic import make_sweep

from ._common import pick

ROWS = 835  # the 1-day mission's report


def _trivial(outputs: Any, params: Any) -> dict[str, Any]:
    return {"one": 1.0}


def _reads(outputs: Any, params: Any) -> dict[str, Any]:
    return {"alt_min": float(outputs["RF"]["Sat.Earth.Altitude"].min())}


def _setup() -> tuple[Path, GmatChild]:
    path = Path(tempfile.mkdtemp(prefix="xsweep-bench-derive-"))
    make_sweep(path / "s", 1, ROWS)
    return path, GmatChild()


def _request(path: Path, fn: Any) -> tuple[DeriveRequest, tuple[DeriveFunction, ...]]:
    functions = resolve(fn)
    paths = {"RF": "runs/run-000000/report-RF.parquet"}
    return DeriveRequest(str(path / "s"), paths, {"Sat.SMA": 7000.0}, functions), functions


class DeriveOverhead:
    """One run's derive step on a warm child: a trivial function, and one reading the report."""

    params = (["trivial", "reads-report"],)
    param_names = ("function",)
    number = pick([50], [2])[0]
    repeat = 5

    def setup(self, function: str) -> None:
        self.path, self.child = _setup()
        fn = _trivial if function == "trivial" else _reads
        self.request, _ = _request(self.path, fn)
        self.schema = Schema(set())
        self.child.derive(self.request)  # the function loaded once, as a sweep's first run

    def teardown(self, function: str) -> None:
        self.child.close()
        shutil.rmtree(self.path, ignore_errors=True)

    def time_derive_step(self, function: str) -> None:
        self.schema.check(self.child.derive(self.request))


def main() -> None:
    """Print the derive step's milliseconds per run, trivial and reading the report."""
    path, child = _setup()
    try:
        for name, fn in (("trivial", _trivial), ("reads the report", _reads)):
            request, _ = _request(path, fn)
            schema = Schema(set())
            child.derive(request)
            medians = []
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(200):
                    schema.check(child.derive(request))
                medians.append((time.perf_counter() - t0) / 200 * 1e3)
            print(f"derive step, {name}: {statistics.median(medians):.3f} ms per run "
                  f"(5 x 200 calls: {', '.join(f'{m:.3f}' for m in medians)})")  # fmt: skip
    finally:
        child.close()
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
