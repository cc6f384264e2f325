"""How a space's values are written as JSON and read back, and held compactly once read.

Numbers only, no xarray: the manifest's reader uses :func:`compact_values` on the
spaces it parses, and ``_space`` the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def compact_values(data: Mapping[str, Any], *, at_least: int = 1024) -> None:
    """Hold a parsed description's long value lists as numpy arrays, in place.

    A manifest's header keeps its space for the whole session: 10^6 drawn points are
    2 x 10^6 Python numbers (~65 MB) as parsed JSON, 16 MB as arrays. ``Space.from_dict``
    reads either; nothing writes a parsed description back.
    """
    for spec in data.get("variables", {}).values():
        values, dtype = spec.get("values"), spec.get("dtype")
        if not isinstance(values, list) or len(values) < at_least or not isinstance(dtype, str):
            continue
        if dtype.startswith("datetime64"):
            dtype = "int64"  # the encoded nanoseconds, as decode_values reads them
        if np.dtype(dtype).kind in "biuf":
            spec["values"] = np.asarray(values, dtype=np.dtype(dtype))


def encode_values(values: np.ndarray) -> Any:
    """Return ``values`` as JSON-ready lists; datetimes as int64 nanoseconds."""
    if values.dtype.kind == "M":
        return values.astype("datetime64[ns]").astype(np.int64).tolist()
    return values.tolist()


def decode_values(values: Any, dtype: str) -> np.ndarray:
    """Return the array that :func:`encode_values` wrote (a list or a compacted array)."""
    if dtype.startswith("datetime64"):
        return np.asarray(values, dtype=np.int64).view("datetime64[ns]")
    return np.asarray(values, dtype=np.dtype(dtype))
