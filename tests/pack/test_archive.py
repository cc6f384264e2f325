"""Archive bundles: round trip, determinism, verification, safe extraction, bad input."""

from __future__ import annotations

import hashlib
import os
import shutil
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client

import xsweep as xs
from _helpers import MISSIONS, add_contacts, rewrite_bundle

pytestmark = [pytest.mark.gmat]

REPORT = MISSIONS / "leo_report.script"


def _sweeps(client: Client, base: Path) -> dict[str, xs.Sweep]:
    """Sweeps with every output kind (contacts added from gmat-run fixtures), and a failure."""
    hohmann = xs.run(
        MISSIONS / "hohmann.script",
        xs.grid({"TargetRMAG": [7800.0, 8000.0, 8200.0]}),
        out=base / "hohmann",
        client=client,
        progress=False,
    )
    add_contacts(hohmann, {0: "contact_legacy.txt", 2: "contact_legacy.txt"})
    xs.consolidate(hohmann.path)
    ephemeris = xs.run(
        MISSIONS / "ephemeris.script",
        xs.grid({"Sat.SMA": [7000.0, 7200.0]}),
        out=base / "ephemeris",
        client=client,
        progress=False,
    )
    drag = xs.run(
        MISSIONS / "leo_drag.script",
        xs.grid({"Sat.SMA": [6200.0, 7000.0], "TOF": [600, 900]}),  # 6200 km fails
        out=base / "drag",
        client=client,
        progress=False,
    )
    assert drag.counts["failed"] == 2
    return {"hohmann": hohmann, "ephemeris": ephemeris, "drag": drag}


@pytest.fixture(scope="module")
def sweeps(client: Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, xs.Sweep]:
    return _sweeps(client, tmp_path_factory.mktemp("archive"))


def _datasets(opened: xr.Dataset | xr.DataTree) -> dict[str, xr.Dataset]:
    if isinstance(opened, xr.DataTree):
        return {node.path: node.to_dataset(inherit=False).load() for node in opened.subtree}
    return {"/": opened.load()}


def _groups(sweep_dir: Path) -> list[str]:
    root = xr.open_zarr(sweep_dir / "sweep.zarr", zarr_format=3, consolidated=False)
    return list(root.attrs["xsweep_groups"])


def _member_kinds(bundle: Path) -> set[str]:
    with zipfile.ZipFile(bundle) as zf:
        names = [n for n in zf.namelist() if n.endswith(".parquet")]
    return {n.rsplit("/", 1)[-1].split("-", 1)[0] for n in names}


@pytest.mark.parametrize("name", ["hohmann", "ephemeris", "drag"])
def test_round_trip_zip_and_extracted(
    sweeps: dict[str, xs.Sweep], tmp_path: Path, name: str
) -> None:
    sweep = sweeps[name]
    bundle = xs.archive(sweep.path, out=tmp_path / f"{name}.zip")
    original = _datasets(xs.open_sweep(sweep.path))
    from_zip = _datasets(xs.open_sweep(bundle))
    copy = xs.extract(bundle, tmp_path / "copy")
    extracted = _datasets(xs.open_sweep(copy))
    assert original.keys() == from_zip.keys() == extracted.keys()
    for key, ds in original.items():
        xr.testing.assert_identical(ds, from_zip[key])
        xr.testing.assert_identical(ds, extracted[key])
    # Every output kind is in the bundle, and each group's DataFrame is the same.
    for group in _groups(sweep.path):
        a = xs.open_sweep(sweep.path, group=group)
        b = xs.open_sweep(bundle, group=group)
        assert isinstance(a, xr.Dataset)
        assert isinstance(b, xr.Dataset)
        pd.testing.assert_frame_equal(xs.to_dataframe(a), xs.to_dataframe(b))
    # The per-run Parquet reads from inside the zip, bit for bit what the run wrote.
    runs = xs.Sweep(bundle).manifest.runs
    for run_id, rec in runs.items():
        for out in rec.outcome.outputs:
            theirs = xs.Sweep(bundle).read(run_id, out.name)
            pd.testing.assert_frame_equal(theirs, xs.read_output(sweep.path / out.path))
            assert theirs.attrs == xs.read_output(sweep.path / out.path).attrs
    assert xs.Sweep(bundle).counts == sweep.counts
    assert xs.Sweep(copy).runs().equals(sweep.runs())


def test_every_output_kind_is_bundled(sweeps: dict[str, xs.Sweep], tmp_path: Path) -> None:
    kinds: set[str] = set()
    for name, sweep in sweeps.items():
        kinds |= _member_kinds(xs.archive(sweep.path, out=tmp_path / f"{name}.zip"))
    assert kinds == {"report", "ephemeris", "contact", "solver"}


def test_archive_is_deterministic(sweeps: dict[str, xs.Sweep], tmp_path: Path) -> None:
    src = sweeps["hohmann"].path
    first = xs.archive(src, out=tmp_path / "a.zip")
    # Same content under another path, with every mtime changed: same bytes.
    moved = tmp_path / "elsewhere" / "hohmann"
    shutil.copytree(src, moved)
    for path in moved.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = xs.archive(moved, out=tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        infos = zf.infolist()
    assert names[-1] == "MANIFEST.hash"
    assert names[:-1] == sorted(names[:-1])
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}


def test_bundle_contents_and_readme(sweeps: dict[str, xs.Sweep], tmp_path: Path) -> None:
    sweep = sweeps["drag"]
    bundle = xs.archive(sweep.path, out=tmp_path / "d.zip")
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        readme = zf.read("README.md").decode()
        listing = zf.read("MANIFEST.hash").decode().splitlines()
        for line in listing:  # sha256sum format, every other member listed
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest
    assert {"manifest.jsonl", "mission.script", "README.md", "sweep.zarr/zarr.json"} <= names
    assert len(listing) == len(names) - 1
    assert not any(n.endswith("gmat.log") for n in names)
    header = sweep.manifest.header
    assert header["sweep_id"] in readme
    assert header["script_sha256"] in readme
    assert "ok 2, failed 2, pending 0" in readme
    with_logs = xs.archive(sweep.path, out=tmp_path / "l.zip", include_logs=True)
    with zipfile.ZipFile(with_logs) as zf:
        logs = [n for n in zf.namelist() if n.endswith("gmat.log")]
    assert len(logs) == 4
    assert xs.verify(with_logs).ok


def test_verify_names_altered_missing_extra(sweeps: dict[str, xs.Sweep], tmp_path: Path) -> None:
    bundle = xs.archive(sweeps["hohmann"].path, out=tmp_path / "h.zip")
    report = xs.verify(bundle)
    assert report.ok
    assert report.checked > 10
    assert not report.problems()
    parquet = "runs/run-000001/report-RF.parquet"
    with zipfile.ZipFile(bundle) as zf:
        data = bytearray(zf.read(parquet))
        info = zf.getinfo(parquet)
    # One byte flipped in place in the zip (the CRC no longer matches either).
    flipped = tmp_path / "flipped.zip"
    raw = bytearray(bundle.read_bytes())
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    raw[at] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    assert xs.verify(flipped).altered == [parquet]
    # Altered content with a consistent zip (a re-packed member): the hash catches it.
    data[100] ^= 0xFF
    repacked = rewrite_bundle(
        bundle,
        tmp_path / "repacked.zip",
        {parquet: bytes(data), "mission.script": None, "runs/extra.txt": b"x"},
    )
    result = xs.verify(repacked)
    assert not result.ok
    assert result.altered == [parquet]
    assert result.missing == ["mission.script"]
    assert result.extra == ["runs/extra.txt"]
    with pytest.raises(xs.BundleError, match=parquet):
        result.raise_for_problems()
    # open_sweep checks the manifest cheaply, and everything with verify=True.
    assert xs.open_sweep(repacked) is not None
    with pytest.raises(xs.BundleError, match="altered: runs/run-000001"):
        xs.open_sweep(repacked, verify=True)
    with pytest.raises(xs.BundleError, match=r"manifest\.jsonl"):
        xs.open_sweep(rewrite_bundle(bundle, tmp_path / "m.zip", {"manifest.jsonl": b"{}\n"}))
    # Extraction refuses it and leaves nothing.
    with pytest.raises(xs.BundleError):
        xs.extract(repacked, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]


@pytest.mark.parametrize(
    "evil",
    ["../escape.txt", "runs/../../escape.txt", "/abs/escape.txt", "C:/escape.txt", "symlink"],
)
def test_extract_refuses_unsafe_members(tmp_path: Path, evil: str) -> None:
    bundle = tmp_path / "evil.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("manifest.jsonl", b"{}\n")
        if evil == "symlink":
            info = zipfile.ZipInfo("runs/link")
            info.external_attr = (0o120777) << 16
            zf.writestr(info, "/etc/passwd")
            name = "runs/link"
        else:
            zf.writestr(evil, b"pwned")
            name = evil
        listing = "".join(f"{'0' * 64}  {n}\n" for n in ["manifest.jsonl", name])
        zf.writestr("MANIFEST.hash", listing)
    dest = tmp_path / "dest" / "sweep"
    with pytest.raises(xs.BundleError, match="unsafe"):
        xs.extract(bundle, dest)
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").iterdir())
    assert not (tmp_path / "escape.txt").exists()
    assert name in xs.verify(bundle).unsafe


def test_extract_refuses_duplicates(tmp_path: Path) -> None:
    bundle = tmp_path / "dup.zip"
    digest = hashlib.sha256(b"{}\n").hexdigest()
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("manifest.jsonl", b"{}\n")
        with pytest.warns(UserWarning, match="Duplicate"):
            zf.writestr("manifest.jsonl", b"{}\n")
        zf.writestr("MANIFEST.hash", f"{digest}  manifest.jsonl\n")
    with pytest.raises(xs.BundleError, match="unsafe"):
        xs.extract(bundle, tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_resume_from_extracted_partial_sweep(client: Client, tmp_path: Path) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7100.0, 7200.0], "TOF": [300, 600]})
    full = xs.run(REPORT, space, out=tmp_path / "full", client=client, progress=False)
    # The same sweep cut short after 3 of 6 runs (as a crash would leave it).
    partial = tmp_path / "partial"
    shutil.copytree(full.path, partial)
    lines = (partial / "manifest.jsonl").read_text().splitlines(keepends=True)
    (partial / "manifest.jsonl").write_text("".join(lines[:4]))
    bundle = xs.archive(partial, out=tmp_path / "partial.zip")
    with zipfile.ZipFile(bundle) as zf:  # unrecorded runs' leftovers are not bundled
        recorded = {n.split("/")[1] for n in zf.namelist() if n.startswith("runs/")}
    assert len(recorded) == 3
    status = xs.open_sweep(bundle)["status"].values
    assert sorted(status.ravel().tolist()) == [0, 0, 0, 1, 1, 1]
    copy = xs.extract(bundle, tmp_path / "copy")
    resumed = xs.resume(copy, client=client, progress=False)
    assert resumed.counts == {"ok": 6, "failed": 0, "pending": 0}
    done, reference = _datasets(xs.open_sweep(copy)), _datasets(xs.open_sweep(full.path))
    for key, ds in reference.items():
        timing = [v for v in ("duration_s",) if v in ds]
        xr.testing.assert_identical(ds.drop_vars(timing), done[key].drop_vars(timing))


def test_bad_input(sweeps: dict[str, xs.Sweep], tmp_path: Path) -> None:
    sweep = sweeps["ephemeris"]
    with pytest.raises(xs.ConfigError, match="not a sweep directory"):
        xs.archive(tmp_path)
    with pytest.raises(xs.ConfigError, match="inside the sweep"):
        xs.archive(sweep.path, out=sweep.path / "runs" / "b.zip")
    existing = tmp_path / "exists.zip"
    existing.write_bytes(b"keep me")
    with pytest.raises(xs.ConfigError, match="overwrite=True"):
        xs.archive(sweep.path, out=existing)
    assert existing.read_bytes() == b"keep me"
    xs.archive(sweep.path, out=existing, overwrite=True)
    assert xs.verify(existing).ok
    with pytest.raises(xs.ConfigError, match="does not exist"):
        xs.archive(sweep.path, out=tmp_path / "no" / "such" / "dir.zip")
    with pytest.raises(xs.ConfigError, match="exists"):
        xs.extract(existing, tmp_path)
    not_zip = tmp_path / "fake.zip"
    not_zip.write_bytes(b"PK not really")
    with pytest.raises(xs.ConfigError, match="not a sweep directory"):
        xs.open_sweep(not_zip)
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("a.txt", "a")
    with pytest.raises(xs.BundleError, match="not an xsweep bundle"):
        xs.open_sweep(plain)
    with pytest.raises(xs.BundleError, match="not an xsweep bundle"):
        xs.verify(plain)
    with pytest.raises(xs.ConfigError, match="read-only"):
        xs.resume(existing, progress=False)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_archive_refuses_a_running_sweep(sweeps: dict[str, xs.Sweep], tmp_path: Path) -> None:
    from xsweep.record.manifest import ManifestWriter

    with ManifestWriter(sweeps["ephemeris"].path), pytest.raises(xs.SweepLockedError):
        xs.archive(sweeps["ephemeris"].path, out=tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_archive_streams_in_bounded_memory(client: Client, tmp_path: Path) -> None:
    sweep = xs.run(
        REPORT, xs.grid({"Sat.SMA": [7000.0]}), out=tmp_path / "s", client=client, progress=False
    )
    # A 64 MiB member (raw output kept beside a run's Parquet, say).
    big = sweep.path / "runs" / "run-000000" / "raw.bin"
    big.write_bytes(np.random.default_rng(0).bytes(64 << 20))
    tracemalloc.start()
    try:
        bundle = xs.archive(sweep.path, out=tmp_path / "big.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"archiving held {peak / 2**20:.0f} MiB"
    with zipfile.ZipFile(bundle) as zf:
        assert zf.getinfo("runs/run-000000/raw.bin").file_size == 64 << 20
    assert xs.verify(bundle).ok
