"""The Dask cluster a sweep runs on: the caller's, or an embedded ``LocalCluster``.

Entering a :class:`Cluster` starts only what costs no worker (the embedded
scheduler and its dashboard, or the connection to a given address); workers
start once the plan passed (:meth:`Cluster.start_workers`), within a bound.

The embedded cluster's workers are threads of this process, each driving its
own warm GMAT child process: GMAT's isolation is the child's job, not the
worker's. So nothing re-imports the caller's main module, and a sweep runs
the same from a script without a ``__main__`` guard, ``python -``, ``-c``,
``-m``, IPython or a Jupyter kernel. ``cluster_kwargs={"processes": True}``
brings back worker processes (spawned: the main module is re-imported, so
a script then needs the guard); they start lean and ignore Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dask
from dask.system import CPU_COUNT
from distributed import Client, LocalCluster
from distributed.core import Status
from distributed.utils import format_dashboard_link

from xsweep.core.errors import (
    ClusterStartError,
    ConfigError,
    EngineError,
    ScriptLoadError,
    XsweepError,
)
from xsweep.core.options import ExecutionOptions, Options
from xsweep.execute.dashboard import ProgressPage, page_link
from xsweep.execute.worker import GmatChildPlugin, check_plan
from xsweep.gmat.engine import EngineInfo
from xsweep.plan.checks import named_variant
from xsweep.plan.scripts import PlannedScript
from xsweep.space.spaces import Space

# The embedded cluster runs long tasks on cores GMAT keeps busy: its idle housekeeping
# (event-loop watchdog every 20 ms, memory and system monitors) costs ~8% of a core at
# Dask's defaults and ~4% with these, and the workers' statistical profiler (a stack
# sample every 10 ms of every task) ~1 ms of CPU per run. Applied to the clusters
# xsweep starts, not to the caller's.
QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    # Dask's debug logs (messages sent, stimuli, transitions) keep their last 1,000
    # entries, and with batched tasks an entry holds a whole task's runs: over 10^5
    # runs that kept ~800 bytes a run alive, so the client's memory grew with N.
    "distributed.admin.low-level-log-length": 10,
}


class Cluster:
    """The Dask side of a sweep: the caller's cluster, or an embedded one.

    Entering starts only what costs no worker: the embedded cluster's
    scheduler (and dashboard), or the connection to a given address. Workers
    start in :meth:`start_workers`, after planning succeeded; the embedded
    scheduler's start-up overlaps the planning check that way. Every wait is
    bounded by ``timeout`` seconds: past it, :class:`ClusterStartError`.
    """

    def __init__(
        self,
        client: Client | str | None,
        workers: int | None,
        progress: bool,
        cluster_kwargs: Mapping[str, Any] | None,
        opts: Options,
        *,
        timeout: float = 60.0,
        path: Path,
    ) -> None:
        if client is not None and not isinstance(client, Client | str):
            raise ConfigError(
                f"client must be a distributed.Client or a scheduler address, got {client!r}"
            )
        self.given = client
        self.workers = workers
        self.progress = progress
        self.cluster_kwargs = dict(cluster_kwargs or {})
        self.opts = opts
        self.timeout = timeout
        self.path = path  # the sweep's, for the errors
        self._stack = contextlib.ExitStack()
        self.client: Client | None = client if isinstance(client, Client) else None
        self.cluster: Any = None
        self._started = False
        self._bound: Any = None  # the embedded dashboard's address

    @property
    def embedded(self) -> bool:
        """Whether xsweep started this cluster (rather than the caller)."""
        return self.cluster is not None

    @property
    def plans_on_workers(self) -> bool:
        """Whether the planning check runs on a worker: a given cluster with warm children."""
        return self.given is not None and self.opts.isolation == "worker"

    @property
    def workers_here(self) -> bool:
        """Whether the workers will be threads of this process, each with a warm child."""
        processes = bool(self.cluster_kwargs.get("processes", False))
        return self.given is None and not processes and self.opts.isolation == "worker"

    def plugin(self) -> GmatChildPlugin | None:
        """Return the plugin that gives each worker its warm GMAT child (none for ``process``)."""
        if self.opts.isolation != "worker":
            return None
        return GmatChildPlugin(self.opts.engine, self.opts.gmat_root)

    def __enter__(self) -> Cluster:
        try:
            if isinstance(self.given, str):
                try:
                    client = Client(self.given, timeout=self.timeout)
                except OSError as exc:  # distributed's connect timeout is an OSError
                    raise self._error(f"cannot reach the scheduler {self.given}: {exc}") from exc
                self.client = self._stack.enter_context(client)
            elif self.given is None:
                self._stack.enter_context(dask.config.set(QUIET_CLUSTER))
                with warnings.catch_warnings():
                    # Another cluster holds port 8787: Dask takes a free one, and the link
                    # xsweep prints is the real one, so the warning only confuses.
                    warnings.filterwarnings("ignore", r"Port \d+ is already in use", UserWarning)
                    cluster = LocalCluster(**self._embedded_kwargs())
                self.cluster = self._stack.enter_context(cluster)
                self.client = self._stack.enter_context(Client(self.cluster))
        except BaseException:
            self._stack.close()
            raise
        return self

    def _embedded_kwargs(self) -> dict[str, Any]:
        plugin = self.plugin()
        kwargs: dict[str, Any] = {
            "n_workers": 0,
            "threads_per_worker": 1,
            "processes": False,
            **self.cluster_kwargs,
        }
        if not self.progress:  # nobody is shown its link: no dashboard (and no Bokeh import)
            kwargs.setdefault("dashboard_address", None)
        # The dashboard shows logs and call stacks: this machine only, unless asked otherwise.
        self._bound = kwargs.setdefault("dashboard_address", "127.0.0.1:8787")
        # Each worker boots its GMAT child while it starts up; the caller's plugins too. A
        # caller's own children (a stand-in from xsweep.testing) replace the GMAT ones.
        given = set(kwargs.get("plugins", ()))
        if plugin is not None and not any(isinstance(p, GmatChildPlugin) for p in given):
            given.add(plugin)
        kwargs["plugins"] = given
        # Closing, its in-process comms may close under a batched send still queued: Dask
        # logs that at INFO with a traceback, which a user's script would print. Restored
        # after the cluster's close (callbacks run last-in first-out).
        batched = logging.getLogger("distributed.batched")
        self._stack.callback(batched.setLevel, batched.level)
        batched.setLevel(logging.WARNING)
        if not kwargs["processes"]:
            # Thread workers share this process: each one's memory monitor would measure all
            # of it against its own share of the machine, and pause (or poll, 64 x a second).
            kwargs.setdefault("memory_limit", 0)
            # Each task an interrupted sweep cancels mid-run (on purpose) would log a warning
            # here, in the caller's process; worker processes silence it in their preload.
            state_machine = logging.getLogger("distributed.worker.state_machine")
            self._stack.callback(state_machine.setLevel, state_machine.level)
            state_machine.setLevel(logging.ERROR)
        else:  # worker processes, started by nannies
            kwargs.setdefault("preload", ["xsweep.execute.preload"])  # Ctrl-C: the client's
            # A spawned worker re-imports the main module (the xsweep CLI, the user's
            # script) before it applies its own ``env``; set before the spawn,
            # XSWEEP_LEAN keeps that import from loading xarray and pandas. The nannies
            # set it in this process too: taken back at the end.
            spawn_env = dask.config.get("distributed.nanny.pre-spawn-environ", {})
            self._stack.enter_context(
                dask.config.set(
                    {"distributed.nanny.pre-spawn-environ": {**spawn_env, "XSWEEP_LEAN": "1"}}
                )
            )
            self._stack.callback(_restore_env, "XSWEEP_LEAN", os.environ.get("XSWEEP_LEAN"))
        return kwargs

    def start_workers(self, runs: int | None = None) -> Client:
        """Start the embedded workers (or install the plugin on the caller's); return the client.

        Without an explicit ``workers``, the embedded cluster gets one worker per
        core, but no more than ``runs`` runs can keep busy.

        Raises
        ------
        ClusterStartError
            A worker failed to start, or not all started within ``timeout``.
        """
        assert self.client is not None
        if self._started:
            return self.client
        self._started = True
        self._add_progress_page()
        if self.cluster is not None:
            per_task = self.opts.runs_per_task
            per_task = 1 if per_task == "auto" else per_task  # "auto" starts at one run a task
            tasks = CPU_COUNT if runs is None else -(-runs // per_task)
            n = self.workers or max(1, min(CPU_COUNT, tasks))
            with _errors_logged() as logged:
                self.cluster.scale(n)
                self._wait_for_workers(n, logged)
        else:
            plugin = self.plugin()
            if plugin is not None:
                self.client.register_plugin(plugin)
        return self.client

    def dashboard_link(self) -> str | None:
        """Return the dashboard's address, or None when the scheduler serves none."""
        if self.client is None:
            return None
        try:
            if "dashboard" not in self.client.scheduler_info(n_workers=0).get("services", {}):
                return None
            return self._link()
        except Exception:  # an address the client cannot format: no link, not a failed sweep
            return None

    def announce(self) -> None:
        """Print the dashboard's links (with ``progress``, on an embedded cluster) as runs begin."""
        if self.cluster is not None and self.progress and self.client is not None:
            link = self._link()
            print(
                f"xsweep: Dask dashboard at {link}; "
                f"the whole sweep's progress at {page_link(link)}",
                file=sys.stderr,
            )

    def _link(self) -> str:
        """Return the dashboard's link, with the host it listens on (Dask names the IP)."""
        assert self.client is not None
        link = str(self.client.dashboard_link)
        bound = str(self._bound or "")
        if self.cluster is not None and bound.startswith("127.0.0.1:"):
            port = self.client.scheduler_info(n_workers=0)["services"]["dashboard"]
            link = format_dashboard_link("127.0.0.1", port)
        return link

    def _add_progress_page(self) -> None:
        """Serve ``/xsweep`` on the scheduler's dashboard (xsweep must be on the scheduler)."""
        assert self.client is not None
        try:
            self.client.register_plugin(ProgressPage())
        except Exception as exc:  # a caller's scheduler without xsweep: no page, same sweep
            warnings.warn(
                f"the scheduler cannot serve the sweep's progress page ({type(exc).__name__}: "
                f"{exc}); install xsweep where the scheduler runs to get it",
                UserWarning,
                stacklevel=4,
            )

    def _wait_for_workers(self, n: int, logged: list[str]) -> None:
        """Wait until ``n`` workers run; fail at once when one of them failed to start."""
        assert self.client is not None
        deadline = time.monotonic() + self.timeout
        while len(self.client.nthreads()) < n:
            failed = [
                w
                for w in self.cluster.workers.values()
                if w.status in (Status.failed, Status.closed)
            ]
            if failed:
                why = logged[0] if logged else "no error was logged"
                raise self._error(f"{len(failed)} of {n} Dask workers failed to start: {why}")
            if time.monotonic() > deadline:
                why = f"; first error: {logged[0]}" if logged else ""
                raise self._error(
                    f"only {len(self.client.nthreads())} of {n} Dask workers started within "
                    f"cluster_timeout={self.timeout:g} s{why}"
                )
            time.sleep(0.05)

    def _error(self, message: str) -> ClusterStartError:
        return ClusterStartError(message, self.path)

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


class _Collect(logging.Handler):
    """Keep the text of the errors Dask logs while workers start (their real cause)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        text = f"{type(exc).__name__}: {exc}" if exc is not None else record.getMessage()
        self.messages.append(text.strip().splitlines()[0] if text.strip() else text)


@contextlib.contextmanager
def _errors_logged() -> Iterator[list[str]]:
    handler = _Collect()
    logger = logging.getLogger("distributed")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def cluster_for(ex: ExecutionOptions, opts: Options, path: Path) -> Cluster:
    """Return the cluster a session with execution options ``ex`` runs on (not entered yet)."""
    return Cluster(
        ex.client,
        ex.workers,
        ex.progress,
        ex.cluster_kwargs,
        opts,
        timeout=ex.cluster_timeout,
        path=path,
    )


def check_plan_on(
    dask_client: Client,
    planned: Mapping[str | None, PlannedScript],
    space: Space,
    opts: Options,
    *,
    timeout: float,
    path: Path,
) -> EngineInfo:
    """Run the planning check as a task on a worker's warm GMAT child (on a given cluster).

    No GMAT boots in this process for it, and the engine recorded is the one
    the workers run. Every script variant is checked, one task each.
    """
    for name, one in planned.items():
        with named_variant(name):
            info = _check_one_on(dask_client, one, space, opts, timeout=timeout, path=path)
    return info


def _check_one_on(
    dask_client: Client,
    planned: PlannedScript,
    space: Space,
    opts: Options,
    *,
    timeout: float,
    path: Path,
) -> EngineInfo:
    script = planned.closure.main
    closure = (planned.closure.main_member, planned.tree) if planned.closure.members else None
    future = dask_client.submit(
        check_plan,
        str(script),
        planned.text,
        space.run(0).overrides,
        opts.engine,
        opts.gmat_root,
        closure,
        opts.allow_overwritten,
        key=f"xsweep-plan-{uuid.uuid4().hex[:8]}",
        pure=False,
    )
    try:
        result = future.result(timeout=timeout)
    except XsweepError:
        raise
    except TimeoutError:
        raise ClusterStartError(
            f"the planning check did not finish on the cluster within cluster_timeout="
            f"{timeout:g} s (are its workers running?)",
            path,
        ) from None
    except Exception as exc:  # the cluster's failure, not the plan's
        raise EngineError(
            f"the planning check could not run on the cluster: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        future.release()
    if isinstance(result, ScriptLoadError):
        result.script = script  # a worker may have checked a copy of it
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, EngineInfo)
    return result
