"""``run(..., wait=False)``: the sweep runs on a thread of this process; the caller gets its handle.

Planning still happens before the call returns (a bad plan raises there). In a
Jupyter kernel the handle's card is shown and refreshed every second until the
sweep ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xsweep.analysis.handle import Sweep
from xsweep.core.paths import MANIFEST_NAME

# Planning (a GMAT child loading the script, the cluster starting) is bounded by the
# cluster's own timeouts; this only bounds the wait for the manifest past them.
PLAN_WAIT_S = 900.0
REFRESH_S = 1.0


def start(call: Callable[[], Sweep], out: Path) -> Sweep:
    """Run ``call`` (a waiting ``run``) on a thread; return the sweep once its plan is written.

    Raises
    ------
    XsweepError
        What planning raised (nothing ran).
    """
    ended: dict[str, BaseException] = {}

    def body() -> None:
        try:
            call()
        except BaseException as exc:  # kept for Sweep.wait(); a thread's error has no caller
            ended["error"] = exc

    task = threading.Thread(target=body, name=f"xsweep-run-{out.name}", daemon=True)
    task.start()
    deadline = time.monotonic() + PLAN_WAIT_S
    while task.is_alive() and not (out / MANIFEST_NAME).exists():
        if time.monotonic() > deadline:
            break
        task.join(0.05)
    if "error" in ended:
        raise ended["error"]
    sweep = Sweep(out)
    sweep._task, sweep._ended = task, ended
    _live_card(sweep, task)
    return sweep


def _live_card(sweep: Sweep, task: threading.Thread) -> None:
    """In a Jupyter kernel, show the sweep's card and refresh it until the sweep ends."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    shell: Any = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):  # a terminal IPython: nothing to update
        return
    handle: Any = display(sweep, display_id=True)  # type: ignore[no-untyped-call]
    sweep._shown = lambda: handle.update(sweep)

    def refresh() -> None:
        while task.is_alive():
            task.join(REFRESH_S)
            handle.update(sweep)

    threading.Thread(target=refresh, name="xsweep-card", daemon=True).start()
