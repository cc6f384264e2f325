"""The per-run time bound: ``timeout="auto"`` (the default), a number of seconds, or off.

A script that never ends must not hold a worker forever, yet the right bound
depends on the mission: a 60 s LEO arc runs in 20 ms, a year of high-fidelity
propagation in minutes. ``"auto"`` takes it from the runs themselves: a run may
take ``max(FLOOR_S, FACTOR x the median of the sweep's ok runs so far)``, and
:data:`FIRST_S` while no run has finished yet. The sweep's header records
``"auto"`` (resume and extend use it again); a run past its bound is
``failed`` with reason ``timeout`` and a message naming the bound and how to
raise it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from statistics import median
from typing import Any, Literal

from xsweep.core.errors import ConfigError

Timeout = float | None | Literal["auto"]
AUTO: Literal["auto"] = "auto"
OFF = "off"
FLOOR_S = 600.0
FACTOR = 20.0
FIRST_S = 3600.0
_KEEP = 2001  # the median of the latest ok runs: bounded memory however long the sweep


def check(timeout: Any) -> Timeout:
    """Return a valid timeout: ``"auto"``, ``None`` (``"off"``) or positive seconds."""
    if timeout == AUTO:
        return AUTO
    if timeout is None or timeout == OFF:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigError(
            f"timeout must be 'auto', 'off' (None) or a positive number of seconds, got {timeout!r}"
        )
    return float(timeout)


class RunBound:
    """The bound a run submitted now gets, learnt from the ok runs recorded so far.

    Parameters
    ----------
    timeout : "auto", float or None
        The sweep's option.
    durations : iterable of float
        Durations of ok runs already recorded (a resumed sweep's).

    Examples
    --------
    >>> bound = RunBound("auto")
    >>> bound.seconds()
    3600.0
    >>> for _ in range(5):
    ...     bound.observe(60.0)
    >>> bound.seconds()
    1200.0
    >>> RunBound(30.0).seconds(), RunBound(None).seconds()
    (30.0, None)
    """

    def __init__(self, timeout: Timeout, durations: Iterable[float] = ()) -> None:
        self.timeout = timeout
        self._seen: deque[float] = deque(maxlen=_KEEP)
        self._bound: float | None = None
        if timeout == AUTO:  # the deque keeps only the latest: no list of every run
            self._seen.extend(float(d) for d in durations)
        self._update()

    def observe(self, duration_s: float) -> None:
        """Count one ok run's duration (the bound follows every 50 runs, and the first ones)."""
        if self.timeout != AUTO:
            return
        self._seen.append(float(duration_s))
        if len(self._seen) < 50 or len(self._seen) % 50 == 0:
            self._update()

    def _update(self) -> None:
        if self.timeout == AUTO:
            self._bound = max(FLOOR_S, FACTOR * median(self._seen)) if self._seen else FIRST_S

    def seconds(self) -> float | None:
        """Return the bound in seconds (``None``: no bound)."""
        if self.timeout == AUTO:
            return self._bound
        assert not isinstance(self.timeout, str)
        return self.timeout
