"""GMAT outputs to Parquet: one file per output, written atomically.

A Parquet file is written to a temporary name in its final directory and
renamed into place, so a killed process never leaves a half-written file
that a resume could mistake for a finished output. The parsed DataFrame's
``attrs`` (epoch scales, ephemeris headers, solver convergence) travel in
the Parquet metadata under ``PANDAS_ATTRS``, which :func:`pandas.read_parquet`
restores.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from gmat_run import Results

from xsweep._atomic import atomic_path
from xsweep._records import OutputFile, OutputKind

# attrs that hold machine-specific absolute paths: dropped so a run directory
# is the same wherever it was produced.
_DROPPED_ATTRS = frozenset({"source_path"})


def output_filename(kind: OutputKind, name: str) -> str:
    """Return the Parquet file name of output ``name`` of ``kind`` in a run directory."""
    return f"{kind}-{name}.parquet"


def iter_results(results: Results) -> Iterator[tuple[OutputKind, str, Callable[[], pd.DataFrame]]]:
    """Yield ``(kind, name, parse)`` for every output gmat-run found after a run."""
    groups: tuple[tuple[OutputKind, Mapping[str, pd.DataFrame]], ...] = (
        ("report", results.reports),
        ("ephemeris", results.ephemerides),
        ("contact", results.contacts),
        ("solver", results.solver_runs),
    )
    for kind, mapping in groups:
        for name in mapping:
            yield kind, name, functools.partial(mapping.__getitem__, name)


def json_attrs(attrs: Mapping[Any, Any]) -> str:
    """Serialise DataFrame attrs as JSON, dropping absolute paths."""
    clean = {k: v for k, v in attrs.items() if k not in _DROPPED_ATTRS}
    return json.dumps(clean, default=str, sort_keys=True)


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` atomically, attrs included."""
    # One thread: a few thousand rows convert faster than a thread pool starts.
    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    meta = dict(table.schema.metadata or {})
    meta[b"PANDAS_ATTRS"] = json_attrs(frame.attrs).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def write_text(text: str, path: Path) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def convert_results(results: Results, out_dir: Path) -> tuple[OutputFile, ...]:
    """Parse every GMAT output with gmat-run and write it as Parquet in ``out_dir``."""
    written: list[OutputFile] = []
    for kind, name, parse in iter_results(results):
        frame = parse()
        filename = output_filename(kind, name)
        write_parquet(frame, out_dir / filename)
        written.append(OutputFile(kind=kind, name=name, path=filename, rows=len(frame)))
    return tuple(written)


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
