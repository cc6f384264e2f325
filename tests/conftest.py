from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import dask
import pytest
from distributed import Client, LocalCluster
from hypothesis import HealthCheck, settings

import xsweep as xs
from _helpers import MISSIONS
from xsweep.execute.cluster import QUIET_CLUSTER

# The Ctrl-C tests signal their children as a terminal does. A suite started in the
# background of a non-interactive shell inherits SIGINT ignored, and every child would too
# (Python keeps an ignored SIGINT ignored). A handler here is reset to the default in each
# child at exec, as in a terminal job.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# CI draws the same inputs every run (derandomize): a fuzz case's "some inputs worked" check
# must not hinge on the day's luck; the dev profile explores new inputs each time.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# The reliability suite's summary: one file per pytest-xdist worker (tests/reliability/_harness).
RELIABILITY = Path(__file__).resolve().parent / "reliability"


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # a pytest-xdist worker, not the run itself


# The longest test starts first: on two workers the rest of the suite runs beside it,
# not after it (it is a third of the suite's wall time on its own).
FIRST = ("test_ten_thousand_runs_with_flat_client_memory",)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Put :data:`FIRST` at the front (a stable sort: every worker collects the same order)."""
    items.sort(key=lambda item: item.name not in FIRST)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Each run of the suite writes its own reliability summary, of the cases it ran."""
    if not _is_worker(session.config):
        for path in (RELIABILITY / "out").glob("summary*.json"):
            path.unlink()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Refresh the reliability page's figures from a passing run (XSWEEP_RELIABILITY_DOCS=1).

    Only the run's own process does it, once every worker has finished.
    """
    if os.environ.get("XSWEEP_RELIABILITY_DOCS") != "1" or exitstatus != 0:
        return
    if _is_worker(session.config) or not any((RELIABILITY / "out").glob("summary-*.json")):
        return
    if str(RELIABILITY) not in sys.path:  # the controller of -n N collects nothing itself
        sys.path.insert(0, str(RELIABILITY))
    from _harness import DOCS_FIGURES, merged_summary, render

    DOCS_FIGURES.write_text(render(merged_summary()))


@pytest.fixture(scope="session")
def client() -> Iterator[Client]:
    """A two-worker Dask cluster (worker processes), shared by every test that runs on one.

    One a pytest-xdist worker: each start costs seconds. A test must leave it as it found it.
    Quiet as the clusters xsweep starts: idle, Dask's defaults cost each worker ~7% of a
    core for the whole suite.
    """
    with (
        dask.config.set(QUIET_CLUSTER),
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="session")
def drag_sweep(tmp_path_factory: pytest.TempPathFactory) -> xs.Sweep:
    """A finished 3 x 2 grid over the drag mission (run 0 fails: 6200 km is inside the Earth).

    Shared by every test that only reads it; a test that changes a sweep copies it first.
    """
    space = xs.grid({"Sat.SMA": [6200.0, 7000.0, 7100.0], "TOF": [600, 1200]})
    out = tmp_path_factory.mktemp("drag") / "s"
    return xs.run(MISSIONS / "leo_drag.script", space, out=out, workers=2, progress=False)


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A consolidated synthetic Monte Carlo sweep: 60 runs (run 49 failed), no GMAT, read-only.

    ``xsweep.testing.synthetic`` writes what a sweep writes; the store, manifest and
    analysis tests that need no GMAT read it (``pytest -m "not gmat"``, the inner loop).
    """
    from xsweep.testing.synthetic import make_sweep

    path = make_sweep(tmp_path_factory.mktemp("synthetic") / "s", 60, 60)
    xs.consolidate(path)
    return path
