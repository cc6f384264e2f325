"""GMAT outputs to Parquet: one file per output, written atomically.

A Parquet file is written to a temporary name in its final directory and
renamed into place, so a killed process never leaves a half-written file
that a resume could mistake for a finished output. The parsed DataFrame's
``attrs`` (epoch scales, ephemeris headers, solver convergence) travel in
the Parquet metadata under ``PANDAS_ATTRS``, which :func:`pandas.read_parquet`
restores.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from gmat_run import Results

from xsweep.core.atomic import atomic_path
from xsweep.core.envelope import Envelope
from xsweep.core.records import OutputFile, OutputProblem
from xsweep.core.vocabulary import OutputKind
from xsweep.gmat.summary import on_grid, summarize as summary_of
from xsweep.gmat.variants import parse_solver_variant

# attrs that hold machine-specific absolute paths: dropped so a run directory
# is the same wherever it was produced.
_DROPPED_ATTRS = frozenset({"source_path"})
RAW_DIR = "raw"  # a run's unparsed outputs, as GMAT wrote them
LOG_NAME = "gmat.log"  # GMAT's log of a run, in its directory
VARIANTS_FLAG = "XSWEEP_OUTPUT_VARIANTS"  # "0": gmat-run's own verdict on every file
HEADERLESS = "WriteHeaders is false"  # a report gmat-run cannot be given right (no header)
TIMED = frozenset({"report", "ephemeris"})  # time series: their extremes have epochs
# An output this small travels to the store with its outcome (OutputFile.ipc): an Arrow IPC
# stream costs ~20 us here and ~50 us in the store, against ~0.5 ms to open its Parquet
# there again; the client between them passes bytes on (a pickled array costs it ~50 us).
SHIP_BYTES = 256 * 1024
_PATH_ARGS: dict[OutputKind, str] = {
    "report": "report_paths",
    "ephemeris": "ephemeris_paths",
    "contact": "contact_paths",
    "solver": "solver_paths",
}


def output_filename(kind: OutputKind, name: str) -> str:
    """Return the Parquet file name of output ``name`` of ``kind`` in a run directory."""
    return f"{kind}-{name}.parquet"


def iter_results(
    results: Results,
) -> Iterator[tuple[OutputKind, str, Callable[[], pd.DataFrame], Path]]:
    """Yield ``(kind, name, parse, raw file)`` for every output gmat-run knows of after a run."""
    groups: tuple[tuple[OutputKind, Mapping[str, pd.DataFrame], Mapping[str, Path]], ...] = (
        ("report", results.reports, results.report_paths),
        ("ephemeris", results.ephemerides, results.ephemeris_paths),
        ("contact", results.contacts, results.contact_paths),
        ("solver", results.solver_runs, results.solver_paths),
    )
    for kind, mapping, paths in groups:
        for name in mapping:
            yield kind, name, functools.partial(mapping.__getitem__, name), Path(paths[name])


def json_attrs(attrs: Mapping[Any, Any]) -> str:
    """Serialise DataFrame attrs as JSON, dropping absolute paths."""
    clean = {k: v for k, v in attrs.items() if k not in _DROPPED_ATTRS}
    return json.dumps(clean, default=str, sort_keys=True)


def arrow_table(frame: pd.DataFrame) -> pa.Table:
    """Return ``frame`` as the Arrow table its Parquet file holds, attrs included."""
    # One thread: a few thousand rows convert faster than a thread pool starts. The attrs
    # travel in PANDAS_ATTRS (below, any value as text); pandas' own copy may not fit JSON.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Could not serialize pd.DataFrame.attrs")
        table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    meta = dict(table.schema.metadata or {})
    meta[b"PANDAS_ATTRS"] = json_attrs(frame.attrs).encode()
    return table.replace_schema_metadata(meta)


def write_parquet(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    """Write ``frame`` (or its :func:`arrow_table`) to ``path`` atomically, attrs included."""
    table = frame if isinstance(frame, pa.Table) else arrow_table(frame)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_text(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def convert_outputs(
    results: Results,
    out_dir: Path,
    *,
    headerless: frozenset[str] = frozenset(),
    summarize: bool = False,
    write: bool = True,
    envelope: Envelope | None = None,
    grids: dict[str, Any] | None = None,
) -> tuple[tuple[OutputFile, ...], tuple[OutputProblem, ...]]:
    """Parse every GMAT output with gmat-run and write it as Parquet in ``out_dir``.

    Each output is judged on its own: one GMAT never wrote is ``absent``; one
    gmat-run cannot parse is ``unparsed``, its raw file kept under ``raw/``
    (:data:`RAW_DIR`); every other output is written. The ReportFiles in
    ``headerless`` were written without a header line, which gmat-run would
    read as one: they are kept unparsed rather than read wrong. ``summarize``
    gives each output its summary; without ``write`` no Parquet is written
    (a run a sweep keeps only the summaries of). With ``envelope``, the output it
    names (by default the first report) is put on its grid, into ``grids``.
    """
    written: list[OutputFile] = []
    problems: list[OutputProblem] = []
    for kind, name, parse, raw in iter_results(results):
        if not raw.is_file():
            error = f"GMAT did not write {raw.name} (no command writes to {name}?)"
            problems.append(OutputProblem(kind, name, "absent", error))
            continue
        if kind == "report" and name in headerless:
            why = f"{name}.{HEADERLESS}: gmat-run would read its first row as the header"
            problems.append(_unparsed(kind, name, raw, why, out_dir))
            continue
        try:
            frame = parse()
        except Exception as exc:  # a parser's failure on one file, whatever its type
            variant = _variant(results, kind, name, raw)
            if variant is None:
                problems.append(_unparsed(kind, name, raw, f"{type(exc).__name__}: {exc}", out_dir))
                continue
            frame = variant
        filename = output_filename(kind, name)
        table = arrow_table(frame) if summarize or write or envelope else None
        if write:
            assert table is not None
            write_parquet(table, out_dir / filename)
        wanted = envelope is not None and envelope.output in (None, name) and kind in TIMED
        if wanted and grids is not None and not grids:
            assert table is not None
            assert envelope is not None
            found = on_grid(table, envelope.step, envelope.stop, envelope.columns)
            if found is not None:
                grids[name] = found
        summary = summary_of(table, timed=kind in TIMED) if summarize else None
        digest = values_digest(frame)
        ipc = shipped(table) if write else None
        written.append(OutputFile(kind, name, filename, len(frame), digest, summary, ipc))
    return tuple(written), tuple(problems)


def shipped(table: pa.Table | None) -> bytes | None:
    """Return a small table as an Arrow IPC stream (the store's copy of it); else None."""
    if table is None or table.nbytes > SHIP_BYTES:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()  # already bytes: no second copy
    return data


def values_digest(frame: pd.DataFrame) -> str:
    """Return a short hash of a frame's column names and values (equal frames, equal hash)."""
    digest = hashlib.sha256("\0".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _variant(results: Results, kind: OutputKind, name: str, raw: Path) -> pd.DataFrame | None:
    """Read a format variant gmat-run refuses (:mod:`xsweep.gmat.variants`), or None."""
    if kind != "solver" or os.environ.get(VARIANTS_FLAG, "1").strip() == "0":
        return None
    # gmat-run 0.6.0 keeps each solver's MaximumIterations beside its path.
    limits = getattr(results.solver_runs, "_max_iterations", {})
    try:
        return parse_solver_variant(raw, limits.get(name))
    except Exception:  # the variant does not rescue it: the original error stands
        return None


def _unparsed(kind: OutputKind, name: str, raw: Path, why: str, out_dir: Path) -> OutputProblem:
    """Keep GMAT's file of an output gmat-run could not parse, and say why."""
    kept = f"{RAW_DIR}/{kind}-{name}-{raw.name}"
    (out_dir / RAW_DIR).mkdir(exist_ok=True)
    with atomic_path(out_dir / kept) as tmp:
        shutil.copyfile(raw, tmp)
    return OutputProblem(kind, name, "unparsed", why, kept)


def parse_kept(kind: OutputKind, name: str, raw: Path, out_dir: Path) -> OutputFile:
    """Parse a kept raw output again with gmat-run and write its Parquet in ``out_dir``.

    Raises whatever the parser raises when it still cannot read the file. A
    solver's ``MaximumIterations`` is not kept, so a solver log read this way
    tells a max-iteration stop only as ``"failed"``.
    """
    paths: dict[str, Any] = {_PATH_ARGS[kind]: {name: raw}}
    results = Results(output_dir=raw.parent, log="", **paths)
    ((_, _, parse, _),) = iter_results(results)
    try:
        frame = parse()
    except Exception:
        variant = _variant(results, kind, name, raw)
        if variant is None:
            raise
        frame = variant
    filename = output_filename(kind, name)
    write_parquet(frame, out_dir / filename)
    return OutputFile(kind, name, filename, len(frame), values_digest(frame))


def convert_results(results: Results, out_dir: Path) -> tuple[OutputFile, ...]:
    """Parse and write every GMAT output; raise ``ValueError`` if one could not be."""
    written, problems = convert_outputs(results, out_dir)
    if problems:
        raise ValueError(f"{problems[0].kind} {problems[0].name}: {problems[0].error}")
    return written


def read_output(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read one per-run output Parquet file back into a DataFrame (attrs restored).

    Parameters
    ----------
    path : path-like
        A ``<kind>-<name>.parquet`` file of a run directory.

    Returns
    -------
    pandas.DataFrame
        The output as gmat-run parsed it, with its ``attrs``.
    """
    return pd.read_parquet(path)


@contextlib.contextmanager
def raw_dir(out: Path, keep: bool) -> Iterator[Path]:
    """Yield a scratch directory for GMAT's own files; kept as ``gmat/`` if ``keep``."""
    raw = out / f".gmat-{uuid.uuid4().hex[:12]}"
    try:
        yield raw
    finally:
        if keep and raw.is_dir():
            dest = out / "gmat"
            shutil.rmtree(dest, ignore_errors=True)
            os.replace(raw, dest)
        else:
            shutil.rmtree(raw, ignore_errors=True)


def keep_log(raw: Path, text: str, out: Path) -> None:
    """Keep GMAT's log of a run in its directory (its own file, else the text it gave)."""
    log_file = raw / "GmatLog.txt"
    if log_file.is_file():
        os.replace(log_file, out / LOG_NAME)
    else:
        write_text(text, out / LOG_NAME)
