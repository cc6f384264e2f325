"""The ``xsweep`` command line: grammar (fuzzed against the Python API), exit codes, runs."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client
from hypothesis import given, strategies as st

import xsweep as xs
from _helpers import MISSIONS, ROOT
from xsweep.cli.main import main
from xsweep.cli.spaces import SpecError, build_space, parse_perturb, parse_scalar, parse_values

REPORT = str(MISSIONS / "leo_report.script")
DRAG = str(MISSIONS / "leo_drag.script")
FIELD = "Sat.SMA"


# --- the grammar, against the Python API ----------------------------------------------


def _same_as_api(cli: Callable[[], xr.Dataset], api: Callable[[], xr.Dataset]) -> None:
    """The CLI builds what the Python API builds, or refuses what it refuses, the same way."""
    try:
        expected = api()
    except xs.XsweepError as exc:
        with pytest.raises(type(exc)):
            cli()
        return
    space = cli()
    xr.testing.assert_identical(space, expected)
    for name in expected.variables:
        assert space[name].dtype == expected[name].dtype


def _range_expected(start: float, stop: float, num: int) -> np.ndarray:
    """The documented meaning of start:stop:num."""
    if (
        isinstance(start, int)
        and isinstance(stop, int)
        and (num == 1 or (stop - start) % (num - 1) == 0)
    ):
        step = (stop - start) // (num - 1) if num > 1 else 0
        return np.array([start + i * step for i in range(num)], dtype=np.int64)
    return np.linspace(float(start), float(stop), num)


finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e12, max_value=1e12)
bound = st.one_of(st.integers(-(10**9), 10**9), finite)


@given(start=bound, stop=bound, num=st.integers(1, 50))
def test_range_spec_matches_linspace(start: float, stop: float, num: int) -> None:
    spec = f"{start!r}:{stop!r}:{num}"
    _same_as_api(
        lambda: build_space(grid=[f"{FIELD}={spec}"]),
        lambda: xs.grid({FIELD: _range_expected(start, stop, num)}),
    )


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ_. -/", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and isinstance(parse_scalar(s), str) and s.count(":") != 2
)
values = st.one_of(
    st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=8),
    st.lists(finite, min_size=1, max_size=8),
    st.lists(words, min_size=1, max_size=8),
)


@given(items=values)
def test_list_spec_matches_grid(items: list[object]) -> None:
    spec = ",".join(repr(v) if isinstance(v, float) else str(v) for v in items)
    _same_as_api(lambda: build_space(grid=[f"{FIELD}={spec}"]), lambda: xs.grid({FIELD: items}))


@given(a=values, b=values)
def test_zip_spec_matches_samples(a: list[object], b: list[object]) -> None:
    def spec(items: list[object]) -> str:
        return ",".join(repr(v) if isinstance(v, float) else str(v) for v in items)

    args = [f"Sat.SMA={spec(a)}", f"Sat.INC={spec(b)}"]
    _same_as_api(
        lambda: build_space(zipped=args),
        lambda: xs.samples({"Sat.SMA": a, "Sat.INC": b}, dim="zip"),
    )


dists = st.sampled_from(["normal", "uniform", "lognormal"])


@given(name=dists, a=finite, b=finite, n=st.integers(1, 20), seed=st.integers(0, 2**32))
def test_perturb_spec_matches_monte_carlo(name: str, a: float, b: float, n: int, seed: int) -> None:
    text = f"{FIELD}={name}:{a!r}:{b!r}"
    _same_as_api(
        lambda: build_space(perturb=[text], n=n, seed=seed),
        lambda: xs.monte_carlo(n, {FIELD: (name, a, b)}, seed=seed),
    )
    _same_as_api(
        lambda: build_space(perturb=[text], n=n, seed=seed, method="latin_hypercube"),
        lambda: xs.latin_hypercube(n, {FIELD: (name, a, b)}, seed=seed),
    )


@given(spec=st.text(max_size=40))
def test_any_grid_spec_parses_or_is_refused_cleanly(spec: str) -> None:
    try:
        space = build_space(grid=[f"{FIELD}={spec}"])
    except xs.XsweepError as exc:
        message = str(exc)
    else:
        assert xs.Space(space).n_runs >= 1
        return
    assert message.strip()


@given(text=st.text(max_size=40))
def test_any_perturb_spec_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        field, dist = parse_perturb(text)
    except SpecError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert "--perturb" in message
        return
    assert dist[0] in ("normal", "uniform", "lognormal")
    assert all(isinstance(v, float) for v in dist[1:])
    assert field == text.partition("=")[0].strip()


def test_mixed_space_is_the_merge_of_its_parts() -> None:
    space = build_space(
        grid=["TOF=300,600"],
        zipped=["Sat.INC=28.5,51.6", "Sat.RAAN=0,90"],
        perturb=["Sat.SMA=normal:7000:5"],
        n=3,
        seed=1,
    )
    expected = xr.merge(
        [
            xs.grid({"TOF": [300, 600]}),
            xs.samples({"Sat.INC": [28.5, 51.6], "Sat.RAAN": [0, 90]}, dim="zip"),
            xs.monte_carlo(3, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=1),
        ],
        combine_attrs="no_conflicts",
    )
    xr.testing.assert_identical(space, expected)
    assert xs.Space(space).n_runs == 2 * 2 * 3


def test_file_spec_and_table(tmp_path: Path) -> None:
    pd.DataFrame({FIELD: [7000.0, 7100.0], "other": [1, 2]}).to_csv(tmp_path / "v.csv", index=False)
    pd.DataFrame({"x": [5, 6, 7]}).to_csv(tmp_path / "one.csv", index=False)
    assert list(parse_values(FIELD, f"@{tmp_path / 'v.csv'}")) == [7000.0, 7100.0]
    assert list(parse_values(FIELD, f"@{tmp_path / 'one.csv'}")) == [5, 6, 7]
    with pytest.raises(SpecError, match="name one"):
        parse_values("Sat.INC", f"@{tmp_path / 'v.csv'}")
    with pytest.raises(SpecError, match="no such file"):
        parse_values(FIELD, f"@{tmp_path / 'missing.csv'}")
    table = pd.DataFrame({"Sat.SMA": [7000.0, 7100.0], "Sat.INC": [28.5, 98.0]})
    table.to_parquet(tmp_path / "runs.parquet")
    xr.testing.assert_identical(
        build_space(table=str(tmp_path / "runs.parquet")), xs.samples(table)
    )


# --- bad arguments: exit 2, one line, nothing written ----------------------------------

BAD = [
    ["run", REPORT, "--grid", "Sat.SMA=7000:7200:0"],
    ["run", REPORT, "--grid", "Sat.SMA=7000:7200:2.5"],
    ["run", REPORT, "--grid", "Sat.SMA=7000:inf:3"],
    ["run", REPORT, "--grid", "Sat.SMA="],
    ["run", REPORT, "--grid", "Sat.SMA"],
    ["run", REPORT, "--grid", "=7000"],
    ["run", REPORT, "--grid", "Sat.SMA=1,,2"],
    ["run", REPORT, "--grid", "Sat.SMA=1,abc"],
    ["run", REPORT, "--grid", "Sat.SMA=@no-such-file.csv"],
    ["run", REPORT, "--grid", "Sat.SMA=7000", "--grid", "Sat.SMA=7100"],
    ["run", REPORT, "--zip", "Sat.SMA=1,2", "--zip", "Sat.INC=1,2,3"],
    ["run", REPORT],
    ["run", REPORT, "--grid", "Sat.SMA=7000", "--workers", "0"],
    ["run", REPORT, "--grid", "Sat.SMA=7000", "--timeout", "-1"],
    ["run", REPORT, "--grid", "Sat.SMA=7000", "--retries", "x"],
    ["run", REPORT, "--grid", "Sat.SMA=7000", "--isolation", "thread"],
    ["run", REPORT, "--grid", "Sat.SMA=7000", "--n", "3"],
    ["run", REPORT, "--grid", "Sat.SMA=7000", "--workers", "1", "--scheduler", "tcp://x:1"],
    ["monte-carlo", REPORT, "--n", "0", "--perturb", "Sat.SMA=normal:7000:5"],
    ["monte-carlo", REPORT, "--n", "-3", "--perturb", "Sat.SMA=normal:7000:5"],
    ["monte-carlo", REPORT, "--n", "5", "--perturb", "Sat.SMA=gauss:7000:5"],
    ["monte-carlo", REPORT, "--n", "5", "--perturb", "Sat.SMA=normal:7000:-5"],
    ["monte-carlo", REPORT, "--n", "5", "--perturb", "Sat.SMA=uniform:10:1"],
    ["monte-carlo", REPORT, "--n", "5", "--perturb", "Sat.SMA=normal:7000"],
    ["monte-carlo", REPORT, "--perturb", "Sat.SMA=normal:7000:5"],
    ["monte-carlo", REPORT, "--n", "5", "--perturb", "Sat.SMA=normal:7000:5", "--seed", "-1"],
    ["monte-carlo", REPORT, "--n", "5"],
    ["lhs", REPORT, "--grid", "Sat.SMA=7000"],
    ["samples", REPORT, "--table", "no-such.csv"],
    ["run", "no-such.script", "--grid", "Sat.SMA=7000"],
    ["run", REPORT, "--grid", "Sat.SMAX=7000"],
    ["run", REPORT, "--grid", "Sat.SMA=abc"],
    ["run", REPORT, "--grid", "Nope.SMA=7000"],
]


@pytest.mark.gmat
@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[2:]) or a[0] for a in BAD])
def test_bad_arguments_exit_2_and_write_nothing(
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "sweep"
    try:
        code = main([*argv, "--out", str(out)])
    except SystemExit as exc:  # argparse's own checks
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "error:" in lines[0]
    assert not captured.out
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_of_the_other_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["resume", str(tmp_path / "none")],
        ["extend", str(tmp_path / "none"), "--n", "3"],
        ["show", str(tmp_path / "none")],
        ["consolidate", str(tmp_path / "none")],
        ["archive", str(tmp_path / "none")],
        ["verify", str(tmp_path / "none.zip")],
        ["extract", str(tmp_path / "none.zip"), str(tmp_path / "d")],
        ["open", str(tmp_path / "none")],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert err[0].startswith(f"xsweep {argv[0]}: error:")
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.gmat
def test_an_os_error_is_one_line_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "sweep"  # under a regular file: the file system refuses
    assert main(["run", REPORT, "--grid", "Sat.SMA=7000", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("xsweep run: error:")
    assert sorted(tmp_path.iterdir()) == [blocker]


def test_help_of_every_command_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    commands = ["run", "monte-carlo", "lhs", "samples", "resume", "extend", "show"]
    commands += ["consolidate", "archive", "verify", "extract", "open"]
    for command in commands:
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        assert "example:" in text
        assert f"xsweep {command}" in text.split("example:")[1]


# --- real sweeps through the console script -------------------------------------------


def _xsweep(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xsweep", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


@pytest.mark.gmat
@pytest.mark.slow
def test_run_show_open_on_a_cluster(client: Client, tmp_path: Path) -> None:
    address = client.scheduler.address
    out = tmp_path / "grid"
    done = _xsweep(
        "run", REPORT, "--grid", "Sat.SMA=7000:7200:3", "--grid", "Sat.INC=28.5,98",
        "--grid", "TOF=600", "--out", str(out), "--scheduler", address, "--no-progress",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6 ok, 0 failed, 0 pending" in done.stdout
    ds = xs.open_sweep(out)
    assert isinstance(ds, xr.Dataset)
    expected = xs.grid({"Sat.SMA": [7000, 7100, 7200], "Sat.INC": [28.5, 98.0], "TOF": [600]})
    for name in expected.coords:
        np.testing.assert_array_equal(ds[name].values, expected[name].values)
    assert (ds["status"].values == 1).all()

    shown = _xsweep("show", str(out), "--json")
    assert shown.returncode == 0
    info = json.loads(shown.stdout)
    assert info["counts"] == {"ok": 6, "failed": 0, "pending": 0}
    assert info["dims"] == {"Sat.SMA": 3, "Sat.INC": 2, "TOF": 1}
    assert info["running"] is None
    assert info["duration_s"]["runs"] == 6
    assert math.isclose(
        info["duration_s"]["total"], float(xs.Sweep(out).runs()["duration_s"].sum())
    )
    text = _xsweep("show", str(out)).stdout
    assert "6 ok, 0 failed, 0 pending" in text
    assert info["script_sha256"] in text

    opened = _xsweep("open", str(out))
    assert opened.returncode == 0
    assert "Sat.Earth.Altitude" in opened.stdout
    assert "<xarray.Dataset>" in opened.stdout

    # A failing run: exit 1, the reason listed.
    drag = tmp_path / "drag"
    failed = _xsweep(
        "run", DRAG, "--grid", "Sat.SMA=6200,7000", "--out", str(drag),
        "--scheduler", address, "--no-progress",
    )  # fmt: skip
    assert failed.returncode == 1
    assert "1 ok, 1 failed" in failed.stdout
    assert "gmat-error" in failed.stdout
    info = json.loads(_xsweep("show", str(drag), "--json").stdout)
    assert info["failed"][0]["reason"] == "gmat-error"
    assert "inside central body" in info["failed"][0]["error"]
    assert _xsweep("show", str(drag)).returncode == 1


@pytest.mark.gmat
@pytest.mark.slow
def test_monte_carlo_lhs_samples_mixed(client: Client, tmp_path: Path) -> None:
    address = client.scheduler.address
    common = ["--scheduler", address, "--no-progress"]
    mc = _xsweep(
        "monte-carlo", REPORT, "--n", "4", "--perturb", "Sat.SMA=normal:7000:5",
        "--grid", "TOF=300,600", "--seed", "7", "--out", str(tmp_path / "mc"), *common,
    )  # fmt: skip
    assert mc.returncode == 0, mc.stderr
    space = xs.Sweep(tmp_path / "mc").space.dataset
    expected = xr.merge(
        [
            xs.grid({"TOF": [300, 600]}),
            xs.monte_carlo(4, {"Sat.SMA": ("normal", 7000.0, 5.0)}, seed=7),
        ]
    )
    np.testing.assert_array_equal(space["Sat.SMA"].values, expected["Sat.SMA"].values)
    lhs = _xsweep(
        "lhs", REPORT, "--n", "3", "--perturb", "Sat.SMA=uniform:6900:7300", "--seed", "1",
        "--out", str(tmp_path / "lhs"), *common,
    )  # fmt: skip
    assert lhs.returncode == 0, lhs.stderr
    drawn = xs.Sweep(tmp_path / "lhs").space.dataset["Sat.SMA"].values
    ref = xs.latin_hypercube(3, {"Sat.SMA": ("uniform", 6900.0, 7300.0)}, seed=1)
    np.testing.assert_array_equal(drawn, ref["Sat.SMA"].values)
    pd.DataFrame({"Sat.SMA": [7000.0, 7050.0], "TOF": [300, 600]}).to_csv(
        tmp_path / "runs.csv", index=False
    )
    rows = _xsweep(
        "samples", REPORT, "--table", str(tmp_path / "runs.csv"), "--out",
        str(tmp_path / "rows"), *common,
    )  # fmt: skip
    assert rows.returncode == 0, rows.stderr
    ran = xs.Sweep(tmp_path / "rows").runs()
    assert ran["Sat.SMA"].tolist() == [7000.0, 7050.0]
    assert ran["TOF"].tolist() == [300, 600]
    # extend the Monte Carlo sweep from the shell
    ext = _xsweep("extend", str(tmp_path / "mc"), "--n", "2", *common)
    assert ext.returncode == 0, ext.stderr
    assert xs.Sweep(tmp_path / "mc").counts == {"ok": 12, "failed": 0, "pending": 0}


@pytest.mark.gmat
@pytest.mark.slow
def test_interrupt_resume_archive_verify(tmp_path: Path) -> None:
    out = tmp_path / "big"
    proc = subprocess.Popen(
        [sys.executable, "-m", "xsweep", "monte-carlo", REPORT, "--n", "300",
         "--perturb", "Sat.SMA=normal:7000:5", "--seed", "3", "--grid", "TOF=3000",
         "--out", str(out), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            manifest = out / "manifest.jsonl"
            if manifest.exists() and len(manifest.read_text().splitlines()) > 30:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the sweep never got going")
        running = _xsweep("show", str(out), "--json")
        info = json.loads(running.stdout)
        assert info["running"], "show must see the sweep's lock"
        assert info["counts"]["pending"] > 0
        assert running.returncode == 1
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].endswith(f"continue with: xsweep resume {out}")
    assert "Traceback" not in err
    counts = xs.Sweep(out).counts
    assert counts["pending"] > 0
    assert counts["ok"] > 0
    resumed = _xsweep("resume", str(out), "--workers", "2", "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert xs.Sweep(out).counts == {"ok": 300, "failed": 0, "pending": 0}

    bundle = tmp_path / "big.zip"
    packed = _xsweep("archive", str(out), "--out", str(bundle))
    assert packed.returncode == 0, packed.stderr
    assert packed.stdout.strip() == str(bundle)
    checked = _xsweep("verify", str(bundle))
    assert checked.returncode == 0
    assert "ok" in checked.stdout
    shown = json.loads(_xsweep("show", str(bundle), "--json").stdout)
    assert shown["bundle"] is True
    assert shown["counts"]["ok"] == 300
    assert "sample: 300" in _xsweep("open", str(bundle)).stdout
    # A tampered bundle: verify exits 1 and names the member.
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info_ in src.infolist():
            data = src.read(info_)
            if info_.filename == "mission.script":
                data += b"% edited\n"
            dst.writestr(info_, data)
    bad = _xsweep("verify", str(tampered))
    assert bad.returncode == 1
    assert "altered: mission.script" in bad.stdout
    copy = tmp_path / "copy"
    assert _xsweep("extract", str(bundle), str(copy)).returncode == 0
    assert _xsweep("consolidate", str(copy)).returncode == 0
    assert xs.Sweep(copy).counts["ok"] == 300


def test_a_range_without_its_count_says_the_form() -> None:
    with pytest.raises(SpecError, match=r"START:STOP:NUM.*7000:7400:5"):
        parse_values(FIELD, "7000:7400")
    with pytest.raises(SpecError, match="START:STOP:NUM"):
        build_space(grid=[f"{FIELD}=7000:7400:3:1"])


def test_a_closed_pipe_ends_quietly() -> None:
    """``xsweep fields SCRIPT | head``: no traceback, no Errno, exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "xsweep", "fields", REPORT, "--all"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line: every write fails
    err = proc.stderr.read()
    assert proc.wait(timeout=180) == 0, err
    assert "Errno" not in err, err
    assert "Traceback" not in err, err


def test_out_holding_another_sweep_is_refused_without_python_or_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s"
    args = ["run", REPORT, "--grid", "Sat.SMA=7000", "--out", str(out), "--workers", "1",
            "--no-progress"]  # fmt: skip
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args[:3], "Sat.SMA=7100", *args[4:]]) == 2
    err = capsys.readouterr().err
    assert "give another output directory" in err
    assert "xs." not in err


def test_extending_a_grid_with_n_points_to_grid() -> None:
    with pytest.raises(xs.SpaceError, match=r"grid=, or\s+--grid"):
        xs.Space(xs.grid({"A.X": [1]})).extended(2)
