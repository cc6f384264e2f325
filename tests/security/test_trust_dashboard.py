"""The dashboard's metadata is data: shown as text, bounded, removed when a sweep ends."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from distributed import Client, LocalCluster

import xsweep as xs
import xsweep.execute.dashboard as dashboard
from _helpers import MISSIONS, xsweep_command

pytestmark = [pytest.mark.gmat, pytest.mark.slow]

HTML_NAME = "<img src=x onerror=window.pwned=1>"


@pytest.fixture
def cluster_client() -> Client:
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _page(client: Client) -> str:
    return client.dashboard_link.rsplit("/", 1)[0] + "/xsweep"


def test_an_html_script_name_shows_as_text(cluster_client: Client, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is needed (.ci/test.sh installs it)"
    script = tmp_path / f"{HTML_NAME}.script"  # the header's script.name, as finding 2 had it
    shutil.copy(MISSIONS / "leo_report.script", script)
    out = tmp_path / "<b>out</b>"
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0], "TOF": [60]})
    assert xs.run(script, space, out=out, client=cluster_client, progress=False).counts["ok"] == 2
    page = _page(cluster_client)
    with urllib.request.urlopen(page, timeout=10) as response:
        policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True)
        try:
            tab = browser.new_page()
            tab.goto(page, timeout=15000)
            tab.wait_for_selector("h2", timeout=10000)  # the finished sweep stays a while
            heading = tab.inner_text("h2")
            images = tab.locator("img").count()
            bold = tab.locator("b").count()
            pwned = tab.evaluate("() => window.pwned === undefined")
        finally:
            browser.close()
    assert HTML_NAME in heading  # shown as the text it is
    assert "<b>out</b>" in heading
    assert images == 0
    assert bold == 0
    assert pwned


def test_what_a_client_may_publish_is_bounded(
    cluster_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster_client.register_plugin(dashboard.ProgressPage())
    with pytest.raises(Exception, match="at most 4096 bytes"):
        cluster_client.set_metadata(["xsweep", "big"], {"script": "x" * 5_000_000})
    with pytest.raises(Exception, match="one entry a sweep"):
        cluster_client.set_metadata(["xsweep", "a", "deeper"], 1)
    for i in range(dashboard.MAX_SWEEPS + 20):
        cluster_client.set_metadata(["xsweep", f"t{i}"], {"state": "running", "total": 1})
    kept = cluster_client.get_metadata(["xsweep"])
    assert len(kept) == dashboard.MAX_SWEEPS
    assert "t0" not in kept  # the longest silent went first
    # The page shows only well-formed entries, with its own fields.
    cluster_client.set_metadata(["xsweep", "odd"], {"total": "many", "done": 1})
    with urllib.request.urlopen(_page(cluster_client) + "/status.json", timeout=10) as r:
        shown = r.read().decode()
    assert '"odd"' not in shown
    # An entry that ended is removed once KEEP_ENDED_S has passed.
    monkeypatch.setattr(dashboard, "KEEP_ENDED_S", 0.2)
    done = {"state": "finished", "total": 1, "done": 1, "ok": 1, "failed": 0}
    cluster_client.set_metadata(["xsweep", "ended"], done)
    time.sleep(0.5)
    cluster_client.set_metadata(["xsweep", "other"], {"state": "running"})
    assert "ended" not in cluster_client.get_metadata(["xsweep"])


def test_a_session_removes_its_entry_when_it_ends(
    cluster_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "KEEP_ENDED_S", 0.2)
    space = xs.grid({"Sat.SMA": [7000.0], "TOF": [60]})
    xs.run(MISSIONS / "leo_report.script", space, out=tmp_path / "s", client=cluster_client,
           progress=False)  # fmt: skip
    time.sleep(0.5)
    with urllib.request.urlopen(_page(cluster_client) + "/status.json", timeout=10) as r:
        assert r.read() == b"{}"


def test_the_embedded_dashboard_listens_on_this_machine_only(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        xsweep_command("run", str(MISSIONS / "leo_report.script"), "--grid",
                       "Sat.SMA=7000:7400:400", "--grid", "TOF=60", "--out", str(tmp_path / "s"),
                       "--workers", "1"),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "Dask dashboard at http://127.0.0.1:" in line, line
        port = int(line.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        listening = [
            c.laddr.ip
            for c in psutil.Process(proc.pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        ]
        assert listening == ["127.0.0.1"]
    finally:
        proc.kill()
        proc.communicate(timeout=60)
