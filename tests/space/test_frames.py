"""State dispersions given in RIC around the script's nominal state (xs.state_block)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.space.frames import frame_matrix, to_inertial

SCRIPT = MISSIONS / "leo_report.script"  # Keplerian: SMA 7000, ECC 0.001, INC 28.5, TA 0
MU = 398600.4415  # GMAT's Earth gravitational parameter, km^3/s^2
# 100 m radial, 1 km in-track, 50 m cross-track; 0.1, 1, 0.1 m/s; radial / in-track coupled.
COV_RIC = np.diag([0.1, 1.0, 0.05, 1e-4, 1e-3, 1e-4]) ** 2
COV_RIC[0, 4] = COV_RIC[4, 0] = -0.5 * 0.1 * 1e-3


def _keplerian_state(a: float, e: float, inc: float) -> np.ndarray:
    """Cartesian state at periapsis (RAAN = AOP = TA = 0), from the vis-viva equation."""
    r = a * (1 - e)
    v = np.sqrt(MU / a * (1 + e) / (1 - e))
    i = np.radians(inc)
    return np.array([r, 0.0, 0.0, 0.0, v * np.cos(i), v * np.sin(i)])


def test_the_ric_axes_are_radial_in_track_and_cross_track() -> None:
    state = _keplerian_state(7000.0, 0.001, 28.5)
    t = frame_matrix(state, "RIC")
    rot = t[:3, :3]
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-15)
    np.testing.assert_allclose(rot[:, 0], state[:3] / np.linalg.norm(state[:3]))
    h = np.cross(state[:3], state[3:])
    np.testing.assert_allclose(rot[:, 2], h / np.linalg.norm(h))
    assert rot[:, 1] @ state[3:] > 0  # in-track points along the motion
    np.testing.assert_array_equal(t[3:, 3:], rot)
    for alias in ("RSW", "RTN"):
        assert np.all(frame_matrix(state, alias) == t)
    # Rotating: a radial offset dr seen from the frame needs omega x dr more inertial velocity.
    w = h / (state[:3] @ state[:3])
    spun = frame_matrix(state, "RIC", rotating=True)
    np.testing.assert_allclose(spun[3:, 0], np.cross(w, rot[:, 0]))
    back = np.linalg.inv(spun) @ spun
    np.testing.assert_allclose(back, np.eye(6), atol=1e-12)


def test_the_inertial_covariance_rotates_back_to_the_one_given() -> None:
    state = _keplerian_state(7000.0, 0.001, 28.5)
    mean, cov = to_inertial(state, COV_RIC, "RIC", mean=np.array([0.0, 2.0, 0, 0, 0, 0]))
    t = frame_matrix(state, "RIC")
    np.testing.assert_allclose(t.T @ cov @ t, COV_RIC, rtol=1e-12, atol=1e-15)  # eps of 1 km^2
    np.testing.assert_allclose(mean - state, t[:, 1] * 2.0)
    assert np.all(cov == cov.T)


def test_a_state_block_is_drawn_around_the_scripts_nominal_state() -> None:
    block = xs.state_block(SCRIPT, "Sat", COV_RIC, frame="RIC")
    ((fields, (kind, mean, cov)),) = block.items()
    assert fields == ("Sat.X", "Sat.Y", "Sat.Z", "Sat.VX", "Sat.VY", "Sat.VZ")
    assert kind == "mvnormal"
    # GMAT's own Keplerian-to-Cartesian conversion of the script's elements.
    np.testing.assert_allclose(mean, _keplerian_state(7000.0, 0.001, 28.5), rtol=1e-12)
    about = cov.attrs["xsweep_frame"]
    assert (about["frame"], about["coordinate_system"]) == ("RIC", "EarthMJ2000Eq")
    assert (about["epoch"], about["cov"]) == ("01 Jan 2026 12:00:00.000", COV_RIC.tolist())
    n = 20_000
    ds = xs.monte_carlo(n, block, seed=5)
    x = np.stack([ds[f].values for f in fields], axis=1)
    t = frame_matrix(mean, "RIC")
    ric = (x - mean) @ t  # each draw's offset in RIC (t is orthogonal)
    sample = np.cov(ric.T)
    se = np.sqrt((np.outer(np.diag(COV_RIC), np.diag(COV_RIC)) + COV_RIC**2) / n)
    assert np.all(np.abs(sample - COV_RIC) < 5 * se), (sample - COV_RIC) / se
    # The frame travels in the recipe; the space round-trips and extends bit-equal.
    recipe = json.loads(ds["Sat.VZ"].attrs["xsweep_draw"])
    assert recipe["joint"]["frame"]["nominal"] == mean.tolist()
    space = xs.Space(ds)
    assert xs.Space.from_json(space.to_json()).to_json() == space.to_json()
    grown = space.extended(10).dataset
    assert grown["Sat.X"].values[:n].tobytes() == ds["Sat.X"].values.tobytes()


def test_a_position_block_and_an_inertial_offset() -> None:
    cov = np.diag([1.0, 4.0, 9.0])
    ((fields, (_, mean, got)),) = xs.state_block(
        SCRIPT, "Sat", cov, frame="inertial", mean=[1.0, 0.0, 0.0]
    ).items()
    assert fields == ("Sat.X", "Sat.Y", "Sat.Z")
    assert mean.tolist() == [6994.0, 0.0, 0.0]
    assert got.values.tolist() == cov.tolist()


def test_bad_state_blocks_are_refused(tmp_path: Path) -> None:
    with pytest.raises(xs.SpaceError, match="unknown frame 'LVLH'"):
        xs.state_block(SCRIPT, "Sat", np.eye(3), frame="LVLH")
    with pytest.raises(xs.SpaceError, match=r"expected 3x3 .* or 6x6"):
        xs.state_block(SCRIPT, "Sat", np.eye(2))
    with pytest.raises(xs.SpaceError, match=r"not positive semi-definite: eigenvalue -1\.0"):
        xs.state_block(SCRIPT, "Sat", [[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(xs.ScriptNotFoundError):
        xs.state_block(tmp_path / "none.script", "Sat", np.eye(3))
    with pytest.raises(xs.FieldError, match="unknown object 'Sta'"):
        xs.state_block(SCRIPT, "Sta", np.eye(3))


def test_a_state_block_sweep_starts_gmat_at_the_drawn_states(tmp_path: Path) -> None:
    block = xs.state_block(SCRIPT, "Sat", COV_RIC)
    space = xs.monte_carlo(4, block, seed=2)
    sweep = xs.run(SCRIPT, space, out=tmp_path / "s", workers=1, progress=False)
    assert sweep.counts["ok"] == 4
    ds = xs.open_sweep(tmp_path / "s")
    for f in ("Sat.X", "Sat.Y", "Sat.Z"):
        # The report's column is renamed past the parameter; its first row is the state GMAT
        # started from (16 significant digits).
        first = ds[f"report_{f}"].isel(step=0)
        np.testing.assert_allclose(first.values, space[f].values, rtol=1e-12, atol=1e-9)


def test_the_cli_reads_a_ric_block_file(tmp_path: Path) -> None:
    from xsweep.cli.spaces import SpecError, build_space

    spec = {"spacecraft": "Sat", "frame": "RIC", "cov": COV_RIC.tolist()}
    (tmp_path / "ric.yaml").write_text(json.dumps(spec))  # JSON is YAML
    got = build_space(perturb_block=[str(tmp_path / "ric.yaml")], n=30, seed=4, script=str(SCRIPT))
    want = xs.monte_carlo(30, xs.state_block(SCRIPT, "Sat", COV_RIC), seed=4)
    for f in ("Sat.X", "Sat.VZ"):
        assert got[f].values.tobytes() == want[f].values.tobytes()
    with pytest.raises(SpecError, match="needs the script"):
        build_space(perturb_block=[str(tmp_path / "ric.yaml")], n=30, seed=4)
    (tmp_path / "bad.json").write_text(json.dumps({**spec, "sigma": 1}))
    with pytest.raises(SpecError, match="a state block takes"):
        build_space(perturb_block=[str(tmp_path / "bad.json")], n=3, script=str(SCRIPT))
