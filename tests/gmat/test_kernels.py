"""Lean text kernels: CSPICE holds the same kernel pool, and runs write the same bytes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

spice = pytest.importorskip("spiceypy")

from _helpers import DATA, MISSIONS, ROOT, run_python  # noqa: E402
from xsweep.gmat import kernels  # noqa: E402
from xsweep.gmat.engine import get_engine  # noqa: E402

BENCH_MISSIONS = ROOT / "benchmarks" / "missions"
# Every mission we keep, each run once with GMAT's own text kernels and once lean.
ALL_MISSIONS = sorted(
    [
        *MISSIONS.glob("*.script"),
        *BENCH_MISSIONS.glob("*.script"),
        DATA / "missions/body_fixed.script",
    ]
)

# A kernel written to trip a careless reader: commentary that looks like data,
# quoted strings with runs of blanks and doubled quotes, continued strings, "+=",
# dates, tabs, blank lines, and a second data block after more commentary.
TRICKY = """KPL/FK

   BODY999_FAKE = ( 1 2 3 )   <- commentary, not data

\\begindata

   NAME_A      =  (  1.5     -2.25D3      7 )
   NAME_S      =  ( 'two  blanks'   'it''s  quoted' )
\tNAME_TAB\t= ( 4\t5 )

   NAME_LONG   = ( 'a continued  //'
                   'string  ends here' )
   NAME_DATE   = @1972-JAN-1
   NAME_A     += ( 9 )

\\begintext

   NAME_B = ( 5 )    <- commentary again

\\begindata
   NAME_B      = ( 6 )
"""


@pytest.fixture
def pool() -> Iterator[None]:
    spice.kclear()
    yield
    spice.kclear()


def _pool_of(path: Path) -> dict[str, tuple[str, list[object]]]:
    """Every kernel-pool variable CSPICE defines after furnishing ``path`` alone."""
    spice.kclear()
    spice.furnsh(str(path))
    names = spice.gnpool("*", 0, 10_000)
    variables: dict[str, tuple[str, list[object]]] = {}
    for name in names:
        size, kind = spice.dtpool(name)  # raises if CSPICE does not know it
        if kind == "C":
            values: list[object] = list(spice.gcpool(name, 0, size))
        else:
            values = [float(v) for v in spice.gdpool(name, 0, size)]
        variables[name] = (kind, values)
    return variables


def _gmat_text_kernels() -> list[str]:
    return kernels.default_text_kernels(get_engine("embedded").gmat)


@pytest.mark.gmat
def test_the_engine_makes_a_lean_copy_of_each_text_kernel_gmat_furnishes() -> None:
    originals = _gmat_text_kernels()
    assert [Path(p).suffix for p in originals] == [".tpc", ".tf"]
    engine = get_engine("embedded")
    assert sorted(engine._lean) == sorted(originals)
    for original, lean in engine._lean.items():
        assert Path(lean).stat().st_size < Path(original).stat().st_size / 2


@pytest.mark.gmat
@pytest.mark.parametrize("index", [0, 1], ids=["planetary-constants", "moon-frames"])
def test_a_lean_kernel_gives_cspice_the_same_pool(pool: None, index: int) -> None:
    original = Path(_gmat_text_kernels()[index])
    lean = Path(get_engine("embedded")._lean[str(original)])
    before, after = _pool_of(original), _pool_of(lean)
    assert len(before) > 10
    assert after == before


def test_commentary_blanks_and_quotes_leave_the_pool_alone(pool: None, tmp_path: Path) -> None:
    original = tmp_path / "tricky.tf"
    original.write_text(TRICKY)
    lean = kernels.make_lean([str(original)], tmp_path / "lean")[str(original)]
    before, after = _pool_of(original), _pool_of(Path(lean))
    assert before["NAME_S"] == ("C", ["two  blanks", "it's  quoted"])
    assert before["NAME_A"][1] == [1.5, -2250.0, 7.0, 9.0]
    assert "BODY999_FAKE" not in before
    assert before["NAME_B"] == ("N", [6.0])
    assert after == before


def test_only_text_kernels_that_can_be_read_get_a_copy(tmp_path: Path) -> None:
    binary = tmp_path / "orbit.bsp"
    binary.write_bytes(b"DAF/SPK \x00\x01")
    lean = kernels.make_lean([str(binary), str(tmp_path / "missing.tpc")], tmp_path / "lean")
    assert lean == {}


@pytest.mark.gmat
def test_a_kernel_the_script_names_itself_is_kept(tmp_path: Path) -> None:
    own = tmp_path / "my_constants.tpc"
    shutil.copy(_gmat_text_kernels()[0], own)
    script = tmp_path / "own.script"
    text = (MISSIONS / "leo_report.script").read_text()
    script.write_text(f"SolarSystem.PCKFilename = '{own}';\n{text}")
    engine = get_engine("embedded")
    engine.load(script)
    solar = engine.gmat.Moderator.Instance().GetSolarSystemInUse()
    assert solar.GetStringParameter("PCKFilename") == str(own)
    engine.load(MISSIONS / "leo_report.script")
    solar = engine.gmat.Moderator.Instance().GetSolarSystemInUse()
    assert solar.GetStringParameter("PCKFilename") == engine._lean[_gmat_text_kernels()[0]]


_RUN_ALL = """
import json, sys
import xsweep as xs
out = {}
for i, script in enumerate(json.loads(sys.argv[1]) if len(sys.argv) > 1 else SCRIPTS):
    outcome = xs.run_mission(script, out_dir=f"{OUT}/{i}")
    log = open(f"{OUT}/{i}/gmat.log").read()
    out[script] = {"status": outcome.status, "error": outcome.error,
                   "outputs": [o.path for o in outcome.outputs],
                   "kernels": [l.split()[1] for l in log.splitlines()
                               if l.startswith("Kernel ") and "has been loaded" in l]}
print(json.dumps(out))
"""


@pytest.mark.gmat
def test_every_mission_writes_the_same_outputs_with_lean_kernels(tmp_path: Path) -> None:
    scripts = [str(s) for s in ALL_MISSIONS]
    runs = {}
    for kind, stock_flag in (("stock", "1"), ("lean", "0")):
        code = f"SCRIPTS = {scripts!r}\nOUT = {str(tmp_path / kind)!r}\n{_RUN_ALL}"
        env = {kernels.ENV_FLAG: stock_flag}
        runs[kind] = json.loads(run_python(code, env=env, timeout=300))
    originals = set(_gmat_text_kernels())
    for i, script in enumerate(scripts):
        stock, lean = runs["stock"][script], runs["lean"][script]
        assert stock["status"] == lean["status"] == "ok", (script, stock, lean)
        # GMAT's log names the files it furnished: its own, or the lean copies.
        assert originals <= set(stock["kernels"]), script
        assert not originals & set(lean["kernels"]), script
        assert stock["outputs"], script
        assert stock["outputs"] == lean["outputs"], script
        for name in stock["outputs"]:
            a = pq.read_table(tmp_path / "stock" / str(i) / name)
            b = pq.read_table(tmp_path / "lean" / str(i) / name)
            assert a.equals(b), (script, name)
            assert _attrs(a) == _attrs(b), (script, name)


def _attrs(table: pa.Table) -> dict[str, object]:
    """A Parquet output's gmat-run attrs, without the time its OEM file was written."""
    attrs: dict[str, object] = json.loads(table.schema.metadata[b"PANDAS_ATTRS"])
    header = attrs.get("file_header")
    if isinstance(header, dict):
        header.pop("CREATION_DATE", None)
    return attrs
