"""The Dask cluster a sweep runs on: the caller's, or an embedded ``LocalCluster``.

Entering a :class:`Cluster` starts only what costs no worker (the embedded
scheduler and its dashboard, or the connection to a given address); workers
start once the plan passed (:meth:`Cluster.start_workers`). An embedded
cluster's workers are lean spawned processes that ignore Ctrl-C (the client
shuts them down) and boot their GMAT child while they start.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from typing import Any

import dask
from dask.system import CPU_COUNT
from distributed import Client, LocalCluster

from xsweep._errors import ConfigError
from xsweep._plan import Options
from xsweep._tasks import GmatChildPlugin

# The embedded cluster runs long tasks on cores GMAT keeps busy: its idle housekeeping
# (event-loop watchdog every 20 ms, memory and system monitors) costs ~8% of a core at
# Dask's defaults and ~4% with these, and the workers' statistical profiler (a stack
# sample every 10 ms of every task) ~1 ms of CPU per run. Applied to the clusters
# xsweep starts, not to the caller's.
_QUIET_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
}


class Cluster:
    """The Dask side of a sweep: the caller's cluster, or an embedded one.

    Entering starts only what costs no worker: the embedded cluster's
    scheduler (and dashboard), or the connection to a given address. Workers
    start in :meth:`start_workers`, after planning succeeded; the embedded
    scheduler's start-up overlaps the planning check that way.
    """

    def __init__(
        self,
        client: Client | str | None,
        workers: int | None,
        progress: bool,
        cluster_kwargs: Mapping[str, Any] | None,
        opts: Options,
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
        self._stack = contextlib.ExitStack()
        self.client: Client | None = client if isinstance(client, Client) else None
        self.cluster: Any = None
        self._started = False

    @property
    def embedded(self) -> bool:
        """Whether xsweep started this cluster (rather than the caller)."""
        return self.cluster is not None

    @property
    def plans_on_workers(self) -> bool:
        """Whether the planning check runs on a worker: a given cluster with warm children."""
        return self.given is not None and self.opts.isolation == "worker"

    def plugin(self) -> Any:
        if self.opts.isolation != "worker":
            return None
        return GmatChildPlugin(self.opts.engine, self.opts.gmat_root)

    def __enter__(self) -> Cluster:
        try:
            if isinstance(self.given, str):
                self.client = self._stack.enter_context(Client(self.given))
            elif self.given is None:
                plugin = self.plugin()
                kwargs: dict[str, Any] = {
                    "n_workers": 0,
                    "threads_per_worker": 1,
                    "processes": True,
                    # Each worker boots its GMAT child while it starts up.
                    "plugins": () if plugin is None else (plugin,),
                    **self.cluster_kwargs,
                }
                config = dict(_QUIET_CLUSTER)
                if kwargs["processes"]:  # worker processes, started by nannies
                    kwargs.setdefault("preload", ["xsweep._preload"])  # Ctrl-C: the client's
                    # A spawned worker re-imports the main module (the xsweep CLI, the
                    # user's script) before it applies its own ``env``; set before the
                    # spawn, XSWEEP_LEAN keeps that import from loading xarray and pandas.
                    # The nannies set it in this process too: taken back at the end.
                    spawn_env = dask.config.get("distributed.nanny.pre-spawn-environ", {})
                    config["distributed.nanny.pre-spawn-environ"] = {
                        **spawn_env,
                        "XSWEEP_LEAN": "1",
                    }
                    self._stack.callback(_restore_env, "XSWEEP_LEAN", os.environ.get("XSWEEP_LEAN"))
                self._stack.enter_context(dask.config.set(config))
                self.cluster = self._stack.enter_context(LocalCluster(**kwargs))
                self.client = self._stack.enter_context(Client(self.cluster))
        except BaseException:
            self._stack.close()
            raise
        return self

    def start_workers(self, runs: int | None = None) -> Client:
        """Start the embedded workers (or install the plugin on the caller's); return the client.

        Without an explicit ``workers``, the embedded cluster gets one worker per
        core, but no more than ``runs`` runs can keep busy.
        """
        assert self.client is not None
        if self._started:
            return self.client
        self._started = True
        if self.cluster is not None:
            if self.progress:
                print(f"xsweep: Dask dashboard at {self.client.dashboard_link}", file=sys.stderr)
            tasks = CPU_COUNT if runs is None else -(-runs // self.opts.runs_per_task)
            n = self.workers or max(1, min(CPU_COUNT, tasks))
            self.cluster.scale(n)
            self.client.wait_for_workers(n)
        else:
            plugin = self.plugin()
            if plugin is not None:
                self.client.register_plugin(plugin)
        return self.client

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
