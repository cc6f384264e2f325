"""Running derive functions on one run's outputs, in the process that ran it (a GMAT child).

The outputs are read lazily from the run's Parquet files, each path checked to stay
inside the run's directory; each function's result is checked and encoded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from xsweep.core.hooks import DeriveFunction, DeriveResult, check_name, encode


def read_frame(path: str) -> Any:
    """Read a run's output Parquet as :func:`pandas.read_parquet` does, attrs included.

    One ``ParquetFile`` on one thread: half the time of the dataset layer
    ``read_parquet`` goes through, on a run's small file.
    """
    import json

    import pyarrow.parquet as pq

    table = pq.ParquetFile(path).read(use_threads=False)
    frame = table.to_pandas()
    attrs = (table.schema.metadata or {}).get(b"PANDAS_ATTRS")
    if attrs is not None:
        frame.attrs = json.loads(attrs)
    return frame


class Outputs(Mapping[str, Any]):
    """A run's outputs by GMAT name (``"RF"``; ``"reports/RF"`` works too), read on first use.

    Each is the DataFrame gmat-run parsed, with its ``attrs``, read back from
    the run's Parquet: the same frame :meth:`xsweep.Sweep.read` gives.
    """

    def __init__(self, run_dir: str, paths: Mapping[str, str]) -> None:
        self._dir = run_dir
        self._paths = dict(paths)
        self._frames: dict[str, Any] = {}

    def _key(self, key: str) -> str:
        if key in self._paths:
            return key
        short = key.rpartition("/")[2]
        if short in self._paths:
            return short
        raise KeyError(f"this run has no output {key!r}; it has {sorted(self._paths)}")

    def __getitem__(self, key: str) -> Any:
        name = self._key(key)
        if name not in self._frames:
            path = os.path.realpath(os.path.join(self._dir, self._paths[name]))
            if not path.startswith(os.path.realpath(self._dir) + os.sep):  # a symlink out
                raise KeyError(f"output {name!r} leads outside its run directory: refused")
            self._frames[name] = read_frame(path)
        return self._frames[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def derive_run(
    run_dir: str,
    outputs: Mapping[str, str],
    params: Mapping[str, Any],
    functions: Sequence[DeriveFunction],
) -> tuple[DeriveResult, ...]:
    """Call every derive function on one run; a function that raises is that one's failure.

    ``outputs`` maps each output's name to its Parquet path, relative to ``run_dir``.
    """
    frames = Outputs(run_dir, outputs)
    results: list[DeriveResult] = []
    for fn in functions:
        try:
            got = fn.load()(frames, dict(params))
            if not isinstance(got, Mapping):
                raise TypeError(f"a derive function returns a mapping, got {type(got).__name__}")
            values: dict[str, Any] = {}
            attrs: dict[str, dict[str, Any]] = {}
            for name, value in got.items():
                check_name(name)
                values[name], attrs[name] = encode(value)
            attrs = {k: v for k, v in attrs.items() if v}
            results.append(DeriveResult(fn.ref, fn.sha256, "ok", values, attrs))
        except Exception as exc:  # the user's function: any error is its result
            error = f"{type(exc).__name__}: {exc}"
            results.append(DeriveResult(fn.ref, fn.sha256, "derive-failed", error=error))
    return tuple(results)
