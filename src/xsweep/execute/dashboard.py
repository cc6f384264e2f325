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
import math
import time
import warnings
from collections.abc import Callable, Mapping
from itertools import islice
from typing import Any

from distributed import Client
from distributed.diagnostics.plugin import SchedulerPlugin
from tornado import web

METADATA_KEY = "xsweep"
PAGE = "/xsweep"
_EVERY_S = 1.0

# No data reaches the page as HTML: the script builds its DOM with textContent, and the
# policy lets the page run only its own script (served from the same origin, not inline).
_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>xsweep: sweep progress</title>
<link rel="stylesheet" href="xsweep/page.css"></head>
<body><h1>xsweep</h1><div id="sweeps">waiting for a sweep...</div>
<script src="xsweep/page.js"></script></body></html>
"""
_CSS = """body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; } td, th { padding: .3em .8em; text-align: right; }
th { text-align: left; } .bar { background: #ddd; width: 30em; height: 1.2em; }
.bar div { background: #1f77b4; height: 100%; }
"""
_JS = """"use strict";
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = String(text);
  return e;
}
function line(table, name, cls, text) {
  const tr = el("tr"); tr.append(el("th", "", name), el("td", cls, text)); table.append(tr);
}
function block(s) {
  const box = el("div", "sweep");
  const pct = s.total ? Math.min(100, 100 * s.done / s.total) : 0;
  const reasons = Object.entries(s.failed_by_reason).map(([r, n]) => `${r} ${n}`).join(", ");
  const eta = s.eta_s === null ? "-" : `${Math.round(s.eta_s)} s`;
  box.append(el("h2", "", `${s.script} \u2192 ${s.out}`),
             el("p", "progress", `gmat-run ${s.done} / ${s.total} (${s.state})`));
  const bar = el("div", "bar"), fill = el("div");
  fill.style.width = `${pct.toFixed(1)}%`;
  bar.append(fill); box.append(bar);
  const table = el("table");
  line(table, "ok", "ok", s.ok);
  line(table, "failed", "failed", reasons ? `${s.failed} (${reasons})` : s.failed);
  line(table, "elapsed", "", `${Math.round(s.elapsed_s)} s`);
  line(table, "remaining", "eta", eta);
  box.append(table);
  return box;
}
async function refresh() {
  try {
    const sweeps = await (await fetch("xsweep/status.json")).json();
    const all = Object.values(sweeps);
    if (all.length) document.getElementById("sweeps").replaceChildren(...all.map(block));
  } catch (e) {}
}
refresh(); setInterval(refresh, 1000);
"""
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# What one sweep may publish, and how many the scheduler keeps: anyone with a client can
# publish, so the metadata under "xsweep" is bounded and checked field by field.
MAX_ENTRY_BYTES = 4096
MAX_SWEEPS = 64
MAX_TEXT = 300
KEEP_ENDED_S = 60.0  # a finished sweep's last counts stay on the page this long
_COUNTS = ("total", "done", "ok", "failed")
_STATES = ("running", "finished", "stopped")


def _number(x: Any) -> float | None:
    ok = isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
    return float(x) if ok else None


def clean(entry: Any) -> dict[str, Any] | None:
    """Return a published entry with only the page's fields, typed and bounded (else None)."""
    if not isinstance(entry, Mapping):
        return None
    out: dict[str, Any] = {}
    for k in ("script", "out"):
        out[k] = str(entry.get(k, ""))[:MAX_TEXT]
    for k in _COUNTS:
        n = _number(entry.get(k))
        if n is None or n < 0:
            return None
        out[k] = int(n)
    out["state"] = entry.get("state") if entry.get("state") in _STATES else "running"
    out["elapsed_s"] = _number(entry.get("elapsed_s")) or 0.0
    out["eta_s"] = _number(entry.get("eta_s"))
    reasons = entry.get("failed_by_reason")
    items = list(islice(reasons.items(), 16)) if isinstance(reasons, Mapping) else []
    counts = {str(r)[:40]: _number(n) for r, n in items}
    out["failed_by_reason"] = {r: int(n) for r, n in counts.items() if n is not None}
    return out


class _Handler(web.RequestHandler):
    def initialize(self, plugin: ProgressPage) -> None:
        self.plugin = plugin

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", _POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")


class _Page(_Handler):
    body, kind = _HTML, "text/html"

    def get(self) -> None:
        self.set_header("Content-Type", f"{self.kind}; charset=utf-8")
        self.write(self.body)


class _Script(_Page):
    body, kind = _JS, "text/javascript"


class _Style(_Page):
    body, kind = _CSS, "text/css"


class _Status(_Handler):
    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.plugin.sweeps()))


class ProgressPage(SchedulerPlugin):
    """A scheduler plugin that serves the ``/xsweep`` progress page on the dashboard.

    It also guards what clients publish under ``"xsweep"`` in the scheduler's
    metadata: an entry over :data:`MAX_ENTRY_BYTES` is refused, at most
    :data:`MAX_SWEEPS` are kept (the longest silent goes first), and a sweep
    that ended is removed :data:`KEEP_ENDED_S` seconds later.
    """

    name = "xsweep-progress"
    idempotent = True  # the next sweep on the same cluster finds it there

    def __init__(self) -> None:
        self.scheduler: Any = None
        self.touched: dict[str, tuple[float, bool]] = {}  # token: (last set, ended)

    async def start(self, scheduler: Any) -> None:
        """Add the page's routes to the scheduler's dashboard server (if it has one)."""
        self.scheduler = scheduler
        plain = scheduler.handlers.get("set_metadata")
        if plain is not None and not getattr(plain, "xsweep_guard", False):
            scheduler.handlers["set_metadata"] = self._guard(plain)
        app = getattr(scheduler, "http_application", None)
        if app is None:
            return
        routes = [(PAGE, _Page), (f"{PAGE}/status.json", _Status),
                  (f"{PAGE}/page.js", _Script), (f"{PAGE}/page.css", _Style)]  # fmt: skip
        app.add_handlers(r".*$", [(path, h, {"plugin": self}) for path, h in routes])

    def _guard(self, plain: Callable[..., Any]) -> Callable[..., Any]:
        def set_metadata(keys: list[Any], value: object = None) -> None:
            ours = bool(keys) and keys[0] == METADATA_KEY
            if ours:
                self._admit(keys, value)
            plain(keys=keys, value=value)
            if ours:
                self._prune()

        set_metadata.xsweep_guard = True  # type: ignore[attr-defined]
        return set_metadata

    def _admit(self, keys: list[Any], value: object) -> None:
        if len(keys) != 2 or not isinstance(keys[1], str) or len(keys[1]) > 64:
            raise ValueError("xsweep metadata: one entry a sweep, under a short token")
        if len(json.dumps(value, default=str)) > MAX_ENTRY_BYTES:
            raise ValueError(f"xsweep metadata: an entry is at most {MAX_ENTRY_BYTES} bytes")
        ended = isinstance(value, Mapping) and value.get("state") in _STATES[1:]
        self.touched[keys[1]] = (time.monotonic(), ended)

    def _prune(self) -> None:
        found = self.scheduler.task_metadata.get(METADATA_KEY)
        if not isinstance(found, dict):
            return
        now = time.monotonic()
        for token in list(found):
            when, ended = self.touched.get(token, (now, False))
            self.touched.setdefault(token, (when, ended))
            if ended and now - when > KEEP_ENDED_S:
                found.pop(token, None)
                self.touched.pop(token, None)
        if len(found) > MAX_SWEEPS:  # the longest silent go first
            by_age = sorted(found, key=lambda t: self.touched.get(t, (0.0, False))[0])
            for token in by_age[: len(found) - MAX_SWEEPS]:
                found.pop(token, None)
                self.touched.pop(token, None)

    def sweeps(self) -> dict[str, Any]:
        """Return the sweeps the page shows: checked, bounded entries only."""
        self._prune()
        found = self.scheduler.task_metadata.get(METADATA_KEY, {})
        if not isinstance(found, Mapping):
            return {}
        items = list(islice(found.items(), MAX_SWEEPS))
        return {str(k)[:64]: e for k, v in items if (e := clean(v)) is not None}


def page_link(dashboard: str) -> str:
    """Return the progress page's address on the dashboard at ``dashboard``."""
    return dashboard.rsplit("/", 1)[0] + PAGE


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
            self.client.loop.add_callback(send, self.client, self.key, snapshot)


async def send(client: Client, key: list[str], value: dict[str, Any]) -> None:
    """Publish ``value`` under ``key`` in the scheduler's metadata; a lost scheduler is ignored."""
    with contextlib.suppress(Exception):  # a lost scheduler: the sweep says so itself
        if client.scheduler is not None:
            await client.scheduler.set_metadata(keys=key, value=value)


def progress_bar(total: int, *, disable: bool, desc: str = "xsweep") -> Any:
    """Return a tqdm bar: a widget in a notebook that has ipywidgets, text anywhere else."""
    with warnings.catch_warnings():
        # A notebook without ipywidgets: tqdm falls back to text, after a warning that
        # says nothing about the sweep.
        warnings.filterwarnings("ignore", "IProgress not found", category=Warning)
        from tqdm.auto import tqdm

    return tqdm(total=total, unit="run", desc=desc, disable=disable)
