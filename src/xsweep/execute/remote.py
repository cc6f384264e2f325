"""Sessions on a sweep at a URL: staged in a local directory, mirrored to the bucket.

A session (``run``, ``resume``, ``extend``) on ``s3://bucket/sweeps/a`` runs
exactly as on a directory, in a staging directory on this machine's disk:
the manifest there is locked and fsynced as always. Its
:class:`BucketMirror` makes every group commit durable on the object store
too before the runs in it count as done: first the runs' files, then the
manifest lines as one immutable part (``manifest.d/``, see ``_objstore``).
The Zarr store is uploaded (changed objects only) when the session ends,
and the manifest compacted. A resume on any machine rebuilds the staging
directory from the bucket alone; runs whose files reached the bucket but
whose lines did not are adopted there (their done markers), not rerun.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import ParamSpec

from xsweep.analysis.handle import Sweep
from xsweep.core.errors import ConfigError
from xsweep.record.bucket import is_url
from xsweep.record.mirror import staged

P = ParamSpec("P")


def on_url(param: str, *, new: bool) -> Callable[[Callable[P, Sweep]], Callable[P, Sweep]]:
    """Let a session function take a URL for its sweep argument ``param``.

    The wrapped function keeps its ``storage_options`` parameter; with a URL it
    runs on the staged directory and a :class:`Sweep` on the URL is returned.
    """

    def wrap(fn: Callable[P, Sweep]) -> Callable[P, Sweep]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> Sweep:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:  # name the function, as Python's own message does
                raise TypeError(f"{fn.__name__}() {exc}") from None
            target = bound.arguments.get(param)
            options = bound.arguments.get("storage_options")
            if not is_url(target):
                if options:
                    raise ConfigError(
                        f"storage_options is for a sweep at a URL (s3://...), not {target}"
                    )
                return fn(*args, **kwargs)
            if bound.arguments.get("wait") is False:
                raise ConfigError(
                    "wait=False runs a sweep whose out is a local directory; a sweep at a "
                    "URL waits (run it on a thread of your own to go on meanwhile)"
                )
            with staged(str(target), options, new=new) as local:
                bound.arguments[param] = str(local)
                bound.arguments["storage_options"] = None
                fn(*bound.args, **bound.kwargs)
            return Sweep(str(target), storage_options=options)

        return inner

    return wrap
