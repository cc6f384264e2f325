"""A sweep runs from every place a user starts Python, with no ``__main__`` guard.

Each case runs a real 2-run sweep on the embedded engine in a fresh interpreter started
the way a user would start it, and checks the counts it prints. Every wait is bounded:
a case that hangs fails on its subprocess timeout.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

import xsweep as xs
from _helpers import MISSIONS, ROOT, xsweep_command

pytestmark = [pytest.mark.gmat, pytest.mark.slow]

REPORT = MISSIONS / "leo_report.script"
OK = "{'ok': 2, 'failed': 0, 'pending': 0}"


def _sweep_code(out: Path, *, twice: bool = False) -> str:
    """The five lines a newcomer writes: no guard, no options beyond the essentials."""
    code = f"""
        import xsweep as xs
        s = xs.run({str(REPORT)!r}, xs.grid({{"Sat.SMA": [7000.0, 7100.0], "TOF": [60]}}),
                   out={str(out)!r}, progress=False)
        print(s.counts)
    """
    if twice:
        code += f"""
        s = xs.run({str(REPORT)!r}, xs.grid({{"Sat.SMA": [7200.0, 7300.0], "TOF": [60]}}),
                   out={str(out)!r} + "-2", progress=False)
        print(s.counts)
    """
    return textwrap.dedent(code)


def _run(args: list[str], *, stdin: str | None = None, cwd: Path = ROOT) -> str:
    proc = subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=180, cwd=cwd, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc.stdout


def test_a_plain_script_without_a_guard(tmp_path: Path) -> None:
    script = tmp_path / "plain.py"
    script.write_text(_sweep_code(tmp_path / "sw"))
    assert _run([sys.executable, str(script)]).splitlines() == [OK]


def test_a_script_on_stdin(tmp_path: Path) -> None:
    assert _run([sys.executable, "-"], stdin=_sweep_code(tmp_path / "sw")).splitlines() == [OK]


def test_python_dash_c(tmp_path: Path) -> None:
    assert _run([sys.executable, "-c", _sweep_code(tmp_path / "sw")]).splitlines() == [OK]


def test_python_dash_m(tmp_path: Path) -> None:
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "study.py").write_text(_sweep_code(tmp_path / "sw"))
    assert _run([sys.executable, "-m", "mypkg.study"], cwd=tmp_path).splitlines() == [OK]


def test_a_script_that_sweeps_twice(tmp_path: Path) -> None:
    script = tmp_path / "twice.py"
    script.write_text(_sweep_code(tmp_path / "sw", twice=True))
    assert _run([sys.executable, str(script)]).splitlines() == [OK, OK]


def test_an_ipython_session(tmp_path: Path) -> None:
    ipython = Path(sys.executable).with_name("ipython")
    out = _run([str(ipython), "--no-banner", "--quick", "-c", _sweep_code(tmp_path / "sw")])
    assert OK in out


def test_a_jupyter_kernel(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(_sweep_code(tmp_path / "sw")),
        nbformat.v4.new_code_cell("ds = xs.open_sweep(s.path); print(int(ds['status'].sum()))"),
    ]
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"path": str(ROOT)}).execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    assert not [o for o in outputs if o["output_type"] == "error"]
    printed = [o["text"] for o in outputs if o.get("name") == "stdout"]
    assert printed == [OK + "\n", "2\n"]


def test_a_notebook_draws_a_state_block_grows_the_sweep_and_reuses_runs(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "nb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np\nimport xsweep as xs\n"
            f"block = xs.state_block({str(REPORT)!r}, 'Sat', np.diag([0.01, 1.0, 0.01]))\n"
            "space = xs.monte_carlo(2, block, seed=1).merge(xs.grid({'TOF': [60]}))\n"
            f"s = xs.run({str(REPORT)!r}, space, out={str(out)!r}, workers=1)\n"
            "print(s.counts)"
        ),
        nbformat.v4.new_code_cell(
            f"s = xs.extend({str(out)!r}, grid={{'TOF': [120]}}, workers=1)\n"
            "print(s.counts, xs.open_sweep(s.path)['TOF'].values.tolist())"
        ),
        nbformat.v4.new_code_cell(  # a variant with the script's own hash: every run linked
            f"s = xs.extend({str(out)!r}, scripts={{'copy': {str(REPORT)!r}}}, reuse='content',"
            " workers=1)\n"
            "print(s.counts, xs.open_sweep(s.path)['script'].values.tolist())"
        ),
    ]
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"path": str(ROOT)}).execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    assert not [o for o in outputs if o["output_type"] == "error"]
    printed = [o["text"] for o in outputs if o.get("name") == "stdout"]
    assert printed == [
        OK + "\n",
        "{'ok': 4, 'failed': 0, 'pending': 0} [60, 120]\n",
        "{'ok': 8, 'failed': 0, 'pending': 0} ['leo_report', 'copy']\n",
    ]
    errors = "".join(o["text"] for o in outputs if o.get("name") == "stderr")
    assert "4 of 4 runs linked to identical ok runs" in errors


class _Refuses(WorkerPlugin):
    """A worker plugin that cannot start: the worker it is on fails at start-up."""

    name = "refuses"

    def setup(self, worker: object) -> None:
        raise RuntimeError("this worker cannot reach its license server")


def test_a_worker_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    start = time.monotonic()
    with pytest.raises(xs.ClusterStartError, match="cannot reach its license server"):
        xs.run(
            REPORT,
            xs.grid({"Sat.SMA": [7000.0, 7100.0]}),
            out=out,
            progress=False,
            cluster_kwargs={"plugins": {_Refuses()}},
            cluster_timeout=30,
        )
    assert time.monotonic() - start < 30  # failed at once, not at the bound
    assert not out.exists()  # nothing written


def test_a_cluster_without_workers_is_an_error_within_the_bound(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    with (
        LocalCluster(n_workers=0, dashboard_address=":0", processes=False) as cluster,
        Client(cluster) as client,
    ):
        start = time.monotonic()
        with pytest.raises(xs.ClusterStartError, match="cluster_timeout=2 s"):
            xs.run(
                REPORT,
                xs.grid({"Sat.SMA": [7000.0]}),
                out=out,
                client=client,
                progress=False,
                cluster_timeout=2,
            )
        assert time.monotonic() - start < 15
    assert not out.exists()


def test_the_cli_gives_up_on_a_scheduler_that_never_answers(tmp_path: Path) -> None:
    out = tmp_path / "sw"
    proc = subprocess.run(
        xsweep_command(
            "run",
            str(REPORT),
            "--grid",
            "Sat.SMA=7000",
            "--out",
            str(out),
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--cluster-timeout",
            "2",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("xsweep run: error: cannot reach the scheduler tcp://127.0.0.1:9")
    assert not out.exists()
