"""Derived quantities: derive= on real sweeps, re-deriving without GMAT, the built-ins."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import xsweep as xs
from _helpers import MISSIONS
from xsweep.core.hooks import DeriveResult, decode, encode, kind_of, resolve
from xsweep.store.derived import Schema

REPORT = MISSIONS / "leo_report.script"


def alt_final(outputs: Any, params: Any) -> dict[str, Any]:
    """A derive function of this module: importable, so shipped by reference."""
    altitude = outputs["RF"]["Sat.Earth.Altitude"]
    return {"alt_km": xs.Quantity(float(altitude.iloc[-1]), "km", "final altitude")}


def rows(outputs: Any, params: Any) -> dict[str, Any]:
    return {"rows": len(outputs["RF"])}


FRAGILE = """
def fn(outputs, params):
    if params["Sat.SMA"] >= 7150:
        raise RuntimeError("not yet")
    return {"sma_x2": 2 * params["Sat.SMA"], "end": outputs["RF"].iloc[-1, 0]}
"""


def _mtimes(path: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(path.glob("runs/*/*.parquet"))}


def _starts(sweep: xs.Sweep) -> dict[int, tuple[str, int]]:
    runs = sweep.manifest.runs
    return {i: (r.outcome.started, r.outcome.pid) for i, r in runs.items()}


def test_derive_on_a_real_sweep_then_rederive_without_gmat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fragile.py").write_text(FRAGILE)
    monkeypatch.syspath_prepend(str(tmp_path))
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0, 7300.0]})
    out = tmp_path / "s"
    # One worker: run 0 finishes first and tries the functions (they work there).
    sweep = xs.run(REPORT, space, out=out, workers=1, progress=False,
                   derive=[alt_final, "fragile:fn"])  # fmt: skip
    # Every GMAT run is ok; the raising function's runs are derive-failed, not failed.
    assert sweep.counts == {"ok": 4, "failed": 0, "pending": 0}
    assert sweep.derive_counts == {"ok": 2, "derive-failed": 2, "none": 0}
    ds = xs.open_sweep(out)
    assert ds["alt_km"].attrs["units"] == "km"
    assert np.isfinite(ds["alt_km"].values).all()
    assert np.isnan(ds["sma_x2"].sel({"Sat.SMA": [7200.0, 7300.0]}).values).all()
    assert ds["sma_x2"].sel({"Sat.SMA": 7100.0}).values.item() == 14200.0
    assert ds["end"].dtype.kind == "M"
    errors = ds["derive_error"].values.tolist()
    assert errors[:2] == ["", ""]
    assert all("fragile:fn: RuntimeError: not yet" in e for e in errors[2:])
    assert ds["derive_status"].values.tolist() == [1, 1, 2, 2]
    # The value is the run's own: its Parquet, read here independently.
    last = sweep.read(1)["Sat.Earth.Altitude"].iloc[-1]
    assert ds["alt_km"].sel({"Sat.SMA": 7100.0}).values.item() == last
    frame = sweep.derived()
    assert len(frame) == 4
    assert frame.index.name == "run_id"
    assert frame["derive_status"].tolist() == ["ok", "ok", "derive-failed", "derive-failed"]
    before_alt = ds["alt_km"].values.copy()
    files, starts = _mtimes(out), _starts(sweep)

    # Fixed: resume fills only the missing values, without running GMAT.
    (tmp_path / "fragile.py").write_text(FRAGILE.replace('raise RuntimeError("not yet")', "pass"))
    monkeypatch.delitem(sys.modules, "fragile")
    lines = len((out / "manifest.jsonl").read_text().splitlines())
    with pytest.warns(UserWarning, match="fragile:fn changed since the sweep recorded it"):
        sweep = xs.resume(out, workers=2, progress=False, rederive=True,
                          derive=[alt_final, "fragile:fn"])  # fmt: skip
    new = (out / "manifest.jsonl").read_text().splitlines()[lines:]
    kinds = [json.loads(line)["kind"] for line in new]
    assert kinds == ["derive", "run", "run"]  # the new version, then runs 2 and 3 only
    assert _mtimes(out) == files
    assert _starts(sweep) == starts
    ds = xs.open_sweep(out)
    assert ds["sma_x2"].values.tolist() == [14000.0, 14200.0, 14400.0, 14600.0]
    assert ds["derive_status"].values.tolist() == [1, 1, 1, 1]
    assert before_alt.tobytes() == ds["alt_km"].values.tobytes()  # bit-equal
    assert sweep.derive_counts == {"ok": 4, "derive-failed": 0, "none": 0}

    # Re-derived on the finished sweep: the same bytes as the live values, and a new one.
    xs.derive(out, [alt_final, rows], workers=2, progress=False)
    ds = xs.open_sweep(out)
    assert before_alt.tobytes() == ds["alt_km"].values.tobytes()
    assert ds["rows"].values.tolist() == [float(r.outcome.outputs[0].rows)
                                          for r in sweep.manifest.runs.values()]  # fmt: skip
    assert _mtimes(out) == files
    flat = ds[["alt_km", "sma_x2"]].xsweep.to_dataframe()  # derived values only: a row a run
    assert len(flat) == 4
    assert flat["sma_x2"].tolist() == [14000.0, 14200.0, 14400.0, 14600.0]
    frame = ds.xsweep.derived()
    assert list(frame.index) == [0, 1, 2, 3]
    assert {"Sat.SMA", "alt_km", "sma_x2", "rows", "derive_status"} <= set(frame.columns)
    assert frame.loc[2, "sma_x2"] == 14400.0

    # From a bundle into a new directory: the bundle is not touched.
    bundle = xs.archive(out)
    stamp = bundle.stat().st_mtime_ns
    copy = xs.derive(bundle, xs.derived.final("RF", ["Sat.Earth.Altitude"]), out=tmp_path / "c",
                     workers=1, progress=False)  # fmt: skip
    assert bundle.stat().st_mtime_ns == stamp
    ds = xs.open_sweep(copy.path)
    assert ds["Sat.Earth.Altitude_final"].values.tobytes() == before_alt.tobytes()
    assert np.isfinite(ds["rows"].values).all()  # what the bundle carried


def test_a_crashing_or_hanging_function_fails_only_its_value(tmp_path: Path) -> None:
    def bad(outputs: Any, params: Any) -> dict[str, Any]:
        if params["Sat.SMA"] == 7100.0:
            os._exit(3)  # kills the child that calls it
        if params["Sat.SMA"] == 7200.0:
            time.sleep(60)
        return {"n": len(outputs["RF"])}

    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0]})
    t0 = time.monotonic()
    sweep = xs.run(REPORT, space, out=tmp_path / "s", workers=1, progress=False, timeout=3.0,
                   derive=bad)  # fmt: skip
    assert time.monotonic() - t0 < 40
    assert sweep.counts["ok"] == 3
    status = sweep.derived()
    assert status["derive_status"].tolist() == ["ok", "derive-failed", "derive-failed"]
    errors = status["derive_error"].tolist()
    assert "crashed" in errors[1]
    assert "exit code 3" in errors[1]
    assert "timeout" in errors[2]
    assert status.loc[0, "n"] == len(sweep.read(0))


def test_a_derive_typo_raises_before_touching_the_sweep_and_drop_removes_one(
    tmp_path: Path,
) -> None:
    out = tmp_path / "s"
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0]})
    sweep = xs.run(REPORT, space, out=out, workers=1, progress=False, derive=alt_final)
    manifest = (out / "manifest.jsonl").read_bytes()
    typo = r"minimum\(column='Sat.Altitude'.*\) failed on run 0"
    with pytest.raises(xs.DeriveError, match=typo) as err:
        xs.derive(out, xs.derived.minimum("Sat.Altitude"), workers=1, progress=False)
    assert err.value.run_id == 0
    assert "Sat.Altitude" in next(iter(err.value.errors.values()))
    assert (out / "manifest.jsonl").read_bytes() == manifest  # nothing recorded
    assert xs.Sweep(out).derive_counts == {"ok": 3, "derive-failed": 0, "none": 0}

    # A name the sweep uses is refused on the first run too.
    def clash(outputs: Any, params: Any) -> dict[str, Any]:
        return {"status": 1.0}

    with pytest.raises(xs.DeriveError, match="taken by the sweep's own variables"):
        xs.derive(out, clash, workers=1, progress=False)
    assert (out / "manifest.jsonl").read_bytes() == manifest

    # Dropping by the value's name takes the function, its values and its status out.
    xs.derive(out, rows, workers=1, progress=False)
    assert {"alt_km", "rows"} <= set(xs.open_sweep(out).data_vars)
    sweep = xs.derive(out, "alt_km", drop=True)
    ds = xs.open_sweep(out)
    assert "alt_km" not in ds
    assert ds["rows"].values.tolist() == [8.0, 8.0, 8.0]
    assert [e["fn"] for e in sweep.manifest.derive] == [f"{__name__}:rows"]
    assert all(d.fn.endswith(":rows") for r in sweep.manifest.runs.values()
               for d in r.outcome.derived)  # fmt: skip
    with pytest.raises(xs.ConfigError, match="not a derive function of this sweep"):
        xs.derive(out, "alt_km", drop=True)


def test_run_stops_when_derive_fails_on_the_first_run_and_resume_fixes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "typo.py").write_text(
        "def fn(outputs, params):\n    return {'low': outputs['RF']['Sat.Altitude'].min()}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "s"
    space = xs.grid({"Sat.SMA": [7000.0 + 50 * i for i in range(8)]})
    with pytest.raises(xs.DeriveError, match="typo:fn failed on run 0, the first run") as err:
        xs.run(REPORT, space, out=out, workers=1, progress=False, derive="typo:fn")
    assert "KeyError" in err.value.errors["typo:fn"]
    counts = xs.Sweep(out).counts
    assert counts["pending"] > 0
    assert counts["ok"] >= 1
    (tmp_path / "typo.py").write_text(
        "def fn(outputs, params):\n    return {'low': outputs['RF']['Sat.Earth.Altitude'].min()}\n"
    )
    monkeypatch.delitem(sys.modules, "typo")
    with pytest.warns(UserWarning, match="typo:fn changed"):
        sweep = xs.resume(out, workers=1, progress=False, derive="typo:fn")
    assert sweep.counts == {"ok": 8, "failed": 0, "pending": 0}
    assert sweep.derive_counts == {"ok": 8, "derive-failed": 0, "none": 0}
    assert np.isfinite(xs.open_sweep(out)["low"].values).all()


def test_resume_needs_a_notebook_function_again(tmp_path: Path) -> None:
    def local(outputs: Any, params: Any) -> dict[str, Any]:
        return {"x": 1.0}

    space = xs.grid({"Sat.SMA": [6200.0, 7000.0]})  # 6200 km is inside the Earth: failed
    out = tmp_path / "s"
    xs.run(MISSIONS / "leo_drag.script", space, out=out, workers=1, progress=False, derive=local)
    with pytest.raises(xs.ConfigError, match="pass it again"):
        xs.resume(out, workers=1, progress=False)
    sweep = xs.resume(out, workers=1, progress=False, derive=local)
    assert sweep.derive_counts == {"ok": 1, "derive-failed": 0, "none": 0}


def test_builtins_on_real_missions(tmp_path: Path) -> None:
    fns = [
        xs.derived.delta_v("RF"),
        xs.derived.final("RF", ["Sat.Earth.RMAG"]),
        xs.derived.first_crossing("Sat.Earth.RMAG", 7500.0, "up", output="RF"),
        xs.derived.maximum("Sat.Earth.RMAG", output="RF"),
        xs.derived.at_epoch(600.0, ["Sat.Earth.RMAG"], output="RF"),
        xs.derived.minimum("Sat.Earth.ECC", output="RF"),
    ]
    space = xs.grid({"TargetRMAG": [7800.0, 8200.0]})
    sweep = xs.run(MISSIONS / "hohmann.script", space, out=tmp_path / "h", workers=1,
                   progress=False, derive=fns)  # fmt: skip
    assert sweep.counts["ok"] == 2
    ds = xs.open_sweep(tmp_path / "h", group="RF")
    for run_id, target in enumerate([7800.0, 8200.0]):
        rf = sweep.read(run_id, "RF")
        d = ds.sel(TargetRMAG=target)
        toi, goi = rf["TOI.Element1"].iloc[-1], rf["GOI.Element1"].iloc[-1]
        assert d["delta_v_total"].values.item() == pytest.approx(abs(toi) + abs(goi), rel=1e-12)
        assert d["delta_v_total"].attrs["units"] == "km/s"
        assert d["Sat.Earth.RMAG_final"].values.item() == rf["Sat.Earth.RMAG"].iloc[-1]
        assert d["Sat.Earth.RMAG_max"].values.item() == rf["Sat.Earth.RMAG"].max()
        # The column's units travel with the built-ins' values (ECC has none).
        for name in ("Sat.Earth.RMAG_final", "Sat.Earth.RMAG_max", "Sat.Earth.RMAG_at"):
            assert d[name].attrs["units"] == "km", name
        assert "units" not in d["Sat.Earth.ECC_min"].attrs
        # The crossing lies between the two rows that bracket it.
        t = rf.iloc[:, 0].to_numpy()
        when = d["Sat.Earth.RMAG_crossing"].values
        i = int(np.searchsorted(t, when))
        assert rf["Sat.Earth.RMAG"].iloc[i - 1] < 7500.0 <= rf["Sat.Earth.RMAG"].iloc[i]
        seconds = d["Sat.Earth.RMAG_crossing_s"].values.item()
        assert seconds == pytest.approx((when - t[0]) / np.timedelta64(1, "s"), abs=1e-6)
        elapsed = (t - t[0]) / np.timedelta64(1, "s")
        expect = np.interp(600.0, elapsed, rf["Sat.Earth.RMAG"].to_numpy())
        assert d["Sat.Earth.RMAG_at"].values.item() == pytest.approx(expect, rel=1e-12)
        ecc = rf["Sat.Earth.ECC"]
        assert d["Sat.Earth.ECC_min"].values.item() == ecc.min()
        assert d["Sat.Earth.ECC_min_time"].values == t[int(ecc.to_numpy().argmin())]
    # The recipes are in the manifest: a resume rebuilds them by name.
    recorded = sweep.manifest.derive
    assert [e["builtin"]["name"] for e in recorded] == [
        "delta_v", "final", "first_crossing", "maximum", "at_epoch", "minimum"
    ]  # fmt: skip
    xs.resume(tmp_path / "h", workers=1, progress=False, rederive=True)


# Re-deriving 10,000 runs with flat client memory: tests/reliability/test_load.py, on the
# real 10,000-run sweep it makes.


# -- without GMAT --


@pytest.mark.parametrize(
    "value",
    [
        1.5, 3, True, "txt", float("nan"), float("-inf"), np.float32(2.5), np.int64(7),
        np.datetime64("2026-01-01T00:00:01.000000001"), pd.Timestamp("2026-01-02"),
        pd.Timedelta(seconds=1.25), np.array([[1.0, np.nan], [3.0, 4.0]]), [1, 2, 3],
    ],
)  # fmt: skip
def test_values_survive_json(value: Any) -> None:
    encoded, attrs = encode(value)
    assert attrs == {}
    assert json.loads(json.dumps(encoded, allow_nan=False)) == encoded
    kind, shape, _ = kind_of(encoded) or ("?", (), "")
    back = decode(json.loads(json.dumps(encoded)), kind)
    if kind == "M":
        assert back == np.datetime64(pd.Timestamp(value).asm8, "ns")
    elif kind == "U":
        assert back == value
    elif isinstance(value, pd.Timedelta):
        assert back == 1.25
    else:
        np.testing.assert_array_equal(back, np.asarray(value, dtype=float))
        assert np.shape(back) == shape


def test_values_the_store_cannot_hold_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot store a dict"):
        encode({"a": 1})
    with pytest.raises(TypeError, match="not a per-run quantity"):
        encode(np.zeros(20_000))
    with pytest.raises(TypeError, match="numeric"):
        encode(np.array(["a", "b"]))
    q = encode(xs.Quantity(np.zeros(3), "km", "position", dims=("xyz",)))
    assert q[1] == {"units": "km", "long_name": "position", "dims": ["xyz"]}


def test_the_schema_refuses_what_would_break_a_variable() -> None:
    def ok(fn: str, **values: Any) -> DeriveResult:
        return DeriveResult(fn, "h", "ok", {k: encode(v)[0] for k, v in values.items()})

    schema = Schema({"status", "Sat.SMA"})
    assert schema.check([ok("a", x=1.0)])[0].ok
    refused = schema.check([ok("a", x=np.zeros(3)), ok("b", x=2.0), ok("a", status=1.0)])
    assert [r.status for r in refused] == ["derive-failed"] * 3
    assert "shape (3,) here, a float of shape () in earlier runs" in str(refused[0].error)
    assert "derived by a already" in str(refused[1].error)
    assert "taken by the sweep's own variables" in str(refused[2].error)
    assert schema.check([ok("a", x=np.nan)])[0].ok  # a missing value is a float too


def test_bad_derive_arguments_fail_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(xs.ConfigError, match=r"give 'package\.module:function'"):
        resolve("nocolon")
    with pytest.raises(xs.ConfigError, match="cannot import 'no_such_module_xyz'"):
        resolve("no_such_module_xyz:f")
    with pytest.raises(xs.ConfigError, match="has no 'nope'"):
        resolve("json:nope")
    with pytest.raises(xs.ConfigError, match="takes functions"):
        resolve([3])
    with pytest.raises(xs.ConfigError, match="names a function twice"):
        resolve([rows, rows])
    with pytest.raises(xs.ConfigError, match="cannot import"):
        xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=tmp_path / "s", derive="nope:f")
    assert not (tmp_path / "s").exists()


def test_a_derive_function_sees_frames_with_attrs(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        def attrs(outputs, params):
            rf = outputs["reports/RF"]
            return {"has_attrs": bool(rf.attrs), "names": ",".join(sorted(outputs)),
                    "sma": params["Sat.SMA"]}
    """)
    (tmp_path / "peek.py").write_text(code)
    sys.path.insert(0, str(tmp_path))
    try:
        sweep = xs.run(REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=tmp_path / "s", workers=1,
                       progress=False, derive="peek:attrs")  # fmt: skip
    finally:
        sys.path.remove(str(tmp_path))
    # What a function sees is what xs.read_output reads, attrs and dtypes included.
    from xsweep.gmat.hooks import read_frame

    path = sweep.path / sweep.manifest.runs[0].outcome.outputs[0].path
    seen, read = read_frame(str(path)), xs.read_output(path)
    pd.testing.assert_frame_equal(seen, read)
    assert seen.attrs == read.attrs
    assert seen.attrs
    frame = sweep.derived()
    assert frame.loc[0, "names"] == "RF"
    assert frame.loc[0, "sma"] == 7000.0
    assert frame.loc[0, "has_attrs"] == 1.0


def test_the_cli_derives_with_a_module_of_the_working_directory(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "checks.py").write_text(
        textwrap.dedent("""
            def alt(outputs, params):
                return {"alt_km": float(outputs["RF"]["Sat.Earth.Altitude"].iloc[-1])}

            def rows(outputs, params):
                return {"rows": len(outputs["RF"])}
        """)
    )
    console = Path(sys.executable).parent / "xsweep"  # the entry point: cwd not on its path

    def xsweep(*args: str) -> str:
        proc = subprocess.run(
            [str(console), *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc.stdout

    out = xsweep("run", str(REPORT), "--grid", "Sat.SMA=7000,7100", "--derive", "checks:alt",
                 "--out", "d", "--workers", "1", "--no-progress")  # fmt: skip
    assert "derived values: 2 ok (ok runs)" in out
    out = xsweep("derive", "d", "checks:rows", "--workers", "1", "--no-progress")
    assert "derived values: 2 ok (ok runs)" in out
    shown = xsweep("show", "d")
    assert "derived    2 ok (ok runs)" in shown
    assert "checks:alt" in shown
    assert "checks:rows" in shown
    ds = xs.open_sweep(tmp_path / "d")
    assert np.isfinite(ds["alt_km"].values).all()
    assert ds["rows"].values.tolist() == [
        float(len(xs.Sweep(tmp_path / "d").read(i))) for i in (0, 1)
    ]


def test_extend_derives_the_new_samples_and_grows_the_variables(tmp_path: Path) -> None:
    space = xs.monte_carlo(3, {"Sat.SMA": ("normal", 7000.0, 20.0)}, seed=3)
    out = tmp_path / "mc"
    xs.run(REPORT, space, out=out, workers=1, progress=False, derive=alt_final)
    before = xs.open_sweep(out)["alt_km"].values.copy()
    # A sweep is data: the recorded function is given again (by name and hash), not imported.
    sweep = xs.extend(out, 2, workers=1, progress=False, derive=alt_final)
    assert sweep.derive_counts == {"ok": 5, "derive-failed": 0, "none": 0}
    ds = xs.open_sweep(out)
    assert ds["alt_km"].sizes == {"sample": 5}
    assert ds["alt_km"].values[:3].tobytes() == before.tobytes()
    for i in (3, 4):
        assert ds["alt_km"].values[i] == sweep.read(i)["Sat.Earth.Altitude"].iloc[-1]


def test_derive_on_a_given_cluster(tmp_path: Path, client: Any) -> None:
    """Worker processes: the function travels to them, and on to their GMAT children."""
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0]})
    out = tmp_path / "s"
    sweep = xs.run(REPORT, space, out=out, client=client, progress=False, derive=alt_final)
    assert sweep.derive_counts["ok"] == 3
    xs.derive(out, rows, client=client, progress=False)
    ds = xs.open_sweep(out)
    assert ds["rows"].values.tolist() == [float(len(sweep.read(i))) for i in range(3)]
    assert np.isfinite(ds["alt_km"].values).all()
