"""Parse again the outputs gmat-run could not parse, from the raw files a sweep kept.

``xs.resume(path, reparse=True)`` (CLI ``xsweep resume DIR --reparse``), once a
fixed parser is installed: every ``unparsed`` output of an ok run is read from
its kept file (``runs/run-NNNNNN/raw/``) by gmat-run, without running GMAT, and
written as that run's Parquet; the run's manifest line is appended again with
the output among its outputs (last-wins), and the store's blocks of those runs
are rewritten. An output that still does not parse keeps its record, with the
parser's new message. A report written without a header line stays unparsed:
no parser can name its columns.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from xsweep.core.paths import inside, run_dir_name
from xsweep.core.records import OutputFile, OutputProblem, RunRecord
from xsweep.gmat.outputs import HEADERLESS, parse_kept
from xsweep.record.manifest import Manifest, ManifestWriter


def reparse_outputs(
    writer: ManifestWriter, manifest: Manifest, sweep_dir: Path
) -> dict[int, RunRecord]:
    """Parse every kept unparsed output again; append and return the runs that gained one."""
    updated: dict[int, RunRecord] = {}
    for run_id, rec in sorted(manifest.runs.items()):
        todo = [
            p
            for p in rec.outcome.problems
            if p.status == "unparsed" and p.raw is not None and HEADERLESS not in p.error
        ]
        if rec.status != "ok" or not todo:
            continue
        run_dir = run_dir_name(run_id)
        outputs: list[OutputFile] = list(rec.outcome.outputs)
        problems: list[OutputProblem] = [p for p in rec.outcome.problems if p not in todo]
        for p in todo:
            assert p.raw is not None
            try:
                raw = inside(sweep_dir, p.raw, "a kept raw file")
                out = parse_kept(p.kind, p.name, raw, inside(sweep_dir, run_dir, "a run"))
            except Exception as exc:  # still unparsed: the newest message is the one to keep
                problems.append(replace(p, error=f"{type(exc).__name__}: {exc}"))
                continue
            outputs.append(replace(out, path=f"{run_dir}/{out.path}"))
        if len(outputs) == len(rec.outcome.outputs):
            continue
        outcome = replace(rec.outcome, outputs=tuple(outputs), problems=tuple(problems))
        updated[run_id] = replace(rec, outcome=outcome)
        writer.append(updated[run_id])
    return updated
