"""Bad input, fuzzed: every input works or is refused with an ``XsweepError``.

Hypothesis throws arbitrary spaces (values, dims, distributions), override
paths and values, and manifest lines at the public API. An input may work
(and then what it builds must be usable) or raise an ``XsweepError``
subclass with a message; any other exception is a bug. Nothing may be left
half-written: a refused sweep leaves no directory, and reading a damaged
manifest changes no file. Each target's tally goes into the suite's summary.

CLI SPEC strings are fuzzed in ``tests/cli/test_cli.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.stats
import xarray as xr
from _harness import REPORT, Tally, record_fuzz
from distributed import Client
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import xsweep as xs
from _helpers import MISSIONS

pytestmark = [pytest.mark.reliability]

# --- strategies -------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # nan and infinities included
    st.complex_numbers(),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.datetimes(min_value=dt.datetime(1, 1, 1)),
    st.timedeltas(),
    st.builds(object),
)
arrays = hnp.arrays(
    dtype=st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
    shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
)
values = st.one_of(
    scalars,
    arrays,
    st.lists(scalars, max_size=4),
    st.lists(st.lists(scalars, max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), scalars, max_size=2),
    st.sets(st.integers(), max_size=3),
)
names = st.one_of(
    st.sampled_from(["Sat.SMA", "Sat.ECC", "TOF", "Sat.Epoch", "sample", "run_id", "step"]),
    st.sampled_from(["", " ", "Sat.", ".SMA", "Sat..SMA", "a.b.c.d", "1Sat.SMA", "Sat SMA"]),
    st.text(max_size=12),
    st.integers(),
    st.none(),
    st.tuples(st.text(max_size=3)),
)
numbers = st.one_of(st.floats(), st.integers(), st.text(max_size=4), st.none())
distributions = st.one_of(
    st.tuples(st.sampled_from(["normal", "uniform", "lognormal"]), numbers, numbers),
    st.tuples(st.sampled_from(["normal", "uniform", "lognormal", "beta", "", "Normal"])),
    st.lists(numbers, max_size=4).map(tuple),
    st.tuples(st.text(max_size=8), numbers, numbers, numbers),
    st.builds(scipy.stats.norm, st.floats(-1e3, 1e3), st.floats(1e-3, 1e3)),
    st.builds(scipy.stats.uniform, st.floats(-1e3, 1e3), st.floats(-1, 1e3)),
    st.builds(scipy.stats.poisson, st.floats(0.1, 10)),  # discrete: no continuous inverse CDF
    scalars,
)
seeds = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=4))
counts = st.one_of(st.integers(-3, 40), st.integers(1, 40), st.floats(), st.text(max_size=3))
dims = st.one_of(st.sampled_from(["sample", "mc", "case"]), st.text(max_size=6), st.integers())


# Inputs that ought to work, so that the fuzzing also reaches past the argument checks.
good_names = st.sampled_from(["Sat.SMA", "Sat.ECC", "TOF", "Sat.Epoch", "DC.MaxIter", "x_1"])
good_values = st.one_of(
    st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4),
    st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=4),
    st.lists(st.text(max_size=6), min_size=1, max_size=4),
    st.lists(
        st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
        min_size=1,
        max_size=3,
    ),
    st.floats(allow_nan=False),
)
good_distributions = st.one_of(
    st.tuples(st.just("normal"), st.floats(-1e6, 1e6), st.floats(1e-6, 1e6)),
    st.tuples(st.just("uniform"), st.floats(-1e6, 0), st.floats(1, 1e6)),
    st.tuples(st.just("lognormal"), st.floats(-5, 5), st.floats(1e-3, 2)),
)


def _builds() -> st.SearchStrategy[Callable[[], Any]]:
    """Calls of the space builders: with arguments that ought to work, and with junk."""
    good_fields = st.dictionaries(good_names, good_values, min_size=1, max_size=3)
    good_perturb = st.dictionaries(good_names, good_distributions, min_size=1, max_size=3)
    good_n, good_seed = st.integers(1, 40), st.one_of(st.none(), st.integers(0, 2**64))
    fields = st.one_of(
        st.dictionaries(st.one_of(good_names, names), st.one_of(good_values, values), max_size=3),
        values,
    )
    perturb = st.one_of(
        st.dictionaries(st.one_of(good_names, names), distributions, max_size=3), values
    )
    dim_map = st.one_of(st.dictionaries(names, dims, max_size=2), values)

    def grid(f: Any, d: Any) -> Callable[[], Any]:
        return lambda: xs.grid(f, dims=d)

    def samples(f: Any, d: Any) -> Callable[[], Any]:
        return lambda: xs.samples(f, dim=d)

    def mc(n: Any, p: Any, s: Any, d: Any) -> Callable[[], Any]:
        return lambda: xs.monte_carlo(n, p, seed=s, dim=d)

    def lhs(n: Any, p: Any, s: Any, d: Any) -> Callable[[], Any]:
        return lambda: xs.latin_hypercube(n, p, seed=s, dim=d)

    good_dim = st.just("sample")
    return st.one_of(
        st.builds(grid, good_fields, st.none()),
        st.builds(samples, good_fields, good_dim),
        st.builds(mc, good_n, good_perturb, good_seed, good_dim),
        st.builds(lhs, good_n, good_perturb, good_seed, good_dim),
        st.builds(grid, fields, st.one_of(st.none(), dim_map)),
        st.builds(samples, fields, st.one_of(good_dim, dims)),
        st.builds(mc, st.one_of(good_n, counts), perturb, st.one_of(good_seed, seeds), dims),
        st.builds(lhs, st.one_of(good_n, counts), perturb, st.one_of(good_seed, seeds), dims),
    )


def _check_usable(space: xs.Space) -> None:
    """A space that was accepted must plan, serialise and list its runs."""
    assert space.n_runs >= 1
    again = xs.Space.from_json(space.to_json())
    assert again.n_runs == space.n_runs
    first, last = space.run(0), space.run(space.n_runs - 1)
    assert space.run_id_of(last.index) == space.n_runs - 1
    json.dumps(first.overrides, default=str)
    assert len(space.runs()) == space.n_runs


def _attempt(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """``call()``'s result, or the exception it raised, checked to be a clean refusal."""
    try:
        return call(), None
    except Exception as exc:
        error = exc
    assert isinstance(error, xs.XsweepError), f"{type(error).__name__}: {error}"
    assert str(error).strip(), f"{type(error).__name__} without a message"
    return None, error


# --- spaces -----------------------------------------------------------------------------


def test_any_space_builds_or_is_refused() -> None:
    tally = Tally("spaces: grid, samples, monte_carlo, latin_hypercube")

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(build=_builds(), pick_dims=st.one_of(st.none(), st.none(), st.lists(dims, max_size=3)))
    def check(build: Callable[[], Any], pick_dims: list[Any] | None) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy on extreme parameters
            space, error = _attempt(lambda: xs.Space(build(), dims=pick_dims))
            if error is not None:
                tally.refuse(error)
                return
            _check_usable(space)
        tally.accepted += 1

    check()
    record_fuzz(tally)
    # The strategies reach both sides.
    assert tally.accepted > 20
    assert tally.refused > 20


@settings(max_examples=100, deadline=None)
@given(extra=st.dictionaries(names, values, min_size=1, max_size=2))
def test_merged_spaces_build_or_are_refused(extra: dict[Any, Any]) -> None:
    base = xs.monte_carlo(3, {"Sat.SMA": ("normal", 7000, 5)}, seed=1)
    part, error = _attempt(lambda: xs.grid(extra))
    if error is not None:
        return
    try:
        merged = xr.merge([base, part])
    except Exception:  # xarray's refusal (MergeError, a dtype clash), in the caller's code
        return
    space, error = _attempt(lambda: xs.Space(merged))
    if error is None:
        _check_usable(space)


# --- override paths and values, against real GMAT ---------------------------------------

override_paths = st.one_of(
    st.sampled_from(["Sat.SMA", "Sat.ECC", "Sat.Epoch", "Sat.DateFormat", "TOF", "Sat.DryMass"]),
    st.sampled_from(["Sat.NoSuchField", "NoSuchObject.SMA", "Sat", "Sat.SMA.X", "RF.Filename"]),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}(\.[A-Za-z][A-Za-z0-9_]{0,6}){0,2}", fullmatch=True),
)
override_values = st.one_of(
    st.floats(),
    st.integers(),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["01 Jan 2026 00:00:00.000", "UTCGregorian", "nan", "-1"]),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    hnp.from_dtype(np.dtype("float32")),
)


@pytest.mark.gmat
@pytest.mark.slow
def test_any_override_plans_runs_or_is_refused(client: Client, tmp_path: Path) -> None:
    """Through ``xs.run`` on real GMAT: refused before anything is written, or a sweep."""
    tally = Tally("override paths and values (xs.run on real GMAT)")

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(path=override_paths, value=override_values)
    def check(path: str, value: Any) -> None:
        out = tmp_path / uuid.uuid4().hex
        sweep, error = _attempt(
            # A huge TOF is a fine input: the run then ends as a timeout.
            lambda: xs.run(
                REPORT, xs.grid({path: [value]}), out=out, client=client, progress=False, timeout=5
            )
        )
        if error is not None:
            assert not out.exists(), f"a refused sweep left {sorted(out.rglob('*'))}"
            tally.refuse(error)
            return
        # A run GMAT rejects at run time is a recorded failure, not a crash.
        assert sweep.counts["pending"] == 0
        for rec in sweep.manifest.runs.values():
            assert rec.status == "ok" or rec.outcome.error, rec
        tally.accepted += 1
        shutil.rmtree(out)

    check()
    record_fuzz(tally)
    assert tally.accepted > 0
    assert tally.refused > 0


# --- manifest lines ---------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def small_sweep(client: Client, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 4-run sweep, two runs failed, whose manifest the cases damage."""
    out = tmp_path_factory.mktemp("fuzz") / "sweep"
    space = xs.grid({"Sat.SMA": [7000.0, 6200.0], "TOF": [60, 120]})  # 6200 km: inside Earth
    sweep = xs.run(MISSIONS / "leo_drag.script", space, out=out, client=client, progress=False)
    assert sweep.counts == {"ok": 2, "failed": 2, "pending": 0}
    return out


def _mutations(lines: list[bytes]) -> st.SearchStrategy[list[bytes]]:
    """A manifest with one line replaced, inserted, deleted or altered field by field."""
    records = [json.loads(line) for line in lines]
    keys = sorted({k for r in records for k in r} | {"kind", "run_id", "status", "outputs"})

    def altered(i: int, key: str, value: Any, drop: bool) -> list[bytes]:
        rec = dict(records[i])
        if drop:
            rec.pop(key, None)
        else:
            rec[key] = value
        return [*lines[:i], json.dumps(rec).encode(), *lines[i + 1 :]]

    def replaced(i: int, junk: bytes) -> list[bytes]:
        return [*lines[:i], junk, *lines[i + 1 :]]

    def inserted(i: int, junk: bytes) -> list[bytes]:
        return [*lines[:i], junk, *lines[i:]]

    def output_altered(i: int, key: str, value: Any) -> list[bytes]:
        rec = json.loads(lines[i])
        if rec.get("outputs"):
            rec["outputs"] = [{**rec["outputs"][0], key: value}]
        return [*lines[:i], json.dumps(rec).encode(), *lines[i + 1 :]]

    index = st.integers(0, len(lines) - 1)
    junk = st.one_of(
        st.binary(max_size=60),
        st.text(max_size=60).map(str.encode),
        json_values.map(lambda v: json.dumps(v).encode()),
    )
    return st.one_of(
        st.builds(altered, index, st.sampled_from(keys), json_values, st.booleans()),
        st.builds(replaced, index, junk),
        st.builds(inserted, st.integers(1, len(lines)), junk),
        st.builds(lambda i: [*lines[:i], *lines[i + 1 :]], index),
        st.builds(
            output_altered,
            st.integers(1, len(lines) - 1),
            st.sampled_from(["path", "kind", "name", "rows"]),
            st.one_of(json_values, st.sampled_from(["../../etc/passwd", "/etc/passwd", ""])),
        ),
    )


def _read_everything(sweep_dir: Path) -> None:
    """Every read-only entry point that reads the manifest."""
    sweep = xs.Sweep(sweep_dir)
    repr(sweep)
    counts = sweep.counts
    assert min(counts.values()) >= 0, counts  # a wrong count would be a silent wrong value
    assert sum(counts.values()) == sweep.n_runs, counts
    sweep.runs()
    sweep.failed()
    sweep.space  # noqa: B018
    for run_id, rec in sweep.manifest.runs.items():
        if rec.status == "ok":
            sweep.read(run_id)
    xs.to_dataframe(xs.open_sweep(sweep_dir).load())


def _files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.gmat
def test_any_manifest_line_reads_or_is_refused(small_sweep: Path, tmp_path: Path) -> None:
    lines = (small_sweep / "manifest.jsonl").read_bytes().splitlines()
    _read_everything(small_sweep)  # the undamaged sweep reads
    tally = Tally("manifest lines (Sweep, read, open_sweep, to_dataframe)")

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(damaged=_mutations(lines), torn=st.booleans())
    def check(damaged: list[bytes], torn: bool) -> None:
        out = tmp_path / uuid.uuid4().hex
        shutil.copytree(small_sweep, out)
        content = b"\n".join(damaged) + (b"" if torn else b"\n")
        (out / "manifest.jsonl").write_bytes(content)
        files = _files(out)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torn lines, a stale store: warned, not raised
            _, error = _attempt(lambda: _read_everything(out))
        if error is None:
            tally.accepted += 1
        else:
            tally.refuse(error)
        assert _files(out) == files  # reading writes nothing
        shutil.rmtree(out)

    check()
    record_fuzz(tally)
    assert tally.accepted > 10
    assert tally.refused > 10
