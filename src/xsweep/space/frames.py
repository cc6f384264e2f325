"""State dispersions given in a spacecraft's local frame (RIC), made inertial for a sweep.

An orbit-determination covariance usually comes in the radial / in-track /
cross-track frame of the spacecraft's nominal state. :func:`state_block`
reads that state from the script (in a GMAT child: the engine is the
authority on what the script's Keplerian or other elements mean), rotates the
covariance into the spacecraft's own coordinate system and returns the block
``{("Sat.X", ..., "Sat.VZ"): ("mvnormal", mean, cov)}`` that
:func:`xsweep.monte_carlo`, :func:`xsweep.latin_hypercube` and
:func:`xsweep.qmc` draw. The draws are then an ordinary inertial block
(seeded, bit-equal on extend); the frame, the nominal state and the covariance
as given travel in the block's recipe (``frame``) for the record.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xsweep.core.errors import ScriptNotFoundError, SpaceError
from xsweep.gmat.child import ReadRequest
from xsweep.gmat.pool import ask
from xsweep.space.joint import FRAME_ATTR, check_block

if TYPE_CHECKING:
    import xarray as xr

    from xsweep.core.options import EngineKind

STATE_FIELDS = ("X", "Y", "Z", "VX", "VY", "VZ")
# RIC (radial, in-track, cross-track), RSW and RTN name the same axes.
LOCAL_FRAMES = ("RIC", "RSW", "RTN")
FRAMES = (*LOCAL_FRAMES, "inertial")


def frame_matrix(state: np.ndarray, frame: str, *, rotating: bool = False) -> np.ndarray:
    """Return the 6x6 map from a state offset in ``frame`` to the inertial offset.

    ``state`` is the nominal Cartesian state (position, velocity). For RIC the
    columns of the rotation are ``r/|r|``, ``c x r/|r|`` and ``c = h/|h|``
    (``h = r x v``). Without ``rotating`` the velocity offset is rotated like
    the position one (inertial velocity components along the local axes, as
    CCSDS covariances give them); with it the frame's rate ``h/|r|^2`` adds
    ``omega x dr``: the velocity is relative to the rotating frame.
    """
    state = np.asarray(state, dtype=np.float64)
    if frame == "inertial":
        return np.eye(6)
    if frame not in LOCAL_FRAMES:
        raise SpaceError(f"unknown frame {frame!r}; expected one of {FRAMES}")
    r, v = state[:3], state[3:]
    h = np.cross(r, v)
    if not (np.linalg.norm(r) > 0 and np.linalg.norm(h) > 0):
        raise SpaceError(f"the nominal state {state.tolist()} defines no {frame} frame (r x v = 0)")
    radial = r / np.linalg.norm(r)
    cross = h / np.linalg.norm(h)
    rot = np.column_stack([radial, np.cross(cross, radial), cross])
    out = np.zeros((6, 6))
    out[:3, :3] = out[3:, 3:] = rot
    if rotating:
        w = h / float(r @ r)
        skew = np.array([[0.0, -w[2], w[1]], [w[2], 0.0, -w[0]], [-w[1], w[0], 0.0]])
        out[3:, :3] = skew @ rot
    return out


def to_inertial(
    nominal: np.ndarray,
    cov: np.ndarray,
    frame: str,
    *,
    mean: np.ndarray | None = None,
    rotating: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the inertial mean and covariance of a dispersion given in ``frame``.

    ``cov`` is 3x3 (position) or 6x6 (position and velocity); ``mean`` is the
    offset from ``nominal`` in the same frame (zero by default).
    """
    k = cov.shape[0]
    t = frame_matrix(nominal, frame, rotating=rotating)[:k, :k]
    offset = np.zeros(k) if mean is None else mean
    inertial = t @ cov @ t.T
    return nominal[:k] + t @ offset, 0.5 * (inertial + inertial.T)  # exactly symmetric


def state_block(
    script: str | os.PathLike[str],
    spacecraft: str,
    cov: Any,
    *,
    frame: str = "RIC",
    mean: Any = None,
    rotating: bool = False,
    engine: EngineKind = "auto",
    gmat_root: str | os.PathLike[str] | None = None,
    timeout: float = 300.0,
) -> dict[tuple[str, ...], tuple[str, np.ndarray, xr.DataArray]]:
    """Build a correlated state block around a spacecraft's nominal state in the script.

    Parameters
    ----------
    script : path
        The mission script; its spacecraft's state (any element set the
        script uses) is read by GMAT, in a child process, before it runs.
    spacecraft : str
        The Spacecraft resource, e.g. ``"Sat"``.
    cov : array_like
        3x3 (position, km^2) or 6x6 (position and velocity, km and km/s)
        covariance in ``frame``. Checked symmetric and positive semi-definite.
    frame : {"RIC", "RSW", "RTN", "inertial"}
        The frame ``cov`` and ``mean`` are given in: the spacecraft's radial,
        in-track, cross-track axes (three names for the same axes), or its own
        coordinate system (``inertial``).
    mean : array_like, optional
        Offset of the block's mean from the nominal state, in ``frame``.
    rotating : bool
        The velocity offsets are relative to the rotating local frame (adds the
        frame's rate times the position offset); by default they are inertial
        velocity components along the local axes.
    engine, gmat_root, timeout
        Which GMAT reads the script, and how long it may take.

    Returns
    -------
    dict
        ``{("Sat.X", ..., "Sat.VZ"): ("mvnormal", mean, cov)}`` in the
        spacecraft's coordinate system, ``cov`` a DataArray labelled with the
        fields whose ``xsweep_frame`` attribute records the frame, the
        nominal state and the covariance as given. Merge it into the mapping
        given to :func:`xsweep.monte_carlo` (or ``latin_hypercube``, ``qmc``).

    Raises
    ------
    SpaceError
        A bad covariance or mean (the failing eigenvalue named), or an unknown frame.
    ScriptNotFoundError, ScriptLoadError, FieldError
        The script, or the spacecraft, cannot be read.

    Examples
    --------
    >>> import xsweep as xs
    >>> cov_ric = np.diag([0.1, 1.0, 0.05]) ** 2  # km^2: radial, in-track, cross-track
    >>> block = xs.state_block("mission.script", "Sat", cov_ric)  # doctest: +SKIP
    >>> perturb = {**block, "Sat.Cd": ("uniform", 2.0, 2.4)}  # doctest: +SKIP
    >>> space = xs.monte_carlo(500, perturb, seed=1)  # doctest: +SKIP
    """
    import xarray as xr

    if frame not in FRAMES:
        raise SpaceError(f"unknown frame {frame!r}; expected one of {FRAMES}")
    try:
        given = np.asarray(cov, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpaceError(f"{spacecraft} state block: cov must be numbers ({exc})") from None
    if given.shape not in ((3, 3), (6, 6)):
        raise SpaceError(
            f"{spacecraft} state block: cov has shape {given.shape}; expected 3x3 (position) "
            "or 6x6 (position and velocity)"
        )
    k = given.shape[0]
    local = tuple(f"{frame}[{i}]" for i in range(k))
    offset, given = check_block(local, ("mvnormal", np.zeros(k) if mean is None else mean, given))
    state, about = _nominal(script, spacecraft, engine, gmat_root, timeout)
    centre, inertial = to_inertial(state, given, frame, mean=offset, rotating=rotating)
    fields = tuple(f"{spacecraft}.{f}" for f in STATE_FIELDS[:k])
    record = {"frame": frame, "rotating": rotating, "spacecraft": spacecraft, **about}
    record.update(nominal=state[:k].tolist(), mean=offset.tolist(), cov=given.tolist())
    labelled = xr.DataArray(
        inertial,
        dims=("field_i", "field_j"),
        coords={"field_i": list(fields), "field_j": list(fields)},
        attrs={FRAME_ATTR: record},
    )
    return {fields: ("mvnormal", centre, labelled)}


def _nominal(
    script: str | os.PathLike[str],
    spacecraft: str,
    engine: EngineKind,
    gmat_root: str | os.PathLike[str] | None,
    timeout: float,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Read a spacecraft's Cartesian state, epoch and coordinate system in a GMAT child."""
    path = Path(script).expanduser()
    if not path.is_file():
        raise ScriptNotFoundError(path)
    extra = ("Epoch", "DateFormat", "CoordinateSystem")
    paths = tuple(f"{spacecraft}.{f}" for f in (*STATE_FIELDS, *extra))
    root = None if gmat_root is None else str(gmat_root)
    values = ask(ReadRequest(str(path.resolve()), paths), engine, root, timeout=timeout)
    state = np.array([float(values[p]) for p in paths[:6]])
    about = {f.lower(): str(values[f"{spacecraft}.{f}"]) for f in extra}
    about["date_format"] = about.pop("dateformat")
    about["coordinate_system"] = about.pop("coordinatesystem")
    about["script"] = path.name
    return state, about
