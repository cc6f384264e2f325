"""Dask preload for the workers of an embedded cluster (``LocalCluster``).

Ctrl-C in a terminal sends SIGINT to the whole process group: the workers of
a cluster xsweep started would each die with a KeyboardInterrupt traceback
while the client is already cancelling and shutting them down. They ignore
SIGINT instead; the client's shutdown stops them. The warning each worker
logs for a task cancelled mid-run (which is what an interrupted sweep does on
purpose) is silenced too. A closing worker skips the interpreter's final garbage
collection.
"""

from __future__ import annotations

import gc
import logging
import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:
    """Ignore SIGINT in this worker process (the client handles Ctrl-C)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)


def dask_teardown(worker: Any) -> None:
    """Let the closing worker process exit without collecting everything it imported.

    The interpreter's final garbage collection takes ~0.35 s of a worker's
    shutdown, which the sweep waits for; the process is about to end anyway.
    """
    gc.freeze()
