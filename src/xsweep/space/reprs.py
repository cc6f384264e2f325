"""Text and HTML views of spaces and sweeps, for terminals and notebooks.

Pure functions over plain data (a Dataset and its recipes; a sweep's summary
dict), so the space and the sweep handle stay small and readers of neither
need each other.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

WIDTH = 88  # a terminal line
_CSS = (
    "<style>.xsweep-repr table{border-collapse:collapse;margin:.2em 0}"
    ".xsweep-repr td,.xsweep-repr th{padding:.1em .6em;text-align:left;"
    "border-bottom:1px solid rgba(128,128,128,.3)}"
    ".xsweep-repr .ok{color:#2a7d2a}.xsweep-repr .failed{color:#c0392b}"
    ".xsweep-repr .pending{color:#888}</style>"
)


def _e(value: Any) -> str:
    return html.escape(str(value))


def _short(values: np.ndarray) -> str:
    """Show a few values of a field: all of a short axis, else its range."""
    flat = np.asarray(values).ravel()
    if flat.size <= 4:
        return ", ".join(_num(v) for v in flat)
    if flat.dtype.kind in "iufM":
        return f"{_num(flat.min())} .. {_num(flat.max())}"
    return ", ".join(_num(v) for v in flat[:3]) + ", ..."


def _num(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    return str(value.item() if isinstance(value, np.generic) else value)


def how_drawn(recipe: Mapping[str, Any] | None, values: np.ndarray) -> str:
    """Say how a field's values come about: its draw recipe, or the values given."""
    if recipe is None:
        return f"values {_short(values)}"
    method = str(recipe.get("method", "drawn"))
    seed = f", seed {recipe['entropy']}" if "entropy" in recipe else ""
    if "joint" in recipe:
        fields = ", ".join(recipe["joint"].get("fields", ()))
        return f"{method} mvnormal over ({fields}){seed}"
    dist = recipe.get("dist") or {}
    params = ", ".join(_num(p) for p in dist.get("params", ()))
    engine = f" {recipe['qmc'].get('engine')}" if "qmc" in recipe else ""
    return f"{method}{engine} {dist.get('name', '?')}({params}){seed}"


def field_rows(
    dataset: xr.Dataset, fields: Sequence[str], recipes: Mapping[str, Any]
) -> list[tuple[str, str, str]]:
    """Return one ``(field, dims, how)`` row per field of a space."""
    rows = []
    for name in fields:
        var = dataset[name]
        if not var.dims:
            rows.append((name, "-", f"fixed {var.values.item()!r}"))
            continue
        dims = ", ".join(map(str, var.dims))
        rows.append((name, dims, how_drawn(recipes.get(name), var.values)))
    return rows


def dims_text(dims: Sequence[str], shape: Sequence[int]) -> str:
    """Return ``a=2 x b=3``."""
    return " x ".join(f"{d}={n}" for d, n in zip(dims, shape, strict=True))


def space_text(n_runs: int, dims: Sequence[str], shape: Sequence[int],
               rows: Sequence[tuple[str, str, str]]) -> str:  # fmt: skip
    """Return the plain repr of a space: one line when it fits a terminal, else one per field."""
    head = f"<xsweep.Space: {n_runs} runs over {dims_text(dims, shape)}"
    names = [r[0] + (" (fixed)" if r[1] == "-" else "") for r in rows]
    line = f"{head}; fields: {', '.join(names)}>"
    if len(line) <= WIDTH:
        return line
    width = max(len(r[0]) for r in rows)
    dims_lines = textwrap.wrap(dims_text(dims, shape), WIDTH, initial_indent="  dims: ",
                               subsequent_indent="        ")  # fmt: skip
    body = [f"  {name:<{width}}  ({d}) {how}"[:WIDTH] for name, d, how in rows]
    return "\n".join([f"<xsweep.Space: {n_runs} runs>", *dims_lines, *body])


def space_html(n_runs: int, dims: Sequence[str], shape: Sequence[int],
               rows: Sequence[tuple[str, str, str]]) -> str:  # fmt: skip
    """Return a notebook's view of a space: dims, the number of runs, and each field's recipe."""
    body = "".join(
        f"<tr><td><code>{_e(n)}</code></td><td>{_e(d)}</td><td>{_e(h)}</td></tr>"
        for n, d, h in rows
    )
    return (
        f"{_CSS}<div class='xsweep-repr'><b>xsweep.Space</b>: {n_runs:,} runs over "
        f"{_e(dims_text(dims, shape))}<table><tr><th>field</th><th>dims</th><th>values</th></tr>"
        f"{body}</table></div>"
    )


def sweep_text(info: Mapping[str, Any]) -> str:
    """Return the plain repr of a sweep handle, a few lines that fit a terminal."""
    counts = info["counts"]
    lines = [f"<xsweep.Sweep {info['path']}> ({info['state']})"]
    for name, (script, sha) in info["scripts"].items():
        label = f"{name}: " if name else ""
        lines.append(f"  script   {label}{script} (sha256 {sha[:12]})")
    lines.append(f"  space    {info['dims']}: {info['n_runs']} runs")
    status = f"{counts['ok']} ok, {counts['failed']} failed, {counts['pending']} pending"
    extra = [f"{n} outputs {k}" for k, n in info["outputs"].items() if n]
    if info["derive_failed"]:
        extra.append(f"{info['derive_failed']} derive-failed")
    lines.append(f"  status   {status}" + (f"; {', '.join(extra)}" if extra else ""))
    if info["reasons"]:
        failed = ", ".join(f"{n} {reason}" for reason, (n, _) in info["reasons"].items())
        lines.append(f"  failed   {failed}")
    for line in info.get("no_effect", ()):
        lines.append(f"  warning  {line}")
    if info["dashboard"]:
        lines.append(f"  dashboard {info['dashboard']}")
    return "\n".join(line[:WIDTH] if i else line for i, line in enumerate(lines))


def sweep_html(info: Mapping[str, Any]) -> str:
    """Return a notebook's view of a sweep: counts, progress, failures by reason, dims."""
    counts = info["counts"]
    n_runs = max(int(info["n_runs"]), 1)
    done = counts["ok"] + counts["failed"]
    parts = [
        f"{_CSS}<div class='xsweep-repr'><b>xsweep.Sweep</b> <code>{_e(info['path'])}</code>"
        f" ({_e(info['state'])})"
    ]
    if info["live"] or counts["pending"]:
        parts.append(
            f"<div><progress value='{done}' max='{n_runs}' style='width:20em'></progress>"
            f" {done:,} of {int(info['n_runs']):,} runs recorded</div>"
        )
    parts.append(
        f"<div><span class='ok'>{counts['ok']:,} ok</span>, "
        f"<span class='failed'>{counts['failed']:,} failed</span>, "
        f"<span class='pending'>{counts['pending']:,} pending</span>"
        + "".join(f", {n:,} outputs {_e(k)}" for k, n in info["outputs"].items() if n)
        + (f", {info['derive_failed']:,} derive-failed" if info["derive_failed"] else "")
        + "</div>"
    )
    if info["reasons"]:
        rows = "".join(
            f"<tr><td class='failed'>{_e(reason)}</td><td>{n:,}</td><td>{_e(first)}</td></tr>"
            for reason, (n, first) in info["reasons"].items()
        )
        parts.append(
            f"<table><tr><th>reason</th><th>runs</th><th>first error</th></tr>{rows}</table>"
        )
    parts.append(f"<div>space: {_e(info['dims'])}</div>")
    for line in info.get("no_effect", ()):
        parts.append(f"<div class='failed'>warning: {_e(line)}</div>")
    for name, (script, sha) in info["scripts"].items():
        label = f"{_e(name)}: " if name else ""
        parts.append(f"<div>script: {label}<code>{_e(script)}</code> sha256 {_e(sha[:12])}</div>")
    if info["dashboard"]:
        link = _e(info["dashboard"])
        parts.append(f"<div>dashboard: <a href='{link}' target='_blank'>{link}</a></div>")
    parts.append("</div>")
    return "".join(parts)
