"""The package's shape: imports run one way, the public table is whole, processes stay lean."""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS

SRC = Path(xs.__file__).parent

# Bottom to top: a module may import only modules before it (docs/architecture.md).
ORDER = [
    "_version",
    "_errors",
    "_timeouts",
    "_atomic",
    "_epochs",
    "derived",
    "_derive",
    "_records",
    "_paths",
    "_done",
    "_objstore",
    "_draws",
    "_joint",
    "_growth",
    "_reprs",
    "_values",
    "_space",
    "_manifest",
    "_closure",
    "_scripts",
    "_reuse",
    "gmat",
    "gmat.kernels",
    "gmat.engine",
    "gmat.variants",
    "gmat.outputs",
    "gmat.mission",
    "gmat.fields",
    "gmat.requests",
    "gmat.pipe",
    "gmat.child",
    "_frames",
    "_fields",
    "_designs",
    "_source",
    "store",
    "store.layout",
    "store.derived",
    "store.write",
    "store.process",
    "store.live",
    "store.blocks",
    "store.open",
    "_scale_model",
    "_ship",
    "_tasks",
    "_preload",
    "_dashboard",
    "_plan",
    "_reparse",
    "_cluster",
    "_batching",
    "_dispatch",
    "_adopt",
    "_inspect",
    "_handle",
    "_remote",
    "_archive",
    "_czml",
    "_session",
    "_sweep",
    "_continue",
    "_analysis",
    "_sobol",
    "_convergence",
    "_plots",
    "_accessor",
    "_cli_space",
    "_cli_parser",
    "_cli_show",
    "_cli",
    "__main__",
]
# The GMAT side runs in GMAT children: neither xarray nor Dask may load there.
HEAVY = ("xarray", "dask", "distributed", "zarr")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every ``xsweep`` module and third-party top-level package ``path`` imports (any depth)."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [(n, node.lineno) for n in names]
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
    return found


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer() -> None:
    names = {_module_name(p) for p in _modules()} - {""}
    assert names == set(ORDER)


@pytest.mark.parametrize("path", _modules(), ids=_module_name)
def test_imports_run_one_way(path: Path) -> None:
    me = _module_name(path)
    if me == "":  # the package's public table sits above everything
        return
    rank = ORDER.index(me)
    upward = []
    for name, line in _imports(path):
        if not name.startswith("xsweep."):
            continue
        target = name.removeprefix("xsweep.")
        while target and target not in ORDER:  # ``xsweep.store.layout.Layout`` -> the module
            target = target.rpartition(".")[0]
        if target and ORDER.index(target) > rank and target != me.rpartition(".")[0]:
            upward.append(f"line {line}: {name}")
    assert not upward, f"{me} imports upward or sideways: {upward}"


@pytest.mark.parametrize("path", sorted((SRC / "gmat").glob("*.py")), ids=lambda p: p.stem)
def test_the_gmat_side_imports_no_xarray_or_dask(path: Path) -> None:
    heavy = [n for n, _ in _imports(path) if n.split(".")[0] in HEAVY]
    assert not heavy


def test_the_public_table_is_what_type_checkers_see() -> None:
    tree = ast.parse((SRC / "__init__.py").read_text())
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                typed |= {a.name: str(stmt.module) for a in stmt.names}
    assert typed.pop("derived") == "xsweep"  # the built-in derive functions, a module
    assert typed == xs._PUBLIC
    for name, module in xs._PUBLIC.items():
        assert getattr(xs, name) is getattr(sys.modules[module], name)
    assert sorted(xs.__all__) == sorted([*xs._PUBLIC, "__version__", "derived"])
    assert xs.derived is sys.modules["xsweep.derived"]


def test_modules_and_functions_stay_small() -> None:
    big = []
    for path in _modules():
        lines = path.read_text().splitlines()
        if len(lines) > 470:
            big.append(f"{_module_name(path)}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                if body:
                    size = (body[-1].end_lineno or 0) - body[0].lineno + 1
                    if size > 80:
                        big.append(f"{_module_name(path)}.{node.name}: {size} lines of code")
    assert not big


@pytest.mark.gmat
def test_a_gmat_child_imports_no_xarray_or_dask(tmp_path: Path) -> None:
    from xsweep.gmat.child import GmatChild, RunRequest

    child = GmatChild()
    try:
        outcome = child.run(
            RunRequest(str(MISSIONS / "leo_report.script"), {"TOF": 60}, str(tmp_path / "r"))
        )
        assert outcome.ok
        loaded = {m.split(".")[0] for m in child.modules()}
    finally:
        child.close()
    assert "gmatpy" in loaded  # it did run GMAT
    assert not loaded & set(HEAVY)


def _heavy_modules() -> dict[str, bool]:
    return {name: name in sys.modules for name in ("xarray", "pandas", "zarr")}


@pytest.mark.gmat
@pytest.mark.slow
def test_an_embedded_worker_stays_lean(tmp_path: Path) -> None:
    from xsweep._cluster import Cluster
    from xsweep._plan import options
    from xsweep._tasks import execute_run
    from xsweep.gmat.child import RunRequest

    opts = options(
        engine="auto", gmat_root=None, timeout=None, retries=0, isolation="worker", keep_raw=False
    )
    # Worker processes (opt-in): the default workers are threads of the client.
    with Cluster(None, 1, False, {"processes": True}, opts, path=tmp_path) as cluster:
        client = cluster.start_workers(1)
        request = RunRequest(str(MISSIONS / "leo_report.script"), {"TOF": 60}, str(tmp_path / "r"))
        assert client.submit(execute_run, request, pure=False).result().ok
        (seen,) = client.run(_heavy_modules).values()
        (lean,) = client.run(os.environ.get, "XSWEEP_LEAN").values()
    assert lean == "1"
    assert seen == {"xarray": False, "pandas": False, "zarr": False}
