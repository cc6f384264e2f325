"""Small inputs never claim big memory: spaces, manifests, bundles, deep lines (finding 6)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import xsweep as xs
from _helpers import MISSIONS, ROOT, rewrite_bundle
from xsweep.core.errors import ConfigError

pytestmark = pytest.mark.gmat

LIMIT_MB = 200
BIG = {"Sat.SMA": list(range(1000)), "Sat.INC": list(range(1000)), "TOF": list(range(1000))}


# The process's own peak RSS, in MB. Not ru_maxrss: Linux carries it across fork and exec,
# so a child of a big pytest worker would report the worker's peak.
_PEAK = """
def peak():
    with open("/proc/self/status") as fh:
        line = next(x for x in fh if x.startswith("VmHWM:"))
    return int(line.split()[1]) // 1024
"""


def _bounded(code: str, *, cwd: Path = ROOT) -> tuple[str, int]:
    """Run ``code`` in a fresh interpreter; return what it printed and its peak RSS in MB."""
    wrapped = (
        "try:\n" + textwrap.indent(textwrap.dedent(code), "    ") + "\n"
        "except Exception as exc:\n"
        "    print(f'{type(exc).__name__}: {exc}')\n"
        f"{_PEAK}print(peak())\n"
    )
    proc = subprocess.run([sys.executable, "-c", wrapped], capture_output=True, text=True,
                          timeout=300, cwd=cwd)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    *said, peak = proc.stdout.strip().splitlines()
    return "\n".join(said), int(peak)


def test_a_huge_grid_is_refused_before_anything_is_sized_by_it(tmp_path: Path) -> None:
    said, peak = _bounded(f"""
        import xsweep as xs
        xs.run({str(MISSIONS / "leo_report.script")!r}, xs.grid({BIG!r}), out={str(tmp_path)!r})
    """)
    assert said.startswith("SpaceError: the space has 1,000,000,000 runs, over the limit")
    assert "XSWEEP_MAX_RUNS" in said
    assert peak < LIMIT_MB
    assert not (tmp_path / "manifest.jsonl").exists()


def test_a_small_manifest_claiming_a_huge_space_is_refused(
    sweep_copy: Path, real_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 50 KB header whose grid is 1000^3 runs: resume refuses it, archive and show cope.

    Each call's peak is compared with the same call on the genuine sweep: ``resume``
    alone imports Dask's distributed (~230 MB here), so the claim must add nothing.
    """
    monkeypatch.setenv("XSWEEP_MAX_RUNS", str(10**10))  # to forge the header only
    space = xs.Space(xs.grid(BIG)).to_dict()
    monkeypatch.delenv("XSWEEP_MAX_RUNS")
    lines = (sweep_copy / "manifest.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    header["space"], header["n_runs"] = space, 10**9
    (sweep_copy / "manifest.jsonl").write_text(json.dumps(header) + "\n")
    assert (sweep_copy / "manifest.jsonl").stat().st_size < 100_000
    calls = ("xs.resume({}, workers=1, progress=False, consolidate=False)",
             "xs.archive({}, out=" + repr(str(tmp_path / "b.zip")) + ", overwrite=True)",
             "xs.Sweep({}).runs()")  # fmt: skip
    for call in calls:
        said, peak = _bounded(f"import xsweep as xs\n{call.format(repr(str(sweep_copy)))}")
        # resume must size its plan by the claim: it refuses. The others are harmless.
        assert "over the limit" in said or not call.startswith("xs.resume"), (call, said)
        _, genuine = _bounded(f"import xsweep as xs\n{call.format(repr(str(real_sweep)))}")
        assert peak < genuine + 30, (call, peak, genuine)


def _cli(*args: str, cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run the ``xsweep`` command; return it and its own peak RSS in MB (on a pipe)."""
    read, write = os.pipe()
    code = (
        f"import atexit, os, runpy, sys\n{_PEAK}"
        f"atexit.register(lambda: os.write({write}, str(peak()).encode()))\n"
        f"sys.argv = ['xsweep', *{list(args)!r}]\n"
        "runpy.run_module('xsweep', run_name='__main__')\n"
    )
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300, cwd=cwd, pass_fds=(write,))  # fmt: skip
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as peak_in:
        peak = int(peak_in.read() or b"0")
    assert peak > 0, proc.stderr[-2000:]
    return proc, peak


def test_a_zip_bomb_manifest_is_refused_in_bounded_memory(
    real_bundle: Path, tmp_path: Path
) -> None:
    bomb = rewrite_bundle(real_bundle, tmp_path / "bomb.zip",
                          {"manifest.jsonl": None}, rehash=False)  # fmt: skip
    with zipfile.ZipFile(bomb, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.jsonl", b"\n" * 100_000_000)  # ~100 KB deflated
    assert bomb.stat().st_size < 1_000_000
    for args in (("show", str(bomb)), ("verify", str(bomb))):
        proc, peak = _cli(*args)
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr[-2000:]
        assert "inflates past" in lines[0]
        assert peak < LIMIT_MB
    with pytest.raises(xs.BundleError, match="inflates past"):
        xs.extract(bomb, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_deep_line_is_a_corrupt_line_not_a_traceback(sweep_copy: Path) -> None:
    manifest = sweep_copy / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    manifest.write_bytes(lines[0] + b"[" * 200_000 + b"\n" + b"".join(lines[1:]))
    proc, peak = _cli("show", str(sweep_copy))
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        next(s for s in proc.stderr.splitlines() if "line 2" in s)
    ]
    assert "Traceback" not in proc.stderr
    assert peak < LIMIT_MB


def test_a_hundred_million_empty_lines_cost_no_list(tmp_path: Path, real_sweep: Path) -> None:
    """A manifest read line by line: the bomb's bytes, not a list of its lines."""
    path = tmp_path / "manifest.jsonl"
    path.write_bytes((real_sweep / "manifest.jsonl").read_bytes().splitlines()[0] + b"\n" * 10**8)
    tracemalloc.start()
    try:
        with pytest.raises(xs.ManifestCorruptError, match="line 2"):
            xs.Sweep(tmp_path).runs()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 150 * 2**20  # the file's 100 MB, once; its lines as a list were ~800 MB more


def _refusal(call: Any) -> str | None:
    """Run ``call``: None if it worked, its message if it refused cleanly (else it raises)."""
    try:
        call()
    except xs.XsweepError as exc:
        return str(exc)
    return None


MEMBERS = ["manifest.jsonl", "MANIFEST.hash", "sweep.zarr/zarr.json", "README.md"]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE") == "dev", reason="CI's fuzz")
def test_any_damaged_bundle_member_is_refused_or_read_in_bounded_memory(
    real_bundle: Path, tmp_path: Path
) -> None:
    """Fuzz: a member spliced with other bytes (repeated): a clean refusal or a read."""
    with zipfile.ZipFile(real_bundle) as zf:
        originals = {n: zf.read(n) for n in MEMBERS}
    counter = iter(range(10**6))

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        member=st.sampled_from(MEMBERS),
        cut=st.integers(0, 4000),
        insert=st.binary(max_size=64) | st.sampled_from([b"[" * 50_000, b"\n" * 10**6, b"{}"]),
        times=st.integers(1, 50),
        rehash=st.booleans(),
    )
    def check(member: str, cut: int, insert: bytes, times: int, rehash: bool) -> None:
        data = originals[member]
        damaged = data[:cut] + insert * times + data[cut:]
        out = tmp_path / f"{next(counter)}.zip"
        rewrite_bundle(real_bundle, out, {member: damaged}, rehash=rehash)
        tracemalloc.start()
        try:
            for call in (lambda: xs.verify(out), lambda: xs.Sweep(out).runs(),
                         lambda: xs.open_sweep(out).load()):  # fmt: skip
                refused = _refusal(call)
                assert refused is None or refused.strip()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < LIMIT_MB * 2**20
        out.unlink()

    check()


def test_a_forged_output_digest_is_a_corrupt_line_and_a_claimed_no_effect_is_only_shown(
    sweep_copy: Path,
) -> None:
    """A digest is someone else's text: a huge or non-string one is refused, never hashed on."""
    manifest = sweep_copy / "manifest.jsonl"
    lines = manifest.read_bytes().splitlines(keepends=True)
    ok = next(i for i, line in enumerate(lines) if b'"status": "ok"' in line)
    for forged in ("x" * 1_000_000, {"nested": [1, 2]}):
        record = json.loads(lines[ok])
        record["outputs"][0]["digest"] = forged
        manifest.write_bytes(b"".join([*lines[:ok], json.dumps(record).encode() + b"\n",
                                       *lines[ok + 1 :]]))  # fmt: skip
        with pytest.raises(xs.ManifestCorruptError, match=f"line {ok + 1}"):
            xs.Sweep(sweep_copy).no_effect_dims()
    # A store's no_effect attribute is data to show: opened as is, nothing sized by it.
    import zarr

    manifest.write_bytes(b"".join(lines))
    zarr.open_group(sweep_copy / "sweep.zarr", mode="r+").attrs["no_effect"] = {"Sat.SMA": 10**18}
    assert xs.open_sweep(sweep_copy).attrs["no_effect"] == {"Sat.SMA": 10**18}
    assert xs.Sweep(sweep_copy).no_effect_dims() == {}  # judged from the runs, not the claim


def test_a_saved_envelope_claiming_more_sketch_bytes_than_it_holds_is_refused(
    tmp_path: Path,
) -> None:
    """An envelope's state is someone else's data: its sizes are checked against its bytes."""
    import numpy as np
    import xarray as xr

    from xsweep.core.envelope import envelope
    from xsweep.store.envelope import Folder

    spec = envelope(10.0, stop=30.0)
    folder = Folder(spec, None, 4)
    for run_id in range(4):
        folder.add(run_id, {"RF": {"Alt": np.arange(4.0) + run_id}})
    store = tmp_path / "sweep.zarr"
    folder.save(store)
    loaded = Folder.load(store, spec, 4)
    assert loaded is not None
    assert loaded.covered.all()
    group = "envelope/RF"
    ds = xr.open_zarr(store, group=group, consolidated=False, zarr_format=3).load()
    ds["xsweep_sizes_0"] = ("elapsed_s", np.full(4, 2**40, dtype=np.int64))  # claims a terabyte
    ds.to_zarr(store, group=group, mode="w", zarr_format=3, consolidated=False)
    with pytest.raises(ConfigError, match="damaged"):
        Folder.load(store, spec, 4)


def test_a_sequential_sweeps_forged_values_are_refused_not_run_or_sized(tmp_path: Path) -> None:
    """A design goes on from someone else's sweep: its recorded values are data, checked."""
    from _helpers import DATA

    plane = {"x1": (-3.0, 3.0)}
    options = {"value": "y_final", "threshold": 0.5, "batch": 4, "workers": 1,
               "derive": [xs.derived.final(columns=["y"])], "progress": False}  # fmt: skip
    out = tmp_path / "a"
    xs.adapt(DATA / "missions" / "ishigami.script", plane, out=out, goal=4, **options)
    lines = (out / "manifest.jsonl").read_text().splitlines()
    forged = {
        "a field value that is code": ("overrides", "x1", "__import__('os').system('x')"),
        "a derived array claiming 10^12 values": ("derived", None, None),
    }
    for what, (where, key, text) in forged.items():
        records = [json.loads(x) for x in lines]
        run = next(r for r in records if r.get("run_id") == 1)
        if where == "overrides":
            run["overrides"][key] = text
        else:
            run["derived"][0]["values"]["y_final"] = {"array": [1.0], "shape": [10**6, 10**6]}
        (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        tracemalloc.start()
        with pytest.raises(ConfigError, match="run 1 holds a value a design cannot read"):
            xs.adapt(DATA / "missions" / "ishigami.script", plane, out=out, goal=8, **options)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 64 * 2**20, what
    assert xs.Sweep(out).manifest.n_runs == 4  # nothing ran on the forged records
