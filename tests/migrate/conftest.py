"""Real gmat-sweep 0.6.0 sweeps of real missions, made once for the import tests.

gmat-sweep runs unmodified, in its own interpreter, on the embedded engine through
a fake GMAT root (``xsweep.testing.gmat_sweep``); its workers load GMAT, never
this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _helpers import MISSIONS
from xsweep.testing.gmat_sweep import gmat_sweep_root

DRAG = MISSIONS / "leo_drag.script"
MC_SEED = 3  # two of its six SMA draws (6303, 6451 km) decay into the Earth: failed runs
OK_SEED = 12  # its six draws all fly (6556 km and up): gmat-sweep extends only such a base

# A postprocess hook that writes an extra output, and fails for one run GMAT finished:
# a run gmat-sweep failed that xsweep's resume can finish.
HOOK = """
import json
from pathlib import Path

def post(spec, outcome):
    if spec.overrides["Sat.SMA"] == 7100.0 and spec.overrides["Sat.ECC"] == 0.002:
        raise RuntimeError("the hook refused this run")
    path = Path(spec.output_dir) / "note.json"
    path.write_text(json.dumps(spec.overrides))
    return {"note": path}
"""

MAKE = """
import shutil, sys
from pathlib import Path
import pandas as pd
import gmat_sweep as gs
from gmat_sweep import LocalJoblibPool, Sweep

script, here, seed, ok_seed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
missions = Path(script).parent
perturb = {"Sat.SMA": ("normal", 6550.0, 250.0), "Sat.ECC": ("uniform", 0.0, 0.002)}
with LocalJoblibPool(max_workers=2) as pool:
    gs.sweep(script, grid={"Sat.SMA": [7000.0, 6200.0, 7100.0], "Sat.ECC": [0.001, 0.002]},
             backend=pool, out=here / "grid", postprocess="gs_hook:post", progress=False)
    Sweep.from_manifest(here / "grid" / "manifest.jsonl", script, backend=pool).archive(
        here / "grid.zip", include_logs=True)
    gs.monte_carlo(script, n=6, perturb=perturb, seed=seed, backend=pool, out=here / "mc",
                   progress=False)
    gs.monte_carlo(script, n=6, perturb=perturb, seed=ok_seed, backend=pool, out=here / "mc_ok",
                   progress=False)
    shutil.copytree(here / "mc_ok", here / "mc_extended")
    gs.monte_carlo_extend(here / "mc_extended" / "manifest.jsonl", script, n=3, backend=pool,
                          progress=False)
    gs.latin_hypercube(script, n=4, perturb=perturb, seed=5, backend=pool, out=here / "lhs",
                       progress=False)
    gs.sweep(missions / "ephemeris.script", samples=pd.DataFrame({"Sat.SMA": [7000.0, 7200.0]}),
             backend=pool, out=here / "eph", progress=False)
    gs.sweep(missions / "hohmann.script", grid={"TargetRMAG.Value": [8000.0, 9000.0]},
             backend=pool, out=here / "solver", progress=False)
"""


@pytest.fixture(scope="session")
def gs_sweeps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Make the gmat-sweep sweeps: ``grid/`` (a hook), ``grid.zip``, ``mc/``, ``mc_ok/`` (and
    ``mc_extended/``: it extended by 3 runs), ``lhs/``, ``eph/`` (explicit samples of a
    report and two ephemerides) and ``solver/`` (a targeter's iterations)."""
    pytest.importorskip("gmat_sweep", reason="gmat-sweep is a dev dependency")
    here = tmp_path_factory.mktemp("gmat-sweep")
    root = gmat_sweep_root(here / "gmat-root")
    (here / "gs_hook.py").write_text(textwrap.dedent(HOOK))
    (here / "make.py").write_text(textwrap.dedent(MAKE))
    env = {**os.environ, "GMAT_ROOT": str(root), "PYTHONPATH": str(here)}
    done = subprocess.run(
        [sys.executable, str(here / "make.py"), str(DRAG), str(here), str(MC_SEED), str(OK_SEED)],
        env=env,
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return here
