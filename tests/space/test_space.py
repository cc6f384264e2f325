"""The parameter space: semantics, determinism, serialisation, validation."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import xarray as xr
from hypothesis import given, strategies as st

import xsweep as xs
from xsweep.space.validation import DRAW_ATTR

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
dists = st.one_of(
    st.tuples(st.just("normal"), finite, st.floats(1e-3, 1e3)),
    st.tuples(st.just("uniform"), finite, finite).filter(lambda t: t[1] < t[2]),
    st.tuples(st.just("lognormal"), st.floats(-3, 3), st.floats(1e-2, 2)),
)
field_names = st.from_regex(r"[A-Z][a-z]{0,4}\.[A-Z][A-Za-z]{0,5}", fullmatch=True)


def unique_values(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[list[object]]:
    return st.lists(strategy, min_size=1, max_size=4, unique=True)


axis_values = st.one_of(
    unique_values(finite),
    unique_values(st.integers(-(10**9), 10**9)),
    unique_values(st.text("abcXYZ 01:", min_size=1, max_size=8)),
    st.just([True, False]),
    unique_values(
        st.datetimes(
            min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
            max_value=pd.Timestamp("2050-01-01").to_pydatetime(),
        )
    ),
)
grids = st.dictionaries(field_names, axis_values, min_size=1, max_size=3)


def _equal(a: xr.Dataset, b: xr.Dataset) -> None:
    xr.testing.assert_identical(a, b)
    for name in a.variables:
        assert a[name].values.tobytes() == b[name].values.tobytes()


# --- semantics ----------------------------------------------------------------------


@given(grids)
def test_grid_is_itertools_product(fields: dict[str, list[object]]) -> None:
    space = xs.Space(xs.grid(fields))
    expected = list(itertools.product(*fields.values()))
    assert space.n_runs == len(expected)
    for run, point in zip(space, expected, strict=True):
        got = tuple(run.overrides[f] for f in fields)
        assert [pd.Timestamp(g) if isinstance(g, np.datetime64) else g for g in got] == [
            pd.Timestamp(p) if hasattr(p, "year") else p for p in point
        ]


@given(st.integers(1, 6), st.lists(field_names, min_size=1, max_size=3, unique=True))
def test_samples_are_zip(n: int, names: list[str]) -> None:
    columns = {name: [float(i * 10 + k) for i in range(n)] for k, name in enumerate(names)}
    space = xs.Space(xs.samples(columns))
    rows = list(zip(*columns.values(), strict=True))
    assert [tuple(r.overrides[c] for c in names) for r in space] == rows
    assert [r.labels["sample"] for r in space] == list(range(n))


@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.data())
def test_run_id_index_bijection(shape: list[int], data: st.DataObject) -> None:
    fields = {f"O{i}.F": list(range(n)) for i, n in enumerate(shape)}
    space = xs.Space(xs.grid(fields))
    ids = list(range(space.n_runs))
    indices = [space.index_of(i) for i in ids]
    assert len(set(indices)) == space.n_runs
    assert [space.run_id_of(ix) for ix in indices] == ids
    assert indices == list(itertools.product(*(range(n) for n in shape)))  # C order
    rid = data.draw(st.sampled_from(ids))
    assert space.run(rid).index == indices[rid]


def test_mixed_monte_carlo_times_grid() -> None:
    mc = xs.monte_carlo(4, {"Sat.SMA": ("normal", 7000, 5)}, seed=3)
    mixed = xr.merge([mc, xs.grid({"Sat.INC": [28.5, 51.6, 98.0]})])
    space = xs.Space(mixed, dims=("sample", "Sat.INC"))
    assert space.dims == ("sample", "Sat.INC")
    assert space.n_runs == 12
    runs = space.runs()
    assert list(runs.columns) == ["sample", "Sat.SMA", "Sat.INC"]
    expected = [
        (s, sma, inc) for (s, sma) in enumerate(mc["Sat.SMA"].values) for inc in (28.5, 51.6, 98.0)
    ]
    assert list(runs.itertuples(index=False, name=None)) == expected


def test_labels_are_not_overrides() -> None:
    space = xs.grid({"Sat.SMA": [7000, 7100]}, dims={"Sat.SMA": "sma"})
    space = space.assign_coords(note=("sma", ["low", "high"]))
    s = xs.Space(space)
    assert s.fields == ("Sat.SMA",)
    assert set(s.labels) == {"sma", "note"}
    assert s.run(1).overrides == {"Sat.SMA": 7100}
    assert s.run(1).labels == {"sma": 7100, "note": "high"}
    assert float(space["Sat.SMA"].sel(sma=7100)) == 7100


def test_variable_grid_axis_and_user_dataset() -> None:
    assert xs.Space(xs.grid({"TOF": [60, 120]})).fields == ("TOF",)
    user = xr.Dataset({"Burn1.Element1": ("dv", [0.1, 0.2])}, coords={"Sat.SMA": [7000, 7100]})
    s = xs.Space(user)
    assert s.fields == ("Burn1.Element1", "Sat.SMA")
    assert s.n_runs == 4


def test_value_kinds_and_runs_frame() -> None:
    epochs = np.array(["2026-01-01T00:00", "2026-06-01T12:00"], dtype="datetime64[ns]")
    space = xs.Space(
        xs.grid(
            {
                "Sat.Epoch": epochs,
                "FM.Drag.AtmosphereModel": ["Exponential", "JacchiaRoberts"],
                "RF.WriteHeaders": [True, False],
                "DC.MaximumIterations": [10, 25],
            }
        )
    )
    run = space.run(space.n_runs - 1)
    assert run.overrides == {
        "Sat.Epoch": np.datetime64("2026-06-01T12:00", "ns"),
        "FM.Drag.AtmosphereModel": "JacchiaRoberts",
        "RF.WriteHeaders": False,
        "DC.MaximumIterations": 25,
    }
    frame = space.runs()
    assert frame.index.name == "run_id"
    assert len(frame) == 16
    assert frame["Sat.Epoch"].dtype == "datetime64[ns]"
    assert "16 runs" in repr(space)


def test_large_space_lists_runs_vectorised() -> None:
    space = xs.Space(xs.grid({"A.X": np.arange(100.0), "B.Y": np.arange(1000)}))
    frame = space.runs()
    assert len(frame) == 100_000
    assert frame.loc[54_321].tolist() == [54.0, 321]
    assert space.run(54_321).overrides == {"A.X": 54.0, "B.Y": 321}


# --- determinism --------------------------------------------------------------------


@given(st.integers(1, 40), dists, st.integers(0, 2**64), st.sampled_from(["mc", "lhs"]))
def test_same_inputs_same_bits(n: int, dist: tuple[object, ...], seed: int, kind: str) -> None:
    make = xs.monte_carlo if kind == "mc" else xs.latin_hypercube
    _equal(make(n, {"Sat.SMA": dist}, seed=seed), make(n, {"Sat.SMA": dist}, seed=seed))


@given(st.integers(1, 30), dists, dists, st.integers(0, 2**32), st.sampled_from(["mc", "lhs"]))
def test_adding_a_field_keeps_other_draws(
    n: int, d1: tuple[object, ...], d2: tuple[object, ...], seed: int, kind: str
) -> None:
    make = xs.monte_carlo if kind == "mc" else xs.latin_hypercube
    alone = make(n, {"Sat.SMA": d1}, seed=seed)
    both = make(n, {"Sat.ECC": d2, "Sat.SMA": d1}, seed=seed)
    assert alone["Sat.SMA"].values.tobytes() == both["Sat.SMA"].values.tobytes()


@given(
    st.integers(1, 30),
    st.integers(1, 30),
    dists,
    st.integers(0, 2**32),
    st.sampled_from(["mc", "lhs"]),
)
def test_extension_keeps_prefix_and_ids(
    n: int, m: int, dist: tuple[object, ...], seed: int, kind: str
) -> None:
    make = xs.monte_carlo if kind == "mc" else xs.latin_hypercube
    base = xr.merge([xs.grid({"Sat.INC": [28.5, 98.0]}), make(n, {"Sat.SMA": dist}, seed=seed)])
    old = xs.Space(base, dims=("Sat.INC", "sample"))  # the random dim is not the first
    new = old.extended(m)
    assert new.dims == old.dims == ("Sat.INC", "sample")
    assert new.n_runs == 2 * (n + m)
    prefix = new.dataset["Sat.SMA"].values[:n]
    assert prefix.tobytes() == base["Sat.SMA"].values.tobytes()
    for rid in range(old.n_runs):  # an existing id keeps its meaning
        assert new.run(rid) == old.run(rid)
    assert {new.run(r).labels["sample"] for r in range(old.n_runs, new.n_runs)} == set(
        range(n, n + m)
    )
    if kind == "mc":  # Monte Carlo: one stream, extension = a longer prefix-stable draw
        direct = make(n + m, {"Sat.SMA": dist}, seed=seed)["Sat.SMA"].values
        assert new.dataset["Sat.SMA"].values.tobytes() == direct.tobytes()
    # the extended space round-trips and verifies against its recipe
    again = xs.Space.from_json(new.to_json())
    assert [again.index_of(r) for r in range(again.n_runs)] == [
        new.index_of(r) for r in range(new.n_runs)
    ]


@given(st.integers(1, 60), st.integers(0, 2**32), st.floats(-100, 100), st.floats(1, 100))
def test_lhs_one_point_per_stratum(n: int, seed: int, lo: float, width: float) -> None:
    lhs = xs.latin_hypercube(
        n, {"A.X": ("uniform", lo, lo + width), "A.Y": ("normal", 0, 1)}, seed=seed
    )
    u_x = (lhs["A.X"].values - lo) / width
    u_y = scipy.stats.norm.cdf(lhs["A.Y"].values)
    for u in (u_x, u_y):
        strata = np.floor(u * n).astype(int)
        assert sorted(strata.tolist()) == list(range(n))


def test_lhs_extension_blocks_are_each_stratified() -> None:
    space = xs.Space(xs.latin_hypercube(10, {"A.X": ("uniform", 0, 1)}, seed=7)).extended(5)
    values = space.dataset["A.X"].values
    assert sorted(np.floor(values[:10] * 10).astype(int).tolist()) == list(range(10))
    assert sorted(np.floor(values[10:] * 5).astype(int).tolist()) == list(range(5))


def test_unseeded_draw_records_entropy() -> None:
    space = xs.monte_carlo(5, {"Sat.SMA": ("normal", 7000, 1)})
    recipe = json.loads(space["Sat.SMA"].attrs[DRAW_ATTR])
    assert int(recipe["entropy"]) > 2**64  # 128 bits of OS entropy
    rebuilt = xs.monte_carlo(5, {"Sat.SMA": ("normal", 7000, 1)}, seed=int(recipe["entropy"]))
    _equal(space, rebuilt)


# --- serialisation ------------------------------------------------------------------


@given(grids)
def test_grid_json_round_trip(fields: dict[str, list[object]]) -> None:
    space = xs.Space(xs.grid(fields))
    back = xs.Space.from_json(space.to_json())
    _equal(space.dataset, back.dataset)
    assert back.dims == space.dims


@given(st.integers(1, 20), dists, dists, st.integers(0, 2**128 - 1))
def test_random_and_mixed_json_round_trip(
    n: int, d1: tuple[object, ...], d2: tuple[object, ...], seed: int
) -> None:
    space = xr.merge(
        [
            xs.latin_hypercube(n, {"Sat.SMA": d1}, seed=seed, dim="lhs"),
            xs.monte_carlo(n, {"Sat.ECC": d2}, seed=seed),
            xs.grid({"Sat.INC": [28.5, 51.6]}, dims={"Sat.INC": "inc"}),
        ]
    )
    back = xs.Space.from_json(xs.Space(space).to_json())
    _equal(xs.Space(space).dataset, back.dataset)


def test_scipy_distributions_recipe_or_value() -> None:
    space = xs.monte_carlo(
        20,
        {
            "Sat.SMA": scipy.stats.truncnorm(-2, 2, loc=7000, scale=10),
            "Sat.ECC": scipy.stats.rv_histogram(np.histogram([0.001, 0.002, 0.002, 0.004])),
        },
        seed=11,
    )
    sma = json.loads(space["Sat.SMA"].attrs[DRAW_ATTR])["dist"]
    ecc = json.loads(space["Sat.ECC"].attrs[DRAW_ATTR])["dist"]
    assert sma == {"scipy": "truncnorm", "args": [-2, 2], "kwds": {"loc": 7000, "scale": 10}}
    assert ecc is None  # data-backed: stored by value
    back = xs.Space.from_json(xs.Space(space).to_json())
    _equal(space, back.dataset)
    with pytest.raises(xs.SpaceError, match="stored by value"):
        back.extended(3)


def test_tampered_values_are_an_error() -> None:
    text = xs.Space(xs.monte_carlo(5, {"Sat.SMA": ("normal", 7000, 5)}, seed=1)).to_json()
    data = json.loads(text)
    data["variables"]["Sat.SMA"]["values"][3] += 1e-9
    with pytest.raises(xs.SpaceError, match="differ from its recipe"):
        xs.Space.from_dict(data)


# --- validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: xs.grid({}), "at least one field"),
        (lambda: xs.grid({"Sat.SMA": []}), "empty"),
        (lambda: xs.grid({"Sat.SMA": [7000, 7000]}), "duplicate labels"),
        (lambda: xs.grid({"Sat.SMA": [7000, float("nan")]}), "finite"),
        (lambda: xs.grid({"Sat.SMA": [7000, float("inf")]}), "finite"),
        (lambda: xs.grid({"Sat.SMA": [1, "a"]}), "mix types"),
        (lambda: xs.grid({"Sat SMA": [1]}), "not a GMAT field path"),
        (lambda: xs.grid({"Sat.": [1]}), "not a GMAT field path"),
        (lambda: xs.grid({"Sat.SMA": [1]}, dims={"Sat.SMA": "step"}), "reserve"),
        (lambda: xs.grid({"Sat.SMA": [1]}, dims={"Sat.INC": "inc"}), "not in the grid"),
        (lambda: xs.samples({"A.X": [1, 2], "A.Y": [1]}), "differ in length"),
        (lambda: xs.samples({}), "at least one column"),
        (lambda: xs.samples({"A.X": [1]}, dim="run_id"), "reserve"),
        (lambda: xs.monte_carlo(0, {"A.X": ("normal", 0, 1)}), "n must be"),
        (lambda: xs.monte_carlo(2.5, {"A.X": ("normal", 0, 1)}), "n must be"),  # type: ignore[arg-type]
        (lambda: xs.monte_carlo(3, {}), "at least one field"),
        (lambda: xs.monte_carlo(3, {"A.X": ("gauss", 0, 1)}), "unknown distribution"),
        (lambda: xs.monte_carlo(3, {"A.X": ("normal", 0, 0)}), "sigma > 0"),
        (lambda: xs.monte_carlo(3, {"A.X": ("normal", 0, -1)}), "sigma > 0"),
        (lambda: xs.monte_carlo(3, {"A.X": ("uniform", 2, 1)}), "lo < hi"),
        (lambda: xs.monte_carlo(3, {"A.X": ("uniform", 1, 1)}), "lo < hi"),
        (lambda: xs.monte_carlo(3, {"A.X": ("normal", float("nan"), 1)}), "finite"),
        (lambda: xs.latin_hypercube(3, {"A.X": ("lognormal", 0, float("inf"))}), "finite"),
        (lambda: xs.monte_carlo(3, {"A.X": ("normal", "0", 1)}), "real number"),
        (lambda: xs.monte_carlo(3, {"A.X": "normal"}), "expected"),
        (lambda: xs.monte_carlo(3, {"A.X": ("normal", 0, 1)}, seed=-1), "seed"),
        (lambda: xs.Space(xr.Dataset()), "no fields"),
        (lambda: xs.Space(xr.Dataset({"A.X": ("x", [1j])})), "complex"),
    ],
)
def test_bad_input(build: object, match: str) -> None:
    with pytest.raises(xs.SpaceError, match=match) as info:
        build()  # type: ignore[operator]
    assert isinstance(info.value, ValueError)


def test_extending_a_grid_is_an_error() -> None:
    with pytest.raises(xs.SpaceError, match=r"extend only a Monte Carlo.*grid dim new values"):
        xs.Space(xs.grid({"A.X": [1]})).extended(2)
    mixed = xr.merge(
        [xs.samples({"A.Y": [1.0, 2.0]}), xs.monte_carlo(2, {"A.X": ("normal", 0, 1)})]
    )
    with pytest.raises(xs.SpaceError, match="have no recipe"):
        xs.Space(mixed).extended(1)


def test_lognormal_mu_that_overflows_is_a_space_error() -> None:
    # Found by fuzzing the CLI's --perturb grammar: exp(710) overflows a float.
    with pytest.raises(xs.SpaceError, match="too large"):
        xs.monte_carlo(1, {"Sat.SMA": ("lognormal", 710.0, 1.0)}, seed=0)
