"""``xsweep show``: what a sweep holds, as a summary or JSON."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xsweep.analysis.inspect import first_line
from xsweep.cli.spaces import parse_storage_options
from xsweep.plan.scripts import variant_records
from xsweep.store.effects import describe

EXIT_OK = 0
EXIT_FAILED = 1


def _derive_line(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {k}" for k, n in counts.items() if n or k == "ok") + " (ok runs)"


def summary(
    path: str,
    *,
    failed_limit: int = 10,
    reasons: Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Describe a sweep directory, bundle or URL as ``xsweep show`` prints it.

    ``failed_limit`` failed runs are listed (0: all), only those with one
    of ``reasons`` when given.
    """
    import xsweep as xs
    from xsweep.record.lock import lock_owner

    sweep = xs.Sweep(path, storage_options=storage_options)
    manifest = sweep.manifest
    header = manifest.header
    durations = [
        r.outcome.duration_s for r in manifest.runs.values() if math.isfinite(r.outcome.duration_s)
    ]
    failed = sorted(manifest.failed().items())
    if reasons:
        failed = [(rid, rec) for rid, rec in failed if rec.outcome.reason in reasons]
    listed = failed[:failed_limit] if failed_limit else failed
    running = (
        lock_owner(sweep.path) if isinstance(sweep.path, Path) and not sweep.is_bundle else None
    )
    return {
        "path": str(sweep.path),
        "bundle": sweep.is_bundle,
        "running": running,
        "sweep_id": header.sweep_id,
        "created": header.created,
        "script": header.script.name,
        "script_sha256": header.script_sha256,
        "scripts": {
            name: {"script": rec.name, "sha256": rec.sha256}
            for name, rec in variant_records(manifest).items()
        },
        "dims": dict(manifest.space.get("dims", {})),
        "n_runs": manifest.n_runs,
        "counts": manifest.counts(),
        "engine": header.engine.to_json(),
        "imported": _imported(header.get("imported")),
        "versions": {k: header.versions.get(k) for k in ("gmat-xsweep", "gmat-run", "gmatpy")},
        "duration_s": {
            "runs": len(durations),
            "min": min(durations) if durations else None,
            "median": statistics.median(durations) if durations else None,
            "mean": statistics.fmean(durations) if durations else None,
            "max": max(durations) if durations else None,
            "total": math.fsum(durations),
        },
        "failed": [
            {"run_id": rid, "reason": rec.outcome.reason, "error": first_line(rec.outcome.error)}
            for rid, rec in listed
        ],
        "failed_not_listed": len(failed) - len(listed),
        "failed_reasons": sorted(reasons) if reasons else None,
        "output_problems": output_problems(manifest),
        "no_effect": sweep.no_effect_dims(manifest),
        "keep": _keep(header.options.get("keep"), manifest.runs.values()),
        "derive": {
            "functions": [str(e.get("fn")) for e in manifest.derive],
            "counts": sweep.derive_counts if manifest.derive else {},
            "by_function": sweep.derive_counts_by_function,
        },
    }


def _keep(recorded: Any, records: Any) -> dict[str, Any] | None:
    """Describe a sweep's retention: its policy as recorded, and how many runs are kept in full."""
    if not isinstance(recorded, dict):
        return None
    full = sum(1 for r in records if r.outcome.kept)
    summary = sum(1 for r in records if not r.outcome.kept)
    return {"policy": {k: v for k, v in recorded.items() if v is not None}, "full": full,
            "summary": summary}  # fmt: skip


def output_problems(manifest: Any) -> list[dict[str, Any]]:
    """Group the ok runs' unwritten outputs by output and status: runs, first message."""
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    for _, p in manifest.output_problems():
        entry = groups.setdefault(
            (p.kind, p.name, p.status),
            {"kind": p.kind, "name": p.name, "status": p.status, "runs": 0, "error": p.error},
        )
        entry["runs"] += 1
    return [groups[k] for k in sorted(groups)]


def _problem_lines(problems: list[dict[str, Any]]) -> list[str]:
    return [
        f"  {p['kind']} {p['name']}: {p['status']} in {p['runs']} runs: {first_line(p['error'])}"
        for p in problems
    ]


def _imported(record: Any) -> str | None:
    """Say where an imported sweep came from (``xs.import_sweep``), or None."""
    if not isinstance(record, Mapping):
        return None
    version = record.get("gmat_sweep_version")
    return f"from gmat-sweep {version} ({record.get('source')}); its space: {record.get('space')}"


def _counts_line(counts: dict[str, int], problems: list[dict[str, Any]]) -> str:
    line = f"{counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending"
    by_status: dict[str, int] = {}
    for p in problems:
        by_status[p["status"]] = by_status.get(p["status"], 0) + p["runs"]
    extra = ", ".join(f"{n} outputs {status}" for status, n in sorted(by_status.items()))
    return f"{line}; {extra}" if extra else line


def _print_summary(info: dict[str, Any]) -> None:
    counts = info["counts"]
    state = "idle"
    if info["bundle"]:
        state = "bundle"
    elif info["running"]:
        state = f"running ({info['running']})"
    dims = " x ".join(f"{d}={n}" for d, n in info["dims"].items())
    engine = info["engine"]
    print(f"sweep      {info['path']} ({state})")
    print(f"id         {info['sweep_id']}, created {info['created']}")
    if info["scripts"]:
        for name, rec in info["scripts"].items():
            print(f"script     {name}: {rec['script']} sha256 {rec['sha256']}")
    else:
        print(f"script     {info['script']} sha256 {info['script_sha256']}")
    print(f"space      {dims}: {info['n_runs']} runs")
    kind = f" ({engine['kind']})" if engine.get("kind") else ""
    print(f"engine     GMAT {engine.get('gmat_version')}{kind}")
    if info["imported"]:
        print(f"imported   {info['imported']}")
    print("versions   " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
    print(f"status     {_counts_line(counts, info['output_problems'])}")
    for line in describe(info.get("no_effect", {})):
        print(f"warning    {line}")
    d = info["duration_s"]
    if d["runs"]:
        print(
            f"duration   per run min {d['min']:.3f} s, median {d['median']:.3f} s, "
            f"mean {d['mean']:.3f} s, max {d['max']:.3f} s; total {d['total']:.1f} s"
        )
    keep = info.get("keep")
    if keep:
        rule = ", ".join(f"{k}={v}" for k, v in keep["policy"].items() if k != "tier")
        print(f"keep       summaries ({rule}): {keep['summary']} runs summaries only, "
              f"{keep['full']} in full")  # fmt: skip
    if info["derive"]["functions"]:
        print(f"derived    {_derive_line(info['derive']['counts'])}")
        by = info["derive"].get("by_function", {})
        for fn in info["derive"]["functions"]:
            print(f"  {fn}: {_derive_line(by[fn])}" if fn in by else f"  {fn}")
    if info["output_problems"]:
        print("outputs not written (runs ok)")
        print("\n".join(_problem_lines(info["output_problems"])))
    if info["failed"] or info["failed_reasons"]:
        only = info["failed_reasons"]
        print("failed" + (f" ({', '.join(only)})" if only else ""))
        if not info["failed"]:
            print("  none")
        for f in info["failed"]:
            print(f"  run {f['run_id']}: {f['reason']}: {f['error']}")
        if info["failed_not_listed"]:
            print(f"  ... and {info['failed_not_listed']} more")


def _cmd_show(args: argparse.Namespace) -> int:
    if args.run is not None:
        return _show_run(args)
    options = parse_storage_options(args.storage_options)
    info = summary(args.dir, failed_limit=args.failed, reasons=args.reason,
                   storage_options=options)  # fmt: skip
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        _print_summary(info)
    counts = info["counts"]
    return EXIT_FAILED if counts["failed"] or counts["pending"] else EXIT_OK


def _show_run(args: argparse.Namespace) -> int:
    """``show --run N``: one run; exit 1 unless it is ok."""
    import xsweep as xs

    sweep = xs.Sweep(args.dir, storage_options=parse_storage_options(args.storage_options))
    info = sweep.run_info(args.run, log_lines=args.log_lines)
    print(json.dumps(info.to_dict(), indent=2) if args.json else info)
    return EXIT_OK if info.status == "ok" else EXIT_FAILED


def _cmd_fields(args: argparse.Namespace) -> int:
    """``xsweep fields SCRIPT``: one block per object, a line per field with its value."""
    import xsweep as xs

    frame = xs.fields(args.script, objects=args.objects, all=args.all,
                      engine=args.engine, gmat_root=args.gmat_root)  # fmt: skip
    if args.json:
        records = frame.reset_index().to_dict(orient="records")
        print(json.dumps(records, indent=2, default=str))
        return EXIT_OK
    for (obj, kind), rows in frame.groupby(["object", "type"], sort=False):
        print(f"{obj} ({kind})")
        width = max(len(str(path)) for path in rows.index)
        for path, row in rows.iterrows():
            unit = f" {row['units']}" if row["units"] else ""
            effect = str(row.get("effect", "yes"))
            flag = "" if effect == "yes" else f"  ({effect})"
            print(f"  {path!s:<{width}}  {_shown(row['value'])}{unit}{flag}")
    return EXIT_OK


def _shown(value: Any) -> str:
    """Show a field's value on one line (a long list cut short)."""
    text = json.dumps(value) if isinstance(value, list | bool) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
