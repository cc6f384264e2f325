"""How a sweep executes: one definition of the keywords, checked once, passed down.

:class:`Execution` is the one definition of the execution keywords that
:func:`xsweep.run`, :func:`xsweep.resume`, :func:`xsweep.extend` and the CLI
share: :func:`execution_keywords` writes them into each public signature (so
``help()`` and IDEs list them) from it, and :meth:`ExecutionOptions.of` checks
them into one frozen value. Its :class:`Options` part (engine, timeout,
retries, isolation, raw files, batching) is what a sweep's header records.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, get_args

from xsweep.core.envelope import Envelope
from xsweep.core.errors import ConfigError
from xsweep.core.keep import ALL, Keep, KeepPolicy, check_keep
from xsweep.core.timeouts import Timeout, check as check_timeout

if TYPE_CHECKING:
    from distributed import Client

EngineKind = Literal["auto", "embedded", "desktop"]
ENGINE_KINDS: tuple[EngineKind, ...] = get_args(EngineKind)
Isolation = Literal["worker", "process"]
ISOLATIONS: tuple[Isolation, ...] = get_args(Isolation)


@dataclass(frozen=True)
class Options:
    """How runs execute; recorded in the header, reused by resume and extend."""

    engine: EngineKind
    gmat_root: str | None
    timeout: Timeout
    retries: int
    isolation: Isolation
    keep_raw: bool
    runs_per_task: int | Literal["auto"] = "auto"
    allow_overwritten: bool = False  # a planning choice, not recorded
    keep: KeepPolicy = ALL
    envelope: Envelope | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the options the header records (``gmat_root`` is the machine's, not).

        ``keep`` only when it is not the default: a sweep keeping every run
        records what it did before retention existed.
        """
        out = {n: getattr(self, n) for n in RECORDED_OPTIONS if n not in ("keep", "envelope")}
        if self.keep.tiered:
            out["keep"] = self.keep.to_dict()
        if self.envelope is not None:
            out["envelope"] = self.envelope.to_dict()
        return out


# The options a sweep's header records, in its order; resume and extend default to them.
RECORDED_OPTIONS = (
    "engine", "timeout", "retries", "isolation", "keep_raw", "runs_per_task", "keep", "envelope"
)  # fmt: skip


def options(
    *,
    engine: Any,
    gmat_root: Any,
    timeout: Any,
    retries: Any,
    isolation: Any,
    keep_raw: Any,
    runs_per_task: Any = "auto",
    allow_overwritten: Any = False,
    keep: Any = "all",
    envelope: Any = None,
) -> Options:
    """Validate the execution options; raise ConfigError on the first bad one."""
    if engine not in ENGINE_KINDS:
        raise ConfigError(f"engine must be one of {ENGINE_KINDS}, got {engine!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ConfigError(f"retries must be a non-negative integer, got {retries!r}")
    if isolation not in ISOLATIONS:
        raise ConfigError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
    if runs_per_task != "auto" and (
        isinstance(runs_per_task, bool) or not isinstance(runs_per_task, int) or runs_per_task < 1
    ):
        raise ConfigError(
            f"runs_per_task must be a positive integer or 'auto', got {runs_per_task!r}"
        )
    return Options(
        engine=engine,
        gmat_root=None if gmat_root is None else str(Path(gmat_root).expanduser()),
        timeout=check_timeout(timeout),
        retries=retries,
        isolation=isolation,
        keep_raw=bool(keep_raw),
        runs_per_task=runs_per_task,
        allow_overwritten=bool(allow_overwritten),
        keep=check_keep(keep),
        envelope=check_envelope(envelope),
    )


def check_envelope(value: Any) -> Envelope | None:
    """Check ``envelope=``: ``None``, or what :func:`xsweep.envelope` returns."""
    if value is None or isinstance(value, Envelope):
        return value
    if isinstance(value, Mapping):  # as a header records it
        return Envelope.from_dict(value)
    raise ConfigError(f"envelope must be xsweep.envelope(step, ...) or None, got {value!r}")


class ResumeExecution(TypedDict, total=False):
    """The execution keywords of ``resume`` (and, with reuse, of ``run`` and ``extend``).

    For ``resume`` and ``extend`` an absent (or ``None``) engine, timeout,
    retries, isolation, keep_raw or keep means the recorded value; ``runs_per_task``
    defaults to ``"auto"`` as for ``run`` (``None``: the recorded value).
    See :func:`xsweep.run` for what each does.
    """

    client: Client | str | None
    workers: int | None
    timeout: float | Literal["auto", "off"] | str | None
    retries: int | None
    isolation: Isolation | None
    engine: EngineKind | None
    gmat_root: str | os.PathLike[str] | None
    keep_raw: bool | None
    runs_per_task: int | Literal["auto"] | None
    keep: Literal["all", "summary"] | Keep | None
    envelope: Envelope | None
    allow_overwritten: bool
    progress: bool
    consolidate: bool
    cluster_kwargs: Mapping[str, Any] | None
    cluster_timeout: float
    derive: Any
    storage_options: Mapping[str, Any] | None


class Execution(ResumeExecution, total=False):
    """The execution keywords of ``run`` and ``extend``: ``resume``'s, and reuse."""

    reuse: Literal["content"] | None
    reuse_from: Sequence[str | os.PathLike[str]]


# ``run``'s defaults; ``resume`` and ``extend`` take None for the recorded options instead.
RUN_DEFAULTS: dict[str, Any] = {
    "client": None,
    "workers": None,
    "timeout": "auto",
    "retries": 0,
    "isolation": "worker",
    "engine": "auto",
    "gmat_root": None,
    "keep_raw": False,
    "runs_per_task": "auto",
    "keep": "all",
    "envelope": None,
    "allow_overwritten": False,
    "progress": True,
    "consolidate": True,
    "cluster_kwargs": None,
    "cluster_timeout": 60.0,
    "derive": None,
    "storage_options": None,
    "reuse": None,
    "reuse_from": (),
}
# Batching is how this machine schedules the runs, not part of the study: resume and
# extend size tasks the way run does (a sweep written when one run a task was the
# default resumes batched); None asks for the recorded value.
EXTEND_DEFAULTS = {**RUN_DEFAULTS, **dict.fromkeys(RECORDED_OPTIONS), "runs_per_task": "auto"}
RESUME_DEFAULTS = {k: v for k, v in EXTEND_DEFAULTS.items() if k not in ("reuse", "reuse_from")}
REUSE_KINDS = (None, "content")
F = TypeVar("F", bound=Callable[..., Any])


def execution_keywords(defaults: Mapping[str, Any]) -> Callable[[F], F]:
    """Write :class:`Execution`'s keywords, with ``defaults``, into a function's signature.

    The function takes them as ``**execution: Unpack[Execution]`` (what type
    checkers and IDEs read); ``help()`` and :func:`inspect.signature` see them
    spelled out, in the order of :class:`Execution`.
    """
    hints = {n: getattr(h, "__forward_arg__", h) for n, h in Execution.__annotations__.items()}

    def wrap(fn: F) -> F:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
        keywords = [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=defaults[n], annotation=h)
            for n, h in hints.items()
            if n in defaults
        ]
        fn.__signature__ = sig.replace(parameters=[*own, *keywords])  # type: ignore[attr-defined]
        return fn

    return wrap


@dataclass(frozen=True)
class ExecutionOptions:
    """The execution keywords of one call, checked: built once, passed down.

    ``given`` holds the recorded options as the caller gave them (for a new
    sweep, with ``run``'s defaults; for a continued one, ``None`` where the
    sweep's recorded value applies): :meth:`options` checks them.
    """

    given: Mapping[str, Any]
    client: Client | str | None = None
    workers: int | None = None
    progress: bool = True
    consolidate: bool = True
    cluster_kwargs: Mapping[str, Any] | None = None
    cluster_timeout: float = 60.0
    derive: Any = None
    reuse: Literal["content"] | None = None
    reuse_from: tuple[str | os.PathLike[str], ...] = ()
    storage_options: Mapping[str, Any] | None = None

    @classmethod
    def of(
        cls, keywords: Mapping[str, Any], *, defaults: Mapping[str, Any], caller: str
    ) -> ExecutionOptions:
        """Check ``keywords`` (of :class:`Execution`, those ``defaults`` names) for ``caller``."""
        unknown = sorted(set(keywords) - set(defaults))
        if unknown:
            raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
        merged = {**EXTEND_DEFAULTS, **defaults, **keywords}
        workers = merged["workers"]
        if workers is not None and (
            isinstance(workers, bool) or not isinstance(workers, int) or workers < 1
        ):
            raise ConfigError(f"workers must be a positive integer or None, got {workers!r}")
        check_reuse(merged["reuse"], merged["reuse_from"])
        given = {
            name: merged[name] for name in ("gmat_root", "allow_overwritten", *RECORDED_OPTIONS)
        }
        rest = {k: v for k, v in merged.items() if k not in given}
        return cls(given=given, **{**rest, "reuse_from": tuple(rest["reuse_from"])})

    def options(self) -> Options:
        """Return the recorded options of a new sweep, checked (see :func:`options`)."""
        return options(**self.given)


def check_reuse(reuse: Any, reuse_from: Any) -> None:
    """Raise ConfigError unless ``reuse`` is ``None`` or ``"content"`` (with ``reuse_from``)."""
    if reuse not in REUSE_KINDS:
        raise ConfigError(f"reuse must be None or 'content', got {reuse!r}")
    if reuse_from and reuse is None:
        raise ConfigError("reuse_from= names sweeps to reuse runs of: it needs reuse='content'")
    if isinstance(reuse_from, str | os.PathLike):
        raise ConfigError("reuse_from= is a list of sweep directories")
