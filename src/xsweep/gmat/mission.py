"""One GMAT run in this process: load, override, run, write Parquet.

``run_mission`` is the unit every sweep is made of. Bad input (a missing
script, a script GMAT cannot parse, an unknown field, a value of the wrong
type) raises before GMAT runs. A mission that fails *while running* (GMAT
rejects a value, the orbit enters the Earth, a solver diverges) is not an
exception: it is a ``failed`` :class:`RunOutcome` with GMAT's message.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from gmat_run import Mission
from gmat_run.errors import GmatFieldError, GmatRunError

from xsweep.core.envelope import Envelope
from xsweep.core.epochs import epoch_text, is_datetime, is_epoch_field
from xsweep.core.errors import FieldError, FieldTypeError, close_names
from xsweep.core.options import EngineKind
from xsweep.core.records import OutputFile, OutputProblem, RunOutcome, now_iso
from xsweep.core.vocabulary import Reason
from xsweep.gmat.engine import Engine, EngineInfo, get_engine, gmat_errors
from xsweep.gmat.loadtime import LOAD_TIME_TYPES, edited_copy, literal
from xsweep.gmat.outputs import LOG_NAME as LOG_NAME, convert_outputs, keep_log, raw_dir
from xsweep.gmat.sequence import line_of, overwrites, overwriting

# Object types whose value is addressed by the bare object name ("TOF").
VALUE_TYPES = frozenset({"Variable", "String"})


class _Rejected(Exception):
    """GMAT refused a value of the right type (e.g. ECC >= 1 with SMA > 0)."""


def resolve_field(engine: Engine, key: str, value: Any = None) -> tuple[str, str]:
    """Turn an override key into gmat-run's dotted path and check it exists.

    ``"TOF"`` (a script ``Variable``) becomes ``"TOF.Value"``. Returns
    ``(dotted_path, field_type_name)``.

    Raises
    ------
    FieldError
        The object or field does not exist in the loaded script.
    """
    if not isinstance(key, str) or not key or key != key.strip():  # type: ignore[redundant-expr]
        raise FieldError(f"override key must be a non-empty field path, got {key!r}", str(key))
    resource, _, field = key.partition(".")
    obj = resolve_object(engine, resource, key, value)
    type_name = str(obj.GetTypeName())
    if not field:
        if type_name not in VALUE_TYPES:
            raise FieldError(
                f"{resource!r} is a {type_name}, not a Variable; name one of its fields, "
                f"e.g. '{resource}.<Field>'",
                key,
                value,
            )
        field = "Value"
    try:
        obj.GetParameterID(field)
    except Exception:
        raise FieldError(
            f"unknown field {field!r} on {type_name} {resource!r}",
            key,
            value,
            close_names(field, [p.name for p in parameters(obj) if p.settable]),
        ) from None
    return f"{resource}.{field}", type_name


def resolve_object(engine: Engine, name: str, key: str | None = None, value: Any = None) -> Any:
    """Return the loaded script's object ``name``.

    Raises
    ------
    FieldError
        No object of that name, with the script's close names.
    """
    obj = engine.get_object(name) if name else None
    if obj is None:
        where = f" in {key!r}" if key is not None and key != name else ""
        raise FieldError(
            f"unknown object {name!r}{where} (no resource of that name in the script)",
            key or name,
            value,
            close_names(name, engine.object_names()),
        )
    return obj


@dataclass(frozen=True)
class Parameter:
    """One field of a GMAT object, as the object reports it."""

    id: int
    name: str
    gmat_type: str
    settable: bool  # not read-only: a script may set it


def parameters(obj: Any) -> list[Parameter]:
    """Return every field ``obj`` reports (ids past the ones it defines are skipped)."""
    out = []
    for i in range(int(obj.GetParameterCount())):
        try:  # a Variable reports one more id than it defines
            name, kind = str(obj.GetParameterText(i)), str(obj.GetParameterTypeString(i))
        except Exception:
            continue
        try:
            settable = not bool(obj.IsParameterReadOnly(i))
        except Exception:
            settable = False
        out.append(Parameter(i, name, kind, settable))
    return out


def gmat_value(mission: Mission, path: str, value: Any) -> Any:
    """Convert a space value into what gmat-run writes: epochs in the object's DateFormat.

    Raises
    ------
    FieldTypeError
        An epoch field's value that is no form of epoch.
    """
    if is_datetime(value) or is_epoch_field(path):
        resource = path.split(".", 1)[0]
        try:
            date_format = str(mission[f"{resource}.DateFormat"])
        except GmatFieldError:
            date_format = "UTCGregorian"
        try:
            return epoch_text(value, date_format)
        except ValueError as exc:
            raise FieldTypeError(f"{path!r}: {exc}", path, value) from None
    if isinstance(value, np.generic):
        return value.item()
    return value


def apply_overrides(engine: Engine, mission: Mission, overrides: Mapping[str, Any]) -> None:
    """Write every override into the loaded mission.

    Raises
    ------
    FieldError, FieldTypeError
        Unknown field, or a value of the wrong type.
    _Rejected
        GMAT refused a well-typed value.
    """
    for key, raw in overrides.items():
        path, _ = resolve_field(engine, key, raw)
        value = gmat_value(mission, path, raw)
        try:
            mission[path] = value
        except GmatFieldError as exc:
            message = str(exc)
            if message.startswith("type mismatch"):
                said = message.split(": ", 1)[-1]
                raise FieldTypeError(f"{key!r}: {said} ({raw!r})", key, raw) from None
            if message.startswith("GMAT rejected write"):
                raise _Rejected(
                    f"GMAT rejected {key} = {raw!r}: {exc.__cause__ or message}"
                ) from None
            raise FieldError(message, key, raw) from None


def _with_load_time_fields(
    engine: Engine, mission: Mission, overrides: Mapping[str, Any]
) -> Mission:
    """Write ``overrides`` into ``mission``: those GMAT reads at load through its text.

    Returns the mission to run: ``mission``, or the script reloaded with the
    load-time fields assigned in its text (:mod:`xsweep.gmat.loadtime`).
    """
    late = load_time_lines(engine, mission, overrides)
    for key in late:  # the type is checked as any override's; GMAT's own refusal is moot
        with contextlib.suppress(_Rejected):
            apply_overrides(engine, mission, {key: overrides[key]})
    if late:
        with edited_copy(mission.script_path, dict(late.values())) as copy:
            mission = engine.load(copy)
    apply_overrides(engine, mission, {k: v for k, v in overrides.items() if k not in late})
    return mission


def load_time_lines(
    engine: Engine, mission: Mission, overrides: Mapping[str, Any]
) -> dict[str, tuple[str, str]]:
    """Return, by key, ``(path, script text)`` of the overrides GMAT only reads at load.

    See :mod:`xsweep.gmat.loadtime`: a ``ForceModel``'s fields.
    """
    out: dict[str, tuple[str, str]] = {}
    for key, raw in overrides.items():
        path, type_name = resolve_field(engine, key, raw)
        if type_name in LOAD_TIME_TYPES:
            resource, field = path.split(".", 1)
            obj = engine.get_object(resource)
            value = gmat_value(mission, path, raw)
            out[key] = (path, literal(engine.gmat, obj, field, value))
    return out


def check_overrides(
    script: str | os.PathLike[str],
    overrides: Mapping[str, Any],
    *,
    engine: EngineKind = "auto",
    gmat_root: str | os.PathLike[str] | None = None,
    allow_overwritten: bool = False,
) -> EngineInfo:
    """Load ``script`` and write ``overrides`` into it without running GMAT.

    The planning check of a sweep: every field must exist and accept the
    value's type. A well-typed value GMAT refuses (a negative mass) is not a
    planning error; that run fails on its own. Returns the engine's identity.

    Raises
    ------
    ScriptNotFoundError, ScriptLoadError, UnsupportedFeatureError, FieldError, FieldTypeError
        As :func:`run_mission` would, before any run.
    """
    eng = get_engine(engine, gmat_root=gmat_root)
    with eng.lock:
        mission = eng.load(script)
        for key, value in overrides.items():
            with contextlib.suppress(_Rejected):
                apply_overrides(eng, mission, {key: value})
        if not allow_overwritten:
            _refuse_overwritten(eng, mission, overrides)
    return eng.info


def _refuse_overwritten(engine: Engine, mission: Mission, overrides: Mapping[str, Any]) -> None:
    """Raise :class:`FieldError` for a swept field the mission sequence sets before using it."""
    found = overwrites(engine.gmat)
    for key, raw in overrides.items():
        path, _ = resolve_field(engine, key, raw)
        command = overwriting(path, found)
        if command is None:
            continue
        text = mission.script_path.read_text(encoding="utf-8", errors="replace")
        line = line_of(text, path, vary=command.startswith("Vary"))
        where = f" at line {line}" if line else ""
        raise FieldError(
            f"{key} is set by '{command}'{where}: the swept value would be overwritten "
            "(sweep it anyway, as a solver's initial guess say, with allow_overwritten=True "
            "or --allow-overwritten)",
            key,
            raw,
        )


def read_fields(
    script: str | os.PathLike[str],
    paths: tuple[str, ...],
    *,
    engine: EngineKind = "auto",
    gmat_root: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Load ``script`` and return the values its fields hold before the mission runs.

    Raises
    ------
    ScriptNotFoundError, ScriptLoadError, FieldError
        As :func:`check_overrides` would.
    """
    eng = get_engine(engine, gmat_root=gmat_root)
    with eng.lock:
        mission = eng.load(script)
        values = {}
        for key in paths:
            path, _ = resolve_field(eng, key)
            value = mission[path]
            values[key] = value.item() if isinstance(value, np.generic) else value
    return values


def _headerless(mission: Mission, reports: Mapping[str, Any]) -> frozenset[str]:
    """Name the ReportFiles written without their header line (``WriteHeaders = false``)."""
    names = set()
    for name in reports:
        with contextlib.suppress(GmatFieldError):
            if mission[f"{name}.WriteHeaders"] is False:
                names.add(name)
    return frozenset(names)


def run_mission(
    script: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    out_dir: str | os.PathLike[str],
    engine: EngineKind = "auto",
    gmat_root: str | os.PathLike[str] | None = None,
    keep_raw: bool = False,
    summarize: bool = False,
    write: bool = True,
    envelope: Envelope | None = None,
) -> RunOutcome:
    """Run one GMAT mission in this process and write its outputs as Parquet.

    The script is (re)loaded into this process's warm engine, the overrides
    are applied, GMAT runs with every output redirected into a scratch
    directory, and each output GMAT produced (ReportFile, EphemerisFile,
    ContactLocator, solver iteration log) is parsed by gmat-run and written to
    ``out_dir`` as ``<kind>-<name>.parquet``, next to GMAT's log ``gmat.log``.

    Parameters
    ----------
    script : path-like
        The GMAT mission script.
    overrides : mapping of str to value, optional
        Dotted field paths and values: ``{"Sat.SMA": 7100, "TOF": 3600}``.
        A bare name (``"TOF"``) addresses a script ``Variable``. Datetimes
        given for an ``Epoch`` are formatted in the object's ``DateFormat``.
    out_dir : path-like
        Directory for the Parquet files and the log; created if missing.
    engine : {"auto", "embedded", "desktop"}
        Which GMAT engine to use (see :func:`xsweep.get_engine`).
    gmat_root : path-like, optional
        Desktop GMAT install root.
    keep_raw : bool
        Keep GMAT's own output files under ``out_dir/gmat/``.
    summarize, write : bool
        Give each output its summary (``OutputFile.summary``); write the outputs'
        Parquet and the log (without: an ok run leaves no files, ``kept`` False).
    envelope : xsweep.core.envelope.Envelope, optional
        Put an output's columns on its grid (``RunOutcome.grid``, never written).

    Returns
    -------
    RunOutcome
        ``status`` ``"ok"`` or ``"failed"`` (with ``reason`` and ``error``),
        output paths relative to ``out_dir``, timings.

    Raises
    ------
    ScriptNotFoundError, ScriptLoadError, UnsupportedFeatureError
        The script is missing, or GMAT cannot parse it.
    FieldError, FieldTypeError
        An override names an unknown object or field, or has the wrong type.
    EngineError
        No GMAT engine is available.

    Examples
    --------
    >>> import tempfile
    >>> import xsweep as xs
    >>> outcome = xs.run_mission(
    ...     "examples/missions/leo_report.script",
    ...     {"Sat.SMA": 7100, "TOF": 120},
    ...     out_dir=tempfile.mkdtemp(),
    ... )
    >>> outcome.status, [o.path for o in outcome.outputs]
    ('ok', ['report-RF.parquet'])
    """
    t0 = time.perf_counter()
    started = now_iso()
    eng = get_engine(engine, gmat_root=gmat_root)
    out = Path(out_dir).expanduser().resolve()
    with eng.lock:
        mission = eng.load(script)
        out.mkdir(parents=True, exist_ok=True)
        gmat_s = 0.0
        reason: Reason | None = None
        error: str | None = None
        outputs: tuple[OutputFile, ...] = ()
        problems: tuple[OutputProblem, ...] = ()
        log_text = ""
        grids: dict[str, Any] = {}
        with raw_dir(out, keep_raw) as raw:
            try:
                mission = _with_load_time_fields(eng, mission, overrides or {})
                t_run = time.perf_counter()
                try:
                    results = mission.run(working_dir=raw, overwrite=True)
                finally:
                    gmat_s = time.perf_counter() - t_run
                log_text = results.log
                headerless = _headerless(mission, results.report_paths)
                outputs, problems = convert_outputs(results, out, headerless=headerless,
                    summarize=summarize, write=write, envelope=envelope, grids=grids)  # fmt: skip
            except _Rejected as exc:
                reason, error = "gmat-error", str(exc)
            except GmatRunError as exc:
                log_text = exc.log
                found = gmat_errors(exc.log)
                reason, error = "gmat-error", "\n".join(found) if found else str(exc)
            except FieldError:
                raise
            except Exception as exc:
                reason, error = "exception", f"{type(exc).__name__}: {exc}"
            kept = write or reason is not None
            if kept:
                keep_log(raw, log_text, out)
        if not kept and not any(p.raw for p in problems):
            shutil.rmtree(out, ignore_errors=True)  # nothing of it is kept: no directory
    return RunOutcome(
        status="ok" if reason is None else "failed",
        reason=reason,
        outputs=outputs if reason is None else (),
        problems=problems if reason is None else (),
        started=started,
        ended=now_iso(),
        duration_s=time.perf_counter() - t0,
        gmat_s=gmat_s,
        error=error,
        log=LOG_NAME if kept else None,
        host=socket.gethostname(),
        pid=os.getpid(),
        kept=kept,
        grid=grids if reason is None and grids else None,
    )
