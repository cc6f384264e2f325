"""The package's shape: imports run one way, the public table is whole, processes stay lean."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import xsweep as xs
from _helpers import MISSIONS

SRC = Path(xs.__file__).parent

# Bottom to top: a room may import only rooms before it (docs/architecture.md), and
# none of another room's private names. Top-level modules are rooms of their own.
ORDER = [
    "_version",
    "derived",
    "core",
    "gmat",
    "space",
    "record",
    "plan",
    "store",
    "analysis",
    "pack",
    "migrate",
    "execute",
    "sequential",
    "cli",
    "testing",
    "__main__",
]
ROOMS = [r for r in ORDER if (SRC / r / "__init__.py").is_file()]
# The GMAT side runs in GMAT children: neither xarray nor Dask may load there.
HEAVY = ("xarray", "dask", "distributed", "zarr")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _room(module: str) -> str:
    return module.split(".")[0]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


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


def test_every_module_has_a_room() -> None:
    rooms = {_room(_module_name(p)) for p in _modules()} - {""}
    assert rooms == set(ORDER)
    top = sorted(p.name for p in SRC.glob("*.py"))
    assert len(top) <= 6, top


@pytest.mark.parametrize("room", ROOMS)
def test_every_room_says_what_it_holds_and_may_import(room: str) -> None:
    doc = ast.get_docstring(ast.parse((SRC / room / "__init__.py").read_text())) or ""
    assert len(doc.split()) >= 20, f"xsweep.{room}: say what the room holds"
    assert "import" in doc, f"xsweep.{room}: say what the room may import"


@pytest.mark.parametrize("path", _modules(), ids=_module_name)
def test_imports_run_one_way(path: Path) -> None:
    me = _module_name(path)
    if me == "":  # the package's public table sits above everything
        return
    rank = ORDER.index(_room(me))
    wrong = []
    for name, line in _imports(path):
        if not name.startswith("xsweep."):
            continue
        target = name.removeprefix("xsweep.")
        room = _room(target)
        if room not in ORDER:
            continue
        if ORDER.index(room) > rank:
            wrong.append(f"line {line}: {name} (upward)")
        elif room != _room(me) and any(_private(p) for p in target.split(".")[1:]):
            wrong.append(f"line {line}: {name} (another room's private name)")
    assert not wrong, f"{me}: {wrong}"


def test_no_circle_inside_a_room() -> None:
    names = {_module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for me, path in names.items():
        deps = set()
        for name, _ in _imports(path):
            target = name.removeprefix("xsweep.")
            while target and target not in names:
                target = target.rpartition(".")[0]
            if (
                name.startswith("xsweep.")
                and target
                and target != me
                and _room(target) == _room(me)
            ):
                deps.add(target)
        graph[me] = deps - {me.rpartition(".")[0]}  # it may read its room's __init__
    done: set[str] = set()

    def visit(node: str, stack: list[str]) -> None:
        assert node not in stack, f"import circle: {' -> '.join([*stack, node])}"
        if node in done:
            return
        for dep in graph[node]:
            visit(dep, [*stack, node])
        done.add(node)

    for node in graph:
        visit(node, [])


@pytest.mark.parametrize("path", sorted((SRC / "gmat").glob("*.py")), ids=lambda p: p.stem)
def test_the_gmat_side_imports_no_xarray_or_dask(path: Path) -> None:
    heavy = [n for n, _ in _imports(path) if n.split(".")[0] in HEAVY]
    assert not heavy


def test_the_stub_lists_every_public_name_and_each_resolves() -> None:
    tree = ast.parse((SRC / "__init__.pyi").read_text())
    typed: dict[str, str] = {}
    for stmt in tree.body[1:]:  # after the docstring, only the re-exports
        assert isinstance(stmt, ast.ImportFrom), ast.dump(stmt)
        assert stmt.level == 1  # lazy_loader reads only `from .module import name as name`
        assert all(a.asname == a.name for a in stmt.names)  # the re-export form mypy reads
        typed |= {a.name: f"xsweep.{stmt.module}" if stmt.module else "xsweep" for a in stmt.names}
    assert sorted(xs.__all__) == sorted(typed)
    assert xs.derived is sys.modules["xsweep.derived"]
    for name, module in typed.items():
        if name not in ("derived", "__version__"):
            assert getattr(xs, name) is getattr(importlib.import_module(module), name)
    assert "derived" in dir(xs)
    with pytest.raises(AttributeError):
        xs.not_a_public_name  # noqa: B018


def test_modules_and_functions_stay_small() -> None:
    big = []
    for path in _modules():
        lines = path.read_text().splitlines()
        if len(lines) > 450:
            big.append(f"{_module_name(path)}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body[1:] if ast.get_docstring(node) else node.body
                if body:
                    size = (body[-1].end_lineno or 0) - body[0].lineno + 1
                    if size > 60:
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
    from xsweep.core.options import options
    from xsweep.execute.cluster import Cluster
    from xsweep.execute.worker import execute_run
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


def test_a_lean_process_loads_xarray_only_for_names_that_need_it() -> None:
    code = (
        "import sys, xsweep\n"
        "xsweep.RunOutcome, xsweep.ConfigError, xsweep.derived, xsweep.nominal\n"
        "xsweep.__version__\n"
        "print('xarray' in sys.modules)\n"
        "xsweep.open_sweep\n"
        "import xarray\n"
        "print(hasattr(xarray.Dataset, 'xsweep'))\n"
    )
    env = {**os.environ, "XSWEEP_LEAN": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
