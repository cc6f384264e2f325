"""Correlated (covariance) draws and quasi-random designs: seeded, extendable, checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.stats import qmc as scipy_qmc

import xsweep as xs
from _helpers import MISSIONS

FIELDS = ("Sat.X", "Sat.Y", "Sat.Z")
MEAN = [7000.0, 0.0, 10.0]
COV = np.array([[4.0, 1.5, -0.6], [1.5, 2.0, 0.3], [-0.6, 0.3, 1.0]])


def _block(n: int, seed: int = 7, **extra: object) -> xr.Dataset:
    return xs.monte_carlo(n, {FIELDS: ("mvnormal", MEAN, COV), **extra}, seed=seed)


def test_the_sample_covariance_matches_cov() -> None:
    n = 20_000
    ds = _block(n)
    x = np.stack([ds[f].values for f in FIELDS])
    sample = np.cov(x)
    # The standard error of a sample covariance of normals: sqrt((s_ii s_jj + s_ij^2) / n).
    se = np.sqrt((np.outer(np.diag(COV), np.diag(COV)) + COV**2) / n)
    assert np.all(np.abs(sample - COV) < 5 * se), (sample - COV) / se
    assert np.all(np.abs(x.mean(axis=1) - MEAN) < 5 * np.sqrt(np.diag(COV) / n))


def test_extending_and_adding_fields_keep_the_block_bit_equal() -> None:
    base = _block(500)
    grown = xs.Space(base).extended(300).dataset
    other = _block(500, **{"Sat.INC": ("normal", 28.5, 0.1)})
    for f in FIELDS:
        assert grown[f].values[:500].tobytes() == base[f].values.tobytes()
        assert other[f].values.tobytes() == base[f].values.tobytes()
    # The grown draw is the one a space of 800 would have drawn.
    for f in FIELDS:
        assert grown[f].values.tobytes() == _block(800)[f].values.tobytes()


def test_the_recipe_round_trips_through_the_manifest_form() -> None:
    space = xs.Space(_block(50))
    text = space.to_json()
    again = xs.Space.from_json(text)  # redraws every field and compares bits
    assert again.to_json() == text
    recipe = json.loads(base_attrs := space.dataset["Sat.Y"].attrs["xsweep_draw"])
    assert recipe["joint"]["fields"] == list(FIELDS)
    assert recipe["joint"]["cov"] == COV.tolist()
    assert base_attrs == space.dataset["Sat.X"].attrs["xsweep_draw"]  # one recipe per block


def test_a_labelled_cov_is_checked_and_reordered() -> None:
    order = ["Sat.Z", "Sat.X", "Sat.Y"]
    idx = [FIELDS.index(f) for f in order]
    labelled = xr.DataArray(COV[np.ix_(idx, idx)], dims=("row", "col"),
                            coords={"row": order, "col": order})  # fmt: skip
    a = xs.monte_carlo(100, {FIELDS: ("mvnormal", MEAN, labelled)}, seed=3)
    b = xs.monte_carlo(100, {FIELDS: ("mvnormal", MEAN, COV)}, seed=3)
    for f in FIELDS:
        assert a[f].values.tobytes() == b[f].values.tobytes()
    wrong = labelled.assign_coords(row=["Sat.Z", "Sat.X", "Sat.VX"])
    with pytest.raises(xs.SpaceError, match="must name the block's fields"):
        xs.monte_carlo(10, {FIELDS: ("mvnormal", MEAN, wrong)}, seed=3)


@pytest.mark.parametrize(
    ("cov", "match"),
    [
        ([[1.0, 2.0], [2.0, 1.0]], r"not positive semi-definite: eigenvalue -1\.0"),
        ([[1.0, 0.5], [0.4, 1.0]], r"not symmetric: cov\[0, 1\] = 0\.5 but cov\[1, 0\] = 0\.4"),
        ([[1.0, 0.0, 0.0]], r"cov has shape \(1, 3\), expected \(2, 2\)"),
        ([[1.0, np.nan], [np.nan, 1.0]], "must be finite"),
    ],
)
def test_a_bad_cov_is_refused(cov: object, match: str) -> None:
    with pytest.raises(xs.SpaceError, match=match):
        xs.monte_carlo(10, {("A.X", "A.Y"): ("mvnormal", [0.0, 0.0], cov)}, seed=1)


def test_a_singular_cov_draws_on_its_subspace() -> None:
    # Y = 2 X exactly: rank 1, positive semi-definite.
    ds = xs.monte_carlo(1000, {("A.X", "A.Y"): ("mvnormal", [0, 0], [[1, 2], [2, 4]])}, seed=2)
    np.testing.assert_allclose(ds["A.Y"].values, 2 * ds["A.X"].values, atol=1e-9)


def test_bad_blocks_are_refused() -> None:
    with pytest.raises(xs.SpaceError, match="drawn twice"):
        xs.monte_carlo(10, {("A.X", "A.Y"): ("mvnormal", [0, 0], np.eye(2)),
                            "A.X": ("normal", 0, 1)}, seed=1)  # fmt: skip
    with pytest.raises(xs.SpaceError, match="takes 'mvnormal'"):
        xs.monte_carlo(10, {("A.X", "A.Y"): ("normal", 0, 1)}, seed=1)
    with pytest.raises(xs.SpaceError, match="mean has shape"):
        xs.monte_carlo(10, {("A.X", "A.Y"): ("mvnormal", [0], np.eye(2))}, seed=1)


def test_a_scrambled_sobol_design_is_more_even_than_monte_carlo() -> None:
    n, fields = 256, {f"A.P{i}": ("uniform", 0.0, 1.0) for i in range(3)}
    sobol = xs.qmc(n, fields, seed=5)
    mc = xs.monte_carlo(n, fields, seed=5)

    def points(ds: xr.Dataset) -> np.ndarray:
        return np.stack([ds[f].values for f in fields], axis=1)

    assert scipy_qmc.discrepancy(points(sobol)) < scipy_qmc.discrepancy(points(mc)) / 5


@pytest.mark.parametrize("method", ["sobol", "halton", "lhs"])
def test_qmc_designs_extend_and_round_trip(method: str) -> None:
    spec = {
        "A.P": ("normal", 1.0, 2.0),
        "A.Q": ("uniform", 0.0, 1.0),
        ("A.X", "A.Y"): ("mvnormal", [0, 0], [[1, 0.5], [0.5, 1]]),
    }
    design = xs.qmc(32, spec, method=method, seed=9)  # type: ignore[arg-type]
    space = xs.Space(design)
    assert xs.Space.from_json(space.to_json()).to_json() == space.to_json()
    grown = space.extended(32).dataset
    for f in ("A.P", "A.Q", "A.X", "A.Y"):
        assert grown[f].values[:32].tobytes() == design[f].values.tobytes()
    if method == "lhs":  # one Latin hypercube per block: each fills its 32 strata of A.Q
        for part in (grown["A.Q"].values[:32], grown["A.Q"].values[32:]):
            assert np.sort(np.floor(part * 32)).tolist() == list(range(32))
    else:  # a sequence: the grown design is the 64-point one
        whole = xs.qmc(64, spec, method=method, seed=9)  # type: ignore[arg-type]
        for f in ("A.P", "A.X"):
            assert grown[f].values.tobytes() == whole[f].values.tobytes()
    with pytest.raises(xs.SpaceError, match="method must be one of"):
        xs.qmc(8, spec, method="random")  # type: ignore[arg-type]


def test_a_correlated_sweep_runs_resumes_and_extends(tmp_path: Path) -> None:
    cov = [[25.0, 0.4], [0.4, 0.01]]  # km^2, km deg: SMA and INC errors, correlated
    space = xs.monte_carlo(6, {("Sat.SMA", "Sat.INC"): ("mvnormal", [7000.0, 28.5], cov)},
                           seed=11)  # fmt: skip
    out = tmp_path / "s"
    sweep = xs.run(MISSIONS / "leo_report.script", space, out=out, workers=1, progress=False)
    assert sweep.counts["ok"] == 6
    got = sweep.runs()["Sat.SMA"].to_numpy()
    assert got.tobytes() == space["Sat.SMA"].values.tobytes()  # what GMAT got, bit for bit
    sweep = xs.extend(out, 3, workers=1, progress=False)
    assert sweep.counts["ok"] == 9
    grown = xs.monte_carlo(9, {("Sat.SMA", "Sat.INC"): ("mvnormal", [7000.0, 28.5], cov)},
                           seed=11)  # fmt: skip
    assert sweep.runs()["Sat.INC"].to_numpy().tobytes() == grown["Sat.INC"].values.tobytes()
    ds = xs.open_sweep(out)
    assert ds["Sat.INC"].sizes == {"sample": 9}


def test_a_block_file_in_json_yaml_or_csv_gives_the_same_space(tmp_path: Path) -> None:
    from xsweep.cli.spaces import SpecError, build_space

    fields = ["Sat.SMA", "Sat.INC"]
    mean, cov = [7000.0, 28.5], [[25.0, 0.4], [0.4, 0.01]]
    (tmp_path / "b.json").write_text(json.dumps({"fields": fields, "mean": mean, "cov": cov}))
    (tmp_path / "b.yaml").write_text(
        "fields: [Sat.SMA, Sat.INC]\nmean: [7000.0, 28.5]\ncov: [[25.0, 0.4], [0.4, 0.01]]\n"
    )
    (tmp_path / "b.csv").write_text(
        ",Sat.SMA,Sat.INC\nmean,7000.0,28.5\nSat.INC,0.4,0.01\nSat.SMA,25.0,0.4\n"
    )  # rows in any order: labelled
    want = xs.monte_carlo(20, {tuple(fields): ("mvnormal", mean, cov)}, seed=4)
    for name in ("b.json", "b.yaml", "b.csv"):
        got = build_space(perturb_block=[str(tmp_path / name)], n=20, seed=4)
        assert got["Sat.INC"].values.tobytes() == want["Sat.INC"].values.tobytes(), name
    (tmp_path / "bad.json").write_text(json.dumps({"fields": fields, "mean": mean}))
    with pytest.raises(SpecError, match="expected fields, mean and cov"):
        build_space(perturb_block=[str(tmp_path / "bad.json")], n=20, seed=4)


def test_the_cli_runs_a_qmc_design_with_a_block(tmp_path: Path) -> None:
    import subprocess
    import sys

    block = {"fields": ["Sat.SMA", "Sat.INC"], "mean": [7000.0, 28.5],
             "cov": [[25.0, 0.4], [0.4, 0.01]]}  # fmt: skip
    (tmp_path / "b.json").write_text(json.dumps(block))
    proc = subprocess.run(
        [sys.executable, "-m", "xsweep", "qmc", str(MISSIONS / "leo_report.script"),
         "--n", "8", "--method", "sobol", "--perturb-block", str(tmp_path / "b.json"),
         "--perturb", "Sat.RAAN=uniform:0:10", "--seed", "3", "--workers", "1",
         "--no-progress", "--out", str(tmp_path / "q")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The design's columns: the --perturb fields, then the blocks' (as the CLI gives them).
    want = xs.qmc(8, {"Sat.RAAN": ("uniform", 0, 10),
                      ("Sat.SMA", "Sat.INC"): ("mvnormal", block["mean"], block["cov"])},
                  seed=3)  # fmt: skip
    runs = xs.Sweep(tmp_path / "q").runs()
    assert runs["Sat.INC"].to_numpy().tobytes() == want["Sat.INC"].values.tobytes()
    assert runs["Sat.RAAN"].to_numpy().tobytes() == want["Sat.RAAN"].values.tobytes()


def test_a_latin_hypercube_block_stratifies_each_member() -> None:
    from scipy.stats import norm

    ds = xs.latin_hypercube(40, {("A.X", "A.Y"): ("mvnormal", [1.0, 2.0], np.eye(2))}, seed=8)
    for f, mu in (("A.X", 1.0), ("A.Y", 2.0)):
        strata = np.floor(norm.cdf(ds[f].values - mu) * 40)
        assert sorted(strata.tolist()) == list(range(40))
    assert xs.Space.from_json(xs.Space(ds).to_json()).n_runs == 40
