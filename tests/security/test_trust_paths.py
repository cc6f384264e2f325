"""Every path a sweep names stays inside it: problems, scripts, variants, archives, caches."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

import xsweep as xs
from xsweep.execute import shipping as _ship
from xsweep.execute.shipping import ScriptBundle, script_bundle

pytestmark = pytest.mark.gmat


def _lines(sweep: Path) -> list[dict]:
    return [json.loads(x) for x in (sweep / "manifest.jsonl").read_text().splitlines()]


def _write(sweep: Path, records: list[dict]) -> None:
    (sweep / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _files_outside(root: Path, name: str) -> list[Path]:
    return [p for p in root.rglob(name)]


def test_a_problem_naming_a_path_out_of_the_sweep_is_refused(
    sweep_copy: Path, tmp_path: Path
) -> None:
    """Finding 3: reparse would read ``raw`` and write ``<name>.parquet`` where they point."""
    secret = tmp_path / "secret.txt"
    secret.write_text("Time A\n1 2\n")
    records = _lines(sweep_copy)
    ok = next(r for r in records if r.get("status") == "ok")
    for name, raw in [("x/../../../../../escaped", "runs/run-000001/raw/RF.txt"),
                      ("RF", str(secret)), ("RF", "../secret.txt")]:  # fmt: skip
        forged = {**ok, "output_problems": [
            {"kind": "report", "name": name, "status": "unparsed", "error": "e", "raw": raw}
        ]}  # fmt: skip
        _write(sweep_copy, [*records, forged, ok])  # not the last line: not taken for torn
        with pytest.raises(xs.ManifestCorruptError, match=r"relative path inside|resource name"):
            xs.resume(sweep_copy, workers=1, progress=False, reparse=True)
    assert not _files_outside(tmp_path, "escaped*")


@pytest.mark.parametrize(
    "file", ["/etc/hostname", "../outside.script", "script/../../outside.script"]
)
def test_a_header_naming_a_script_out_of_the_sweep_is_refused(
    sweep_copy: Path, tmp_path: Path, file: str
) -> None:
    (tmp_path / "outside.script").write_text((sweep_copy / "mission.script").read_text())
    records = _lines(sweep_copy)
    records[0]["script"]["file"] = file
    _write(sweep_copy, records)
    with pytest.raises(xs.ConfigError, match=r"inside the sweep|outside the sweep"):
        xs.resume(sweep_copy, workers=1, progress=False)


def test_a_symlinked_script_is_not_followed_out(sweep_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.script"
    outside.write_text((sweep_copy / "mission.script").read_text())
    (sweep_copy / "mission.script").unlink()
    (sweep_copy / "mission.script").symlink_to(outside)
    with pytest.raises(xs.ConfigError, match="leads outside the sweep"):
        xs.resume(sweep_copy, workers=1, progress=False)


def test_a_side_file_out_of_the_sweep_is_refused(sweep_copy: Path) -> None:
    records = _lines(sweep_copy)
    records[0]["script"]["files"] = [{"file": "/etc/hostname", "named": "/etc/hostname",
                                      "in": "files="}]  # fmt: skip
    _write(sweep_copy, records)
    with pytest.raises(xs.ConfigError, match="outside the sweep"):
        xs.resume(sweep_copy, workers=1, progress=False)


def test_archive_follows_no_symlink_out_of_the_sweep(sweep_copy: Path, tmp_path: Path) -> None:
    """Finding 8: a symlinked run directory zipped a file from outside."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("not yours")
    run = sweep_copy / "runs" / "run-000002"
    for f in run.iterdir():
        (elsewhere / f.name).write_bytes(f.read_bytes())
        f.unlink()
    run.rmdir()
    run.symlink_to(elsewhere, target_is_directory=True)
    (sweep_copy / "runs" / "run-000001" / "link.txt").symlink_to(elsewhere / "secret.txt")
    with pytest.warns(UserWarning, match="left out 2 symlinks"):
        bundle = xs.archive(sweep_copy, out=tmp_path / "b.zip")
    with zipfile.ZipFile(bundle) as zf:
        names = zf.namelist()
        assert not any("secret" in n or n.startswith("runs/run-000002/") for n in names)
        assert all(b"not yours" not in zf.read(n) for n in names)


def test_the_script_cache_is_private_and_checked(real_sweep: Path) -> None:
    """Finding 4: a planted or changed cached script is never run under a genuine hash."""
    bundle = script_bundle(real_sweep)
    root = Path(_ship._placed(bundle))
    cache = root.parent
    mode = cache.stat().st_mode
    assert stat.S_IMODE(mode) == 0o700
    assert cache.stat().st_uid == os.getuid()
    assert cache.name.startswith("xsweep-scripts-")
    assert cache.name != f"xsweep-scripts-{os.getuid()}"  # not the old shared, guessable one
    # Someone changes the placed script: the next process-level check re-hashes and re-places.
    (root / "mission.script").write_text("% planted\n")
    _ship._VERIFIED.discard(str(root))
    again = Path(_ship._placed(bundle))
    assert (again / "mission.script").read_bytes() == (real_sweep / "mission.script").read_bytes()
    # A cache made readable by others is refused outright.
    cache.chmod(0o755)
    try:
        with pytest.raises(PermissionError, match="not a private directory"):
            _ship._placed(ScriptBundle("f" * 64, {"a.script": b"x"}))
    finally:
        cache.chmod(0o700)


def test_the_lock_file_is_private(real_sweep: Path, sweep_copy: Path) -> None:
    xs.resume(sweep_copy, workers=1, progress=False)  # takes and releases the lock
    assert stat.S_IMODE((sweep_copy / ".manifest.lock").stat().st_mode) == 0o600
