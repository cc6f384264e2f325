"""The requests a GMAT child answers: small, picklable, sent over its pipe."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xsweep.core.envelope import Envelope
from xsweep.core.hooks import DeriveFunction
from xsweep.core.options import EngineKind


@dataclass(frozen=True)
class RunRequest:
    """What one run needs: picklable, small."""

    script: str
    overrides: Mapping[str, Any]
    out_dir: str
    engine: EngineKind = "auto"
    gmat_root: str | None = None
    keep_raw: bool = False
    labels: Mapping[str, Any] | None = None  # the run's coordinate labels (derive's params)
    run_id: int = -1  # its id in the sweep (what keep= picks runs by)
    summarize: bool = False  # give each output its summary (a sweep with keep=)
    write: bool = True  # False: an ok run keeps only its summaries, no files
    envelope: Envelope | None = None  # put the columns on its grid (a sweep with envelope=)


@dataclass(frozen=True)
class CheckRequest:
    """Load a script and write overrides without running: the planning check."""

    script: str
    overrides: Mapping[str, Any]
    allow_overwritten: bool = False  # a field the mission sequence sets may be swept


@dataclass(frozen=True)
class ReadRequest:
    """Load a script and read fields' values (before the mission runs)."""

    script: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class FieldsRequest:
    """Load a script and list its objects' fields and values (``xs.fields``)."""

    script: str
    objects: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DeriveRequest:
    """Call derive functions on a finished run's outputs (``name -> Parquet path``)."""

    run_dir: str
    outputs: Mapping[str, str]
    params: Mapping[str, Any]
    functions: tuple[DeriveFunction, ...]


@dataclass(frozen=True)
class ModulesRequest:
    """Ask the child which modules it has imported (it must stay free of xarray and Dask)."""
