"""A sweep or a bundle runs no code of its own: derive records, modules beside it, caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import rewrite_bundle, xsweep_command

pytestmark = pytest.mark.gmat

EVIL = """
import pathlib
pathlib.Path({marker!r}).write_text("imported")

def f(outputs, params):
    pathlib.Path({marker!r}).write_text("called")
    return {{"x": 1.0}}
"""


def _derive_line(ref: str) -> bytes:
    record = {"kind": "derive", "functions": [{"fn": ref, "sha256": "0" * 64, "importable": True}]}
    return json.dumps(record).encode() + b"\n"


def _plant(sweep: Path, marker: Path) -> None:
    """What finding 1 planted: a module in the sweep, and a derive record naming it."""
    (sweep / "evil.py").write_text(EVIL.format(marker=str(marker)))
    manifest = sweep / "manifest.jsonl"
    manifest.write_bytes(manifest.read_bytes() + _derive_line(f"{sweep.name}.evil:f"))


def test_a_bundle_carrying_a_module_is_refused(real_bundle: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with zipfile.ZipFile(real_bundle) as zf:
        manifest = zf.read("manifest.jsonl")
    forged = rewrite_bundle(
        real_bundle,
        tmp_path / "forged.zip",
        {"manifest.jsonl": manifest + _derive_line("sweep.evil:f"),
         "evil.py": EVIL.format(marker=str(marker)).encode()},
        rehash=True,
    )  # fmt: skip
    assert xs.verify(forged).ok  # the forger rehashed it: it verifies
    with pytest.raises(xs.BundleError, match=r"outside a sweep's layout.*evil\.py"):
        xs.extract(forged, tmp_path / "sweep")
    assert not (tmp_path / "sweep").exists()
    assert not marker.exists()


def test_a_derive_record_of_a_sweep_is_never_imported(
    sweep_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "ran"
    _plant(sweep_copy, marker)
    monkeypatch.syspath_prepend(str(sweep_copy.parent))  # as ``python -m`` run beside it
    # Run 0 failed: the resume has work, and the derive function it would need is refused.
    with pytest.raises(xs.ConfigError, match=r"copy\.evil:f: xsweep runs no function a sweep"):
        xs.resume(sweep_copy, workers=1, progress=False)
    assert not marker.exists()
    assert "copy.evil" not in sys.modules
    # A resume with nothing to run (every other run ok) still imports nothing.
    xs.Sweep(sweep_copy).runs()
    xs.open_sweep(sweep_copy).load()
    assert not marker.exists()


def test_the_cli_resume_of_a_planted_sweep_runs_nothing(sweep_copy: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    _plant(sweep_copy, marker)
    proc = subprocess.run(
        xsweep_command("resume", sweep_copy.name, "--workers", "1", "--no-progress"),
        cwd=sweep_copy.parent,  # ``python -m`` puts this directory first on sys.path
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "xsweep runs no function a sweep names" in lines[0]
    assert "derive=" in lines[0]
    assert not marker.exists()


def test_a_builtin_recipe_is_rebuilt_and_a_forged_one_is_not(
    sweep_copy: Path, tmp_path: Path
) -> None:
    manifest = sweep_copy / "manifest.jsonl"
    recipe = {"name": "minimum", "params": {"column": "Sat.Earth.Altitude"}}
    forged = {"kind": "derive", "functions": [
        {"fn": "xsweep.derived:minimum(column='Sat.Earth.Altitude')", "sha256": "0" * 64,
         "importable": True, "builtin": recipe},
        {"fn": "os:system", "sha256": "0" * 64, "importable": True,
         "builtin": {"name": "__class__", "params": {}}},
    ]}  # fmt: skip
    manifest.write_bytes(manifest.read_bytes() + json.dumps(forged).encode() + b"\n")
    with pytest.raises(xs.ConfigError, match=r"os:system: xsweep runs no function"):
        xs.resume(sweep_copy, workers=1, progress=False)
    # Without the forged entry, the built-in recipe is rebuilt and fills every ok run.
    forged["functions"] = forged["functions"][:1]
    manifest.write_bytes(manifest.read_bytes() + json.dumps(forged).encode() + b"\n")
    with pytest.warns(UserWarning, match="changed since the sweep recorded it"):  # forged sha
        sweep = xs.resume(sweep_copy, workers=1, progress=False, rederive=True)
    assert sweep.derive_counts["ok"] == 2  # the two ok runs (run 0 fails again: inside Earth)


def test_children_import_nothing_from_the_working_directory(tmp_path: Path) -> None:
    """Finding 5: a ``pickle.py`` where the sweep is started runs in no GMAT or writer child."""
    marker = tmp_path / "ran"
    here = tmp_path / "here"
    here.mkdir()
    for name in ("pickle", "struct", "select"):
        (here / f"{name}.py").write_text(
            f"import pathlib\npathlib.Path({str(marker)!r}).write_text({name!r})\n"
            "raise SystemExit('planted module imported')\n"
        )
    mission = Path(__file__).resolve().parents[2] / "examples/missions/leo_report.script"
    code = (
        "import xsweep as xs\n"
        "from xsweep.store.process import WriterProcess\n"
        f"s = xs.run({str(mission)!r}, xs.grid({{'Sat.SMA': [7000.0, 7100.0], 'TOF': [60]}}),"
        " out='s', workers=1, progress=False)\n"
        "assert s.counts['ok'] == 2, s.counts\n"
        "w = WriterProcess()\n"
        "assert w.submit(sum, [1, 2]).result(timeout=120) == 3\n"
        "w.shutdown()\n"
        "print('ok')\n"
    )
    # The client itself: started from its script's directory elsewhere, not ``-c`` in ``here``
    # (``-c`` would put ``here`` first on the client's own path, as Python always does).
    script = tmp_path / "client.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=here, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONSAFEPATH": ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"
    assert not marker.exists(), marker.read_text()


def test_a_resume_names_the_script_it_will_run(
    real_bundle: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Resuming a sweep from someone else runs its GMAT script: said, with its hash, first."""
    copy = xs.extract(real_bundle, tmp_path / "sweep")
    header = json.loads((copy / "manifest.jsonl").read_text().splitlines()[0])
    capfd.readouterr()
    xs.resume(copy, workers=1, progress=True)  # run 0 (inside the Earth) runs again
    err = capfd.readouterr().err
    said = f"xsweep: 1 run will run {copy / 'mission.script'}, sha256 {header['script_sha256']}"
    assert said in err
    assert err.index(said) < err.index(f"xsweep {header['script']['name']}:")  # before the bar
