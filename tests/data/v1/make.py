"""Write the sweep this folder holds, with the xsweep version that came before the layout change.

It is the compatibility fixture of tests/test_compat.py: a sweep directory written by
xsweep at commit 0bed486 (store schema 2, manifest schema 1), and the archive that
version made of it. Regenerate only to add a new old version, never to make a test pass:

    git worktree add /tmp/xsweep-0bed486 0bed486
    cd /tmp && PYTHONPATH=/tmp/xsweep-0bed486/src python tests/data/v1/make.py
"""

import shutil
import sys
from pathlib import Path

import xsweep as xs

HERE = Path(__file__).resolve().parent
MISSION = HERE.parents[2] / "examples" / "missions" / "leo_drag.script"

if __name__ == "__main__":
    assert "xsweep-0bed486" in xs.__file__, xs.__file__
    for name in ("sweep", "sweep.zip"):
        path = HERE / name
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
    # 6200 km is inside the Earth: run 0 fails, so a resume has something to rerun.
    space = xs.grid({"Sat.SMA": [6200.0, 7000.0, 7100.0], "TOF": [60]})
    sweep = xs.run(MISSION, space, out=HERE / "sweep", workers=1, progress=False)
    xs.archive(sweep.path, out=HERE / "sweep.zip")
    print(sweep.counts, file=sys.stderr)
