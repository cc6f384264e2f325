"""Atomic file writes: write a temporary sibling, then rename it into place.

A killed process never leaves a half-written file under its final name, so
a resume can never mistake one for a finished output.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


# A path given as str is handled as str throughout: Python 3.12's pathlib interns every
# path part it parses, for good (a run directory's name, once a run).
@contextmanager
def atomic_path[AnyPath: (str, Path)](path: AnyPath, *, fsync: bool = False) -> Iterator[AnyPath]:
    """Yield a temporary path next to ``path``; on success rename it onto ``path``.

    With ``fsync``, the file and its directory are synced around the rename,
    so the new content survives a power cut once this returns. On error the
    temporary file is removed and ``path`` is left as it was. The temporary
    path has ``path``'s type (``str`` or :class:`~pathlib.Path`).
    """
    where, name = os.path.split(os.fspath(path))
    tmp = os.path.join(where, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        yield type(path)(tmp)
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if fsync:
        _fsync_dir(where or ".")


def _fsync_dir(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    with suppress(OSError):
        os.fsync(fd)
    os.close(fd)
