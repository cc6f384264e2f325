"""The scale model's stand-in for GMAT: a run that copies a finished run's outputs.

``benchmarks/scale.py`` measures xsweep's orchestration (client, scheduler,
manifest, store) at 10^4..10^6 runs, where GMAT itself would hide it. With
:data:`ENV` set to a JSON file naming a finished run's directory and its
outcome, every run hard-links that run's files into its own directory and
reports the same outcome, in microseconds. Not an engine a user can pick: it
exists for the model and the tests of orchestration logic.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from xsweep._done import write_done
from xsweep._records import RunOutcome, now_iso

ENV = "XSWEEP_SCALE_MODEL_RUN"


@functools.cache
def _template(spec: str) -> tuple[str, RunOutcome]:
    with open(spec) as fh:
        data = json.load(fh)
    return str(data["dir"]), RunOutcome.from_dict(data["outcome"])


def canned_run(out_dir: str, script: str, overrides: Mapping[str, Any]) -> RunOutcome | None:
    """Stand in for GMAT when the scale model is on (``None``: it is off, run GMAT)."""
    spec = os.environ.get(ENV)
    if not spec:
        return None
    t0, started = time.perf_counter(), now_iso()
    source, outcome = _template(spec)
    os.makedirs(out_dir, exist_ok=True)
    names = [o.path for o in outcome.outputs] + ([outcome.log] if outcome.log else [])
    for name in names:
        target = os.path.join(out_dir, name)
        try:
            os.link(os.path.join(source, name), target)
        except OSError:  # another file system, or already there (a retry)
            if not os.path.exists(target):
                shutil.copyfile(os.path.join(source, name), target)
    outcome = replace(outcome, started=started, ended=now_iso(), pid=os.getpid(),
                      duration_s=time.perf_counter() - t0, gmat_s=0.0)  # fmt: skip
    write_done(out_dir, outcome, script, overrides)  # as the GMAT child does
    return outcome
