"""The sweep's whole progress on the Dask dashboard: an ``/xsweep`` page on the scheduler.

Dask's own Progress panel shows the tasks that exist, and a sweep keeps only a
bounded window of them in flight; it cannot say how far along the sweep is.
:class:`ProgressPage` is a scheduler plugin that adds two routes to the
scheduler's dashboard server: ``/xsweep`` (a page) and ``/xsweep/status.json``
(what it shows). The client publishes each running sweep's counts into the
scheduler's metadata under ``("xsweep", <token>)`` about once a second
(:class:`Publisher`): one small message a second, however many runs finish.
The plugin works the same on a cluster the caller gave, wherever xsweep is
installed on its scheduler.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any

from distributed import Client
from distributed.diagnostics.plugin import SchedulerPlugin
from tornado import web

METADATA_KEY = "xsweep"
PAGE = "/xsweep"
_EVERY_S = 1.0

_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>xsweep: sweep progress</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; } td, th { padding: .3em .8em; text-align: right; }
th { text-align: left; } .bar { background: #ddd; width: 30em; height: 1.2em; }
.bar div { background: #1f77b4; height: 100%; }
</style></head>
<body><h1>xsweep</h1><div id="sweeps">waiting for a sweep...</div>
<script>
function row(s) {
  const pct = s.total ? (100 * s.done / s.total).toFixed(1) : 0;
  const reasons = Object.entries(s.failed_by_reason).map(([r, n]) => `${r} ${n}`).join(", ");
  const why = reasons ? ` (${reasons})` : "";
  const eta = s.eta_s === null ? "-" : `${Math.round(s.eta_s)} s`;
  return `<h2>${s.script} &rarr; ${s.out}</h2>
    <p class="progress">gmat-run ${s.done} / ${s.total} (${s.state})</p>
    <div class="bar"><div style="width:${pct}%"></div></div>
    <table><tr><th>ok</th><td class="ok">${s.ok}</td></tr>
    <tr><th>failed</th><td class="failed">${s.failed}${why}</td></tr>
    <tr><th>elapsed</th><td>${Math.round(s.elapsed_s)} s</td></tr>
    <tr><th>remaining</th><td class="eta">${eta}</td></tr></table>`;
}
async function refresh() {
  try {
    const sweeps = await (await fetch("xsweep/status.json")).json();
    const all = Object.values(sweeps);
    if (all.length) document.getElementById("sweeps").innerHTML = all.map(row).join("");
  } catch (e) {}
}
refresh(); setInterval(refresh, 1000);
</script></body></html>
"""


class _Handler(web.RequestHandler):
    def initialize(self, scheduler: Any) -> None:
        self.scheduler = scheduler

    def sweeps(self) -> Mapping[str, Any]:
        found = self.scheduler.task_metadata.get(METADATA_KEY, {})
        return found if isinstance(found, Mapping) else {}


class _Page(_Handler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(_HTML)


class _Status(_Handler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(dict(self.sweeps())))


class ProgressPage(SchedulerPlugin):
    """A scheduler plugin that serves the ``/xsweep`` progress page on the dashboard."""

    name = "xsweep-progress"
    idempotent = True  # the next sweep on the same cluster finds it there

    async def start(self, scheduler: Any) -> None:
        """Add the page's routes to the scheduler's dashboard server (if it has one)."""
        app = getattr(scheduler, "http_application", None)
        if app is None:
            return
        routes = [(PAGE, _Page), (f"{PAGE}/status.json", _Status)]
        app.add_handlers(r".*$", [(path, h, {"scheduler": scheduler}) for path, h in routes])


def page_link(client: Client) -> str:
    """Return the progress page's address on ``client``'s dashboard."""
    return str(client.dashboard_link).rsplit("/", 1)[0] + PAGE


class Publisher:
    """Publish a sweep session's counts to the scheduler, at most about once a second.

    Parameters
    ----------
    client : distributed.Client
        The sweep's client.
    token : str
        The session's key token (several sweeps may share a cluster).
    total : int
        Runs in this session.
    script, out : str
        What the page names the sweep by.
    """

    def __init__(self, client: Client, token: str, total: int, script: str, out: str) -> None:
        self.client = client
        self.key = [METADATA_KEY, token]
        self.start = time.monotonic()
        self.last = 0.0
        self.status: dict[str, Any] = {
            "script": script,
            "out": out,
            "total": total,
            "done": 0,
            "ok": 0,
            "failed": 0,
            "failed_by_reason": {},
            "elapsed_s": 0.0,
            "eta_s": None,
            "state": "running",
        }

    def recorded(self, status: str, reason: str | None) -> None:
        """Count one recorded run; publish if a second has passed."""
        s = self.status
        s["done"] += 1
        s[status] += 1
        if reason is not None:
            s["failed_by_reason"][reason] = s["failed_by_reason"].get(reason, 0) + 1
        if time.monotonic() - self.last >= _EVERY_S:
            self.publish()

    def publish(self, state: str = "running", *, wait: bool = False) -> None:
        """Send the counts; without ``wait``, without waiting for the scheduler.

        A run is never held up by the page: the message goes out on the client's
        event loop, and a scheduler that does not answer loses only the update.
        """
        s = self.status
        now = time.monotonic()
        s["elapsed_s"] = now - self.start
        s["state"] = state
        left = s["total"] - s["done"]
        s["eta_s"] = s["elapsed_s"] / s["done"] * left if s["done"] and state == "running" else None
        self.last = now
        snapshot = {**s, "failed_by_reason": dict(s["failed_by_reason"])}
        if wait:
            with contextlib.suppress(Exception):
                self.client.set_metadata(self.key, snapshot)
        elif self.client.loop is not None:
            self.client.loop.add_callback(_send, self.client, self.key, snapshot)


async def _send(client: Client, key: list[str], value: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # a lost scheduler: the sweep says so itself
        if client.scheduler is not None:
            await client.scheduler.set_metadata(keys=key, value=value)
