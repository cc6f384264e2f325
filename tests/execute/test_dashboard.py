"""The dashboard shows the whole sweep: ``/xsweep`` counts every run, not the task window."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

import xsweep as xs
from _helpers import MISSIONS, xsweep_command

pytestmark = [pytest.mark.gmat, pytest.mark.slow]

REPORT = MISSIONS / "leo_report.script"
N = 240


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        return bytes(response.read())


def _sweeps(page: str) -> list[dict[str, Any]]:
    try:
        return list(json.loads(_get(f"{page}/status.json")).values())
    except urllib.error.HTTPError as exc:
        if exc.code != 404:  # 404: before the sweep put its page up
            raise
        return []
    except urllib.error.URLError as exc:
        # Refused: the sweep ended (and its cluster closed) since the caller looked.
        if not isinstance(exc.reason, ConnectionRefusedError):
            raise
        return []


def _watch(page: str, done: threading.Event | subprocess.Popen[str]) -> list[dict[str, Any]]:
    """Sample the page's status every 0.2 s until the sweep ends (at most 120 s)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        finished = done.is_set() if isinstance(done, threading.Event) else done.poll() is not None
        if finished:
            break
        seen += _sweeps(page)
        time.sleep(0.2)
    return seen


def _check_midway(seen: list[dict[str, Any]]) -> None:
    midway = [s for s in seen if 0 < s["done"] < s["total"]]
    assert midway, "the page never showed the sweep part-way"
    for s in midway:
        assert s["total"] == N  # the whole sweep, not the window of tasks in flight
        assert s["ok"] + s["failed"] == s["done"]
        assert s["state"] == "running"
    assert midway[-1]["eta_s"] is not None
    assert [s["done"] for s in midway] == sorted(s["done"] for s in midway)


def test_a_given_cluster_serves_the_whole_sweeps_progress(tmp_path: Path) -> None:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        page = client.dashboard_link.rsplit("/", 1)[0] + "/xsweep"
        space = xs.grid({"Sat.SMA": [7000.0 + i for i in range(N)], "TOF": [60]})
        done = threading.Event()
        result: dict[str, Any] = {}

        def sweep() -> None:
            try:
                result["sweep"] = xs.run(
                    REPORT, space, out=tmp_path / "s", client=client, progress=False
                )
            finally:
                done.set()

        runner = threading.Thread(target=sweep)
        runner.start()
        seen = _watch(page, done)
        runner.join(timeout=120)
        assert result["sweep"].counts["ok"] == N
        _check_midway(seen)
        (final,) = _sweeps(page)
        assert (final["done"], final["ok"], final["state"]) == (N, N, "finished")
        html = _get(page).decode()
        assert '<script src="xsweep/page.js">' in html
        script = _get(f"{page}/page.js").decode()
        assert "gmat-run" in script
        assert "status.json" in script


def test_the_embedded_cluster_prints_and_serves_the_page(tmp_path: Path) -> None:
    out = tmp_path / "s"
    proc = subprocess.Popen(
        xsweep_command(
            "run",
            str(REPORT),
            "--grid",
            f"Sat.SMA=7000:7400:{N}",
            "--grid",
            "TOF=60",
            "--out",
            str(out),
            "--workers",
            "2",
        ),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    line = proc.stderr.readline()  # the first line names both links
    assert "the whole sweep's progress at http" in line, line
    page = line.rsplit(" ", 1)[-1].strip()
    seen = _watch(page, proc)
    proc.stderr.read()
    assert proc.wait(timeout=120) in (0, 1)
    midway = [s for s in seen if 0 < s["done"] < s["total"]]
    assert midway
    assert {s["total"] for s in midway} == {N}
    assert all(s["ok"] + s["failed"] == s["done"] for s in midway)


def test_a_browser_shows_the_sweep_on_the_page(tmp_path: Path) -> None:
    """Headless Chromium loads ``/xsweep`` during a real sweep; the page shows its counts."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed (.ci/env.sh installs it)"
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        sync_playwright() as pw,
    ):
        page_url = client.dashboard_link.rsplit("/", 1)[0] + "/xsweep"
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        space = xs.grid({"Sat.SMA": [7000.0 + i for i in range(N)], "TOF": [60]})
        done = threading.Event()
        runner = threading.Thread(
            target=lambda: (
                xs.run(REPORT, space, out=tmp_path / "s", client=client, progress=False),
                done.set(),
            )
        )
        runner.start()
        try:
            tab = browser.new_page(viewport={"width": 900, "height": 520})
            shown = []
            deadline = time.monotonic() + 120
            while not done.is_set() and time.monotonic() < deadline:
                with contextlib.suppress(Exception):  # before the sweep put its page up
                    tab.goto(page_url, timeout=5000)
                    tab.wait_for_selector(".progress", timeout=3000)
                    text = tab.inner_text(".progress")
                    shown.append(text)
                    if " / " in text and not text.startswith("gmat-run 0 "):
                        tab.screenshot(path=str(tmp_path / "page.png"))
                        break
            runner.join(timeout=120)
            assert done.is_set()
        finally:
            browser.close()
    midway = [t for t in shown if t.endswith("(running)")]
    assert midway, shown
    done_runs, total = midway[-1].removeprefix("gmat-run ").split(" (")[0].split(" / ")
    assert int(total) == N
    assert 0 < int(done_runs) < N
    assert (tmp_path / "page.png").stat().st_size > 1000
    if os.environ.get("XSWEEP_RELIABILITY_DOCS"):  # CI keeps the docs' picture current
        shutil.copy(tmp_path / "page.png", Path(__file__).parents[2] / "docs/images/progress.png")
