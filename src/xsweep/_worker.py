"""Dask preload for the workers of an embedded cluster (``LocalCluster``).

Ctrl-C in a terminal sends SIGINT to the whole process group: the workers of
a cluster xsweep started would each die with a KeyboardInterrupt traceback
while the client is already cancelling and shutting them down. They ignore
SIGINT instead; the client's shutdown stops them. The warning each worker
logs for a task cancelled mid-run (which is what an interrupted sweep does on
purpose) is silenced too.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:
    """Ignore SIGINT in this worker process (the client handles Ctrl-C)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
