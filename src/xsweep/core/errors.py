"""The xsweep exception hierarchy.

Every exception xsweep raises on purpose derives from :class:`XsweepError`.
Subclasses carry their payload as attributes (the offending field path, GMAT's
own log lines, the manifest line number), and where a built-in exception fits,
they inherit it too, so ``except ValueError`` keeps working for callers that
do not know xsweep.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any


class XsweepError(Exception):
    """Base class of every error xsweep raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword payloads that ``Exception``'s default pickling drops;
        # errors raised in a GMAT child or a Dask worker must reach the caller whole.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[XsweepError], args: tuple[Any, ...], state: dict[str, Any]) -> XsweepError:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ConfigError(XsweepError, ValueError):
    """Bad configuration: raised before any GMAT run starts."""


class DeriveError(ConfigError):
    """A derive function failed on the first run it was tried on; nothing was recorded.

    Attributes
    ----------
    run_id : int
        The run it was tried on.
    errors : dict
        Function reference to the error it raised (or why its values were refused).
    """

    def __init__(self, message: str, run_id: int, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.errors = errors


class ScriptNotFoundError(ConfigError, FileNotFoundError):
    """The mission script, or a file it includes or names, does not exist.

    Attributes
    ----------
    script : pathlib.Path
        The path that was looked up.
    referenced_by : str or None
        Where a missing included or side file is named (``"main.script, line 3:
        #Include 'craft.script'"``); None for the mission script itself.
    """

    def __init__(self, script: Path, referenced_by: str | None = None) -> None:
        self.script = script
        self.referenced_by = referenced_by
        if referenced_by is None:
            super().__init__(f"mission script not found: {script}")
        else:
            super().__init__(f"file not found: {script} (named in {referenced_by})")


class ScriptLoadError(ConfigError):
    """GMAT could not parse the mission script.

    Attributes
    ----------
    script : pathlib.Path
        The script GMAT tried to load.
    errors : tuple of str
        GMAT's own error lines from its log, in order.
    log : str
        The full GMAT log of the failed load.
    """

    def __init__(
        self,
        script: Path,
        errors: Sequence[str],
        log: str = "",
        *,
        message: str | None = None,
    ) -> None:
        self.script = script
        self.errors = tuple(errors)
        self.log = log
        if message is None:
            detail = "\n  ".join(self.errors) if self.errors else "(GMAT logged no reason)"
            message = f"GMAT could not parse {script.name}:\n  {detail}"
        super().__init__(message)


class UnsupportedFeatureError(ScriptLoadError):
    """The script uses GMAT object types the embedded engine does not include.

    The embedded ``gmatpy`` engine is GMAT's core without optional plugins
    (ground stations, event locators, estimation, external optimizers,
    GMAT/MATLAB/Python functions, the TLE propagator). A desktop GMAT install
    runs such scripts: pass ``engine="desktop"`` (and ``gmat_root=`` or set
    ``GMAT_ROOT``).

    Attributes
    ----------
    types : tuple of str
        The GMAT object types the engine did not recognise.
    """

    def __init__(self, script: Path, types: Sequence[str], errors: Sequence[str], log: str) -> None:
        self.types = tuple(types)
        names = ", ".join(self.types)
        message = (
            f"{script.name} uses GMAT object type(s) {names}, which the embedded gmatpy engine "
            "does not include (it is GMAT's core without optional plugins). Run this script "
            "on a desktop GMAT install: engine='desktop' with gmat_root=... or GMAT_ROOT set."
        )
        super().__init__(script, errors, log, message=message)


class FieldError(ConfigError):
    """A dotted field path does not name an object or field of the script.

    Attributes
    ----------
    path : str
        The offending dotted path, e.g. ``"Sat.SMAA"``.
    value : object
        The value that was to be written, if any.
    suggestions : tuple of str
        Close names that do exist, best first.
    """

    def __init__(
        self,
        message: str,
        path: str,
        value: Any = None,
        suggestions: Iterable[str] = (),
    ) -> None:
        self.path = path
        self.value = value
        self.suggestions = tuple(suggestions)
        if self.suggestions:
            message = f"{message}; did you mean {', '.join(map(repr, self.suggestions))}?"
        super().__init__(message)


class FieldTypeError(FieldError, TypeError):
    """A value has the wrong type for the GMAT field it is written to."""


class SpaceError(ConfigError):
    """A parameter space is malformed (empty, duplicated labels, bad distribution...)."""


class EngineError(XsweepError, RuntimeError):
    """No usable GMAT engine, or the engine failed outside a mission run."""


class SweepAbortedError(XsweepError):
    """A sweep stopped before all its runs ran, for a reason outside the runs.

    Every run finished before the stop is in the manifest, its outputs intact;
    the runs cut off are pending (not failed), and ``xs.resume`` completes the
    sweep once the cause is gone. :class:`ClusterError` and
    :class:`DiskFullError` are the two kinds.

    Attributes
    ----------
    path : pathlib.Path
        The sweep directory.
    reason : str
        What stopped the sweep, without the advice to resume.
    """

    def __init__(self, message: str, path: Path) -> None:
        self.path = path
        self.reason = message
        super().__init__(
            f"{message}; finished runs are recorded, complete with xs.resume({str(path)!r})"
        )


class ClusterError(SweepAbortedError, RuntimeError):
    """The Dask cluster failed under a sweep (scheduler lost, tasks cancelled)."""


class ClusterStartError(ClusterError):
    """The Dask cluster could not start its workers, or did not answer, within the bound.

    Raised before any run starts: nothing was written for the sweep. The
    message names the cause (the worker's own error, or the bound that was
    hit: ``cluster_timeout``).
    """

    def __init__(self, message: str, path: Path) -> None:
        self.path = path
        self.reason = message
        XsweepError.__init__(self, message)


NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(SweepAbortedError, OSError):
    """The file system holding the sweep ran out of space.

    A run that ends, failed or not, with less than 1 MiB free is not recorded:
    its outputs may be cut short. Free some space, then ``xs.resume``.
    ``errno`` is ``ENOSPC``, so ``except OSError`` handlers see it too.
    """

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message, path)
        self.errno = errno.ENOSPC

    def __reduce__(self) -> tuple[Any, ...]:
        # ``errno`` is OSError's slot, not in ``__dict__``: rebuild through __init__.
        return (type(self), (self.reason, self.path))


class ScriptDriftError(ConfigError):
    """The mission script differs from the one the sweep recorded.

    Attributes
    ----------
    recorded, found : str
        The canonical SHA-256 in the manifest header and of the script found.
    """

    def __init__(self, message: str, recorded: str, found: str) -> None:
        self.recorded = recorded
        self.found = found
        super().__init__(message)


class ManifestCorruptError(XsweepError):
    """A sweep manifest cannot be read.

    Attributes
    ----------
    path : pathlib.Path
        The manifest file.
    line : int or None
        The 1-based line number of the corrupt line, when known.
    """

    def __init__(self, message: str, path: Path, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}" if line is None else f"{path}, line {line}"
        super().__init__(f"{where}: {message}")


class SweepLockedError(XsweepError):
    """Another live process is writing this sweep directory.

    Attributes
    ----------
    path : pathlib.Path
        The sweep directory.
    owner : str
        ``host:pid`` of the process holding the lock, when known.
    """

    def __init__(self, path: Path, owner: str) -> None:
        self.path = path
        self.owner = owner
        super().__init__(f"sweep {path} is being written by another process ({owner or 'unknown'})")


class StoreError(XsweepError):
    """The consolidated store is missing, from a newer xsweep, or unreadable."""


class ObjectStoreError(StoreError):
    """The object store holding a sweep (``s3://...``) failed past its retries.

    What the bucket holds stays resumable: runs whose manifest lines did not
    reach it are adopted from their files or run again by ``resume``.
    """


class BundleError(XsweepError):
    """A bundle is not a valid xsweep zip: unreadable, unsafe, or failing its hashes."""


class RunFailedError(XsweepError):
    """A run failed, raised only for callers that asked to fail fast.

    Attributes
    ----------
    run_id : int or None
        The run's id in its sweep, if it belongs to one.
    reason : str
        ``"gmat-error"``, ``"exception"``, ``"crashed"`` or ``"timeout"``.
    error : str
        The error text (GMAT's message or the exception).
    """

    def __init__(self, run_id: int | None, reason: str, error: str) -> None:
        self.run_id = run_id
        self.reason = reason
        self.error = error
        label = "run" if run_id is None else f"run {run_id}"
        super().__init__(f"{label} failed ({reason}): {error}")


@contextlib.contextmanager
def disk_full_is_resumable(path: Path) -> Iterator[None]:
    """Turn a full disk under a sweep (a manifest append, the lock file) into DiskFullError."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, XsweepError) or exc.errno not in NO_SPACE:
            raise
        raise DiskFullError(f"no space left on the device ({exc})", path) from exc


def close_names(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` candidates close to ``name``, best first (case-insensitive)."""
    pool = list(dict.fromkeys(candidates))
    lowered = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[h] for h in hits]
