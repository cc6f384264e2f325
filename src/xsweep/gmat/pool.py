"""The one pool of warm GMAT children a process holds.

Booting a GMAT child costs about a second; these keep booted ones for the
next user in the same process: the planning check's child (started while the
client is still importing) runs the first in-process worker's runs instead of a
second child booting after the check; the children of a sweep's in-process
workers stay warm for the next sweep of the process (a notebook's next cell) for
:data:`IDLE_S` seconds; and a task that runs outside any Dask worker keeps one
child per engine.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any

from xsweep.gmat.child import GmatChild
from xsweep.gmat.requests import CheckRequest, FieldsRequest, ReadRequest

# Warm GMAT children this process holds for its in-process workers to adopt: the
# planning check's child (started while the client is still importing) runs the first
# worker's runs, instead of a second child booting after the check.
_SPARES: dict[tuple[str, str | None], list[GmatChild]] = {}


_SPARES_LOCK = threading.Lock()

# How long a finished sweep's children stay warm for the next one, and how many: each holds
# GMAT's memory (~100 MB), and a node's 64 should not outlive their sweep by long.
IDLE_S = 60.0
KEEP = 8
_EXPIRY: list[threading.Timer] = []


def offer_child(child: GmatChild, idle: float = IDLE_S) -> None:
    """Hand a warm child to the next in-process worker that starts (see :func:`take_child`).

    The pool keeps up to :data:`KEEP` children, and stops them all once none was
    offered for ``idle`` seconds (or as the interpreter exits). A child no other
    sweep may take over (see :attr:`GmatChild.reusable`) is stopped at once.
    """
    with _SPARES_LOCK:
        kept = sum(len(spares) for spares in _SPARES.values())
        if kept < KEEP and child.reusable:
            _SPARES.setdefault((child.engine, child.gmat_root), []).append(child)
            for timer in _EXPIRY:
                timer.cancel()
            _EXPIRY[:] = [threading.Timer(idle, close_spares)]
            _EXPIRY[0].daemon = True
            _EXPIRY[0].start()
            return
    child.close()


def take_child(engine: str, gmat_root: str | None) -> GmatChild | None:
    """Take a live spare child of this engine, if this process holds one."""
    with _SPARES_LOCK:
        spares = _SPARES.get((engine, gmat_root), [])
        while spares:
            child = spares.pop()
            if child.reusable:
                return child
            child.close()
    return None


def close_spares() -> None:
    """Stop every spare child no worker adopted."""
    with _SPARES_LOCK:
        children = [c for spares in _SPARES.values() for c in spares]
        _SPARES.clear()
        for timer in _EXPIRY:
            timer.cancel()
        _EXPIRY.clear()
    for child in children:
        child.close()


atexit.register(close_spares)


def ask(
    request: CheckRequest | ReadRequest | FieldsRequest,
    engine: str,
    gmat_root: str | None,
    *,
    timeout: float,
) -> Any:
    """Answer a request that runs no mission, in a GMAT child: a spare one, else a new one.

    A spare (the CLI boots one while it parses) goes back for the planning check.
    """
    spare = take_child(engine, gmat_root)
    child = spare or GmatChild(engine, gmat_root, wait=False)
    try:
        return child.check(request, timeout=timeout)
    finally:
        if spare is not None:
            offer_child(child)
        else:
            child.close()


_LOCAL: dict[tuple[str, str | None], GmatChild] = {}
_LOCAL_LOCK = threading.Lock()


def local_child(engine: str, gmat_root: str | None) -> GmatChild:
    """Return this process's own child of an engine (a task run outside any Dask worker)."""
    key = (engine, gmat_root)
    with _LOCAL_LOCK:
        if key not in _LOCAL:
            _LOCAL[key] = GmatChild(*key)
        return _LOCAL[key]
