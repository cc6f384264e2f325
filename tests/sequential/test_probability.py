"""Rare-event probabilities (xs.probability): OpenTURNS' subset simulation on real runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

import xsweep as xs
from _helpers import DATA, cut_off

LIMIT = DATA / "missions" / "limit_state.script"  # y = a + b, by GMAT's arithmetic
NORMALS = {"a": ("normal", 0.0, 1.0), "b": ("normal", 0.0, 1.0)}
Y = [xs.derived.final(columns=["y"])]
T = 3.29  # P(a + b > 3.29) = Phi(-3.29 / sqrt(2)) ~ 0.01


def _alone(seed: int, n: int, p0: float) -> float:
    """OpenTURNS' own subset simulation of the same limit state, with no run at all."""
    import openturns as ot

    model = ot.SymbolicFunction(["u1", "u2"], ["u1 + u2"])
    ot.RandomGenerator.SetSeed(seed)
    output = ot.CompositeRandomVector(model, ot.RandomVector(ot.Normal(2)))
    algo = ot.SubsetSampling(ot.ThresholdEvent(output, ot.Greater(), T))
    algo.setConditionalProbability(p0)
    algo.setBlockSize(round(n * p0))
    algo.setMaximumOuterSampling(round(1 / p0))
    algo.run()
    return float(algo.getResult().getProbabilityEstimate())


def test_subset_simulation_of_a_known_probability_through_real_runs(tmp_path: Path) -> None:
    truth = float(norm.sf(T / np.sqrt(2)))
    got = xs.probability(LIMIT, NORMALS, ("y_final", ">", T), out=tmp_path / "s", n=200,
                         derive=Y, workers=2, progress=False)  # fmt: skip
    assert got.method == "subset"
    assert got.runs == xs.Sweep(tmp_path / "s").manifest.n_runs == 200 * len(got.thresholds)
    assert got.thresholds[-1] == T
    # Within three of its stated coefficients of variation of the exact value...
    assert abs(got.estimate - truth) <= 3 * got.cv * truth
    # ...and the very estimate OpenTURNS gives on the closed form, seed for seed: the
    # runs change nothing but where the numbers come from.
    assert got.estimate == pytest.approx(_alone(0, 200, 0.1), rel=1e-12)
    ds = xs.open_sweep(tmp_path / "s")
    assert ds.sizes["sample"] == got.runs
    y = ds["y_final"].values
    np.testing.assert_allclose(y, ds["a"].values + ds["b"].values, rtol=1e-14, atol=1e-14)


def test_monte_carlo_is_the_fraction_of_runs_in_the_event(tmp_path: Path) -> None:
    got = xs.probability(LIMIT, NORMALS, ("y_final", ">", 2.0), out=tmp_path / "mc",
                         method="monte-carlo", n=300, seed=4, derive=Y, workers=2,
                         progress=False)  # fmt: skip
    y = xs.open_sweep(tmp_path / "mc")["y_final"].values
    assert got.runs == y.size == 300
    assert got.estimate == (y > 2.0).mean()
    # The binomial standard error, of the sample variance (n - 1).
    assert got.cv == pytest.approx(np.sqrt((1 - got.estimate) / (299 * got.estimate)), rel=1e-9)


def test_a_killed_estimate_resumes_to_the_same_runs_and_value(tmp_path: Path) -> None:
    options = {"n": 100, "p0": 0.1, "seed": 3, "derive": Y, "workers": 2, "progress": False}
    whole = xs.probability(LIMIT, NORMALS, ("y_final", ">", T), out=tmp_path / "w", **options)
    cut = Path(shutil.copytree(tmp_path / "w", tmp_path / "c"))
    # A kill in the second level's fourth batch (runs 130-139): 5 of its runs recorded.
    cut_off(cut, 135, 140)
    assert xs.Sweep(cut).counts["pending"] == 5
    again = xs.probability(LIMIT, NORMALS, ("y_final", ">", T), out=cut, **options)
    assert again.estimate == whole.estimate
    assert again.runs == whole.runs
    mine, theirs = xs.Sweep(cut).runs().sort_index(), xs.Sweep(tmp_path / "w").runs().sort_index()
    assert mine[["a", "b"]].equals(theirs[["a", "b"]])
    # Other arguments do not reuse these runs: they are refused, named.
    with pytest.raises(xs.ConfigError, match="not the points this design asks for"):
        xs.probability(LIMIT, NORMALS, ("y_final", ">", T), out=cut, **dict(options, seed=4))


def test_bad_events_and_sizes_are_refused(tmp_path: Path) -> None:
    for event, match in ((("y_final", "!=", 1.0), "one of"), (("y_final", ">"), "event must")):
        with pytest.raises(xs.ConfigError, match=match):
            xs.probability(LIMIT, NORMALS, event, out=tmp_path / "x")  # type: ignore[arg-type]
    with pytest.raises(xs.ConfigError, match="integers"):
        xs.probability(LIMIT, NORMALS, ("y_final", ">", T), out=tmp_path / "x", n=15, p0=0.1)
    with pytest.raises(xs.ConfigError, match="p0 must be"):
        xs.probability(LIMIT, NORMALS, ("y_final", ">", T), out=tmp_path / "x", p0=0.9)
    assert not (tmp_path / "x").exists()
