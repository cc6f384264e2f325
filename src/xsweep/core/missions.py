"""The example missions shipped with xsweep: short, real GMAT scripts to try a sweep on.

The wheel carries ``examples/missions`` of the repository as ``xsweep/missions``;
a source checkout reads them where they are.
"""

from __future__ import annotations

from pathlib import Path

from xsweep.core.errors import ConfigError

_PACKAGED = Path(__file__).resolve().parents[1] / "missions"
_CHECKOUT = Path(__file__).resolve().parents[3] / "examples" / "missions"


def _folder() -> Path:
    return _PACKAGED if _PACKAGED.is_dir() else _CHECKOUT


def example_missions() -> list[str]:
    """Name the example missions (``"leo_drag"``, ``"hohmann"``...).

    >>> import xsweep as xs
    >>> "leo_drag" in xs.example_missions()
    True
    """
    return sorted(p.stem for p in _folder().glob("*.script"))


def example_mission(name: str) -> Path:
    """Return the path of an example mission shipped with xsweep.

    Parameters
    ----------
    name : str
        ``"leo_report"`` (a two-body LEO with a report), ``"leo_drag"`` (J2
        and an exponential atmosphere), ``"hohmann"`` (a targeted transfer:
        a report and a solver log), and the others :func:`example_missions`
        lists. The LEO ones end on a ``TOF`` Variable, the propagation time in
        seconds.

    Raises
    ------
    ConfigError
        No example mission of that name (the message lists them).

    Examples
    --------
    >>> import xsweep as xs
    >>> xs.example_mission("leo_drag").name
    'leo_drag.script'
    """
    path = _folder() / f"{name}.script"
    if not path.is_file():
        raise ConfigError(f"no example mission {name!r}; there are {example_missions()}")
    return path
