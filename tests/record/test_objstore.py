"""Sweeps at a URL, on fsspec's local file system (``file://``): the manifest's parts and
generations, staging, and the errors. The S3 server's tests are in test_remote.py."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import pytest
import xarray as xr

import xsweep as xs
from _helpers import MISSIONS
from xsweep.core.errors import ConfigError
from xsweep.record.bucket import MARKER_NAME, Remote, part_name

REPORT = MISSIONS / "leo_drag.script"  # 6200 km: inside the Earth, a failed run


def _line(run_id: int, status: str = "ok") -> bytes:
    return json.dumps({"kind": "run", "run_id": run_id, "status": status}).encode() + b"\n"


def test_the_manifest_is_the_compacted_object_then_the_parts_of_later_generations(
    tmp_path: Path,
) -> None:
    remote = Remote(f"file://{tmp_path}/bucket/a")
    header = b'{"kind": "header"}\n'
    assert remote.compact(header) == 1  # an empty bucket: generation 0 compacted
    remote.pipe(part_name(1, 0), _line(0))
    remote.pipe(part_name(1, 1), _line(1, "failed"))
    assert remote.manifest_bytes() == header + _line(0) + _line(1, "failed")
    # The session's close compacts: one object again, the parts gone, the marker at 1.
    whole = remote.manifest_bytes() + _line(1)
    assert remote.compact(whole) == 2
    assert remote.listing("manifest.d") == [MARKER_NAME]
    assert json.loads(remote.cat(MARKER_NAME) or b"") == {"generation": 1}
    # A part of a compacted generation (its delete lost, say) is not read twice.
    remote.pipe(part_name(1, 2), _line(2))
    remote.pipe(part_name(2, 0), _line(3))
    assert remote.manifest_bytes() == whole + _line(3)


def test_a_compaction_cut_short_after_the_object_reads_the_parts_again_harmlessly(
    tmp_path: Path,
) -> None:
    remote = Remote(f"file://{tmp_path}/a")
    remote.compact(b"h\n")
    remote.pipe(part_name(1, 0), _line(0, "failed"))
    remote.pipe(part_name(1, 1), _line(0))
    whole = remote.manifest_bytes()
    remote.pipe("manifest.jsonl", whole)  # the compaction's first step only
    data = remote.manifest_bytes()
    assert data == whole + _line(0, "failed") + _line(0)  # the same lines, in the same order
    records = [json.loads(x) for x in data.splitlines()[1:]]
    assert records[-1]["status"] == "ok"  # last wins, as before


def test_urls_and_local_paths_are_each_refused_where_they_do_not_fit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="storage_options is for a sweep at a URL"):
        xs.run(REPORT, xs.grid({"TOF": [60]}), out=tmp_path / "s",
               storage_options={"anon": True})  # fmt: skip
    with pytest.raises(ConfigError, match="storage_options is for a sweep at a URL"):
        xs.open_sweep(tmp_path, storage_options={"anon": True})
    with pytest.raises(ConfigError, match="is not a sweep"):
        xs.resume(f"file://{tmp_path}/nothing", progress=False)
    with pytest.raises(ConfigError, match="is not a sweep"):
        xs.open_sweep(f"file://{tmp_path}/nothing")
    with pytest.raises(ConfigError, match="is a URL: this call needs a sweep directory"):
        xs.consolidate(f"file://{tmp_path}/nothing")
    with pytest.raises(ConfigError, match="cannot open nosuch://x"):
        xs.open_sweep("nosuch://x/y")


@pytest.mark.gmat
def test_a_sweep_at_a_url_runs_resumes_opens_and_archives_like_a_directory(
    tmp_path: Path,
) -> None:
    space = xs.grid({"Sat.SMA": [6200.0, 7000.0, 7100.0], "TOF": [600.0]})  # 6200: in the Earth
    url = f"file://{tmp_path}/bucket/sweeps/a"
    local = tmp_path / "local"
    sweep = xs.run(REPORT, space, out=url, workers=1, progress=False)
    xs.run(REPORT, space, out=local, workers=1, progress=False)
    assert str(sweep.path) == url
    assert sweep.counts == {"ok": 2, "failed": 1, "pending": 0}
    with pytest.raises(ConfigError, match="already holds a sweep"):
        xs.run(REPORT, space, out=url, workers=1, progress=False)
    # Nothing of the session is left on local disk: the staging directory went with it.
    assert not list(Path(tmp_path).glob("xsweep-staging-*"))
    bucket = tmp_path / "bucket" / "sweeps" / "a"
    assert (bucket / "runs" / "run-000001" / "report-RF.parquet").is_file()
    assert sorted(p.name for p in (bucket / "manifest.d").iterdir()) == ["compacted.json"]

    resumed = xs.resume(url, workers=1, progress=False)
    assert resumed.counts == {"ok": 2, "failed": 1, "pending": 0}  # the failure reran, failed
    lines = (bucket / "manifest.jsonl").read_text().splitlines()
    assert sum(json.loads(x).get("run_id") == 0 for x in lines) == 2  # its second outcome

    opened = xs.open_sweep(url)
    mine = opened.drop_vars(["duration_s", "error"]).load()
    theirs = xs.open_sweep(local).drop_vars(["duration_s", "error"]).load()
    xr.testing.assert_equal(mine, theirs)
    # GMAT's message names the script where it was loaded: here the staging copy.
    errors = [str(xs.open_sweep(p)["error"].values[0, 0]).split(" line ")[0] for p in (url, local)]
    assert errors[0] == errors[1]
    label = {"Sat.SMA": 7100.0, "TOF": 600.0}
    # Each run's duration and error (its script's path) are coordinates that differ.
    sel = opened["Sat.Earth.Altitude"].sel(label).dropna("step").drop_vars(["duration_s", "error"])
    assert sel.size > 1
    xr.testing.assert_equal(sel, theirs["Sat.Earth.Altitude"].sel(label).dropna("step"))

    zipped = xs.archive(url, out=tmp_path / "a.zip")
    assert xs.verify(zipped).ok
    with zipfile.ZipFile(zipped) as zf:
        assert not [n for n in zf.namelist() if "manifest.d" in n]
    unzipped = xs.open_sweep(zipped).drop_vars(["duration_s", "error"]).load()
    xr.testing.assert_equal(unzipped, theirs)


def test_storage_options_on_the_command_line_nest_and_read_their_types() -> None:
    from xsweep.cli.spaces import SpecError, parse_storage_options

    given = ["key=k", "anon=false", "client_kwargs.region_name=eu-1", "config_kwargs.retries=3"]
    assert parse_storage_options(given) == {
        "key": "k",
        "anon": False,
        "client_kwargs": {"region_name": "eu-1"},
        "config_kwargs": {"retries": 3},
    }
    assert parse_storage_options([]) is None
    with pytest.raises(SpecError, match="expected FIELD=SPEC"):
        parse_storage_options(["endpoint_url"])
    with pytest.raises(SpecError, match="key is already a value"):
        parse_storage_options(["key=k", "key.sub=v"])


@pytest.mark.gmat
def test_a_summary_sweep_with_an_envelope_at_a_url_opens_archives_and_reflies(
    tmp_path: Path,
) -> None:
    space = xs.grid({"Sat.SMA": [7000.0, 7050.0, 7100.0], "TOF": [600.0]})
    url, local = f"file://{tmp_path}/bucket/c", tmp_path / "local"
    for out in (url, local):
        xs.run(REPORT, space, out=out, workers=1, progress=False, keep=xs.Keep(every=2),
               envelope=xs.envelope(60.0))  # fmt: skip
    bucket = tmp_path / "bucket" / "c"
    assert sorted(p.name for p in (bucket / "runs").iterdir()) == ["run-000000", "run-000002"]
    for opened in ({"summary": True}, {"envelope": True}, {}):
        mine = xs.open_sweep(url, **opened).drop_vars(["duration_s"], errors="ignore").load()
        theirs = xs.open_sweep(local, **opened).drop_vars(["duration_s"], errors="ignore").load()
        xr.testing.assert_equal(mine, theirs)
    assert xs.open_sweep(url)["kept"].values.tolist() == [[1], [0], [1]]
    with zipfile.ZipFile(xs.archive(url, out=tmp_path / "c.zip")) as bundle:
        assert any(n.startswith("sweep.zarr/envelope/") for n in bundle.namelist())
    xr.testing.assert_equal(xs.open_sweep(tmp_path / "c.zip", envelope=True),
                            xs.open_sweep(local, envelope=True))  # fmt: skip
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        again = xs.refly(url, [1], workers=1, progress=False)
    assert not [w for w in said if "re-flown" in str(w.message)]  # a run that differs warns
    assert again.manifest.runs[1].outcome.extra["refly"]["same"] is True
    assert xs.open_sweep(url)["kept"].values.tolist() == [[1], [1], [1]]
