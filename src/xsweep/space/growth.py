"""Run ids of a grown space: the blocks each extension added, numbered after the old runs.

A space grows in steps. Each step adds ``size`` values at the end of one dim:
``extend(n)`` along a random dim, or a refined grid axis
(``extend(grid={"Sat.SMA": [...]})``). The step's runs are every point whose
index on that dim is new, crossed with every value the other dims had then. The
steps' regions are disjoint and cover the space, so each run id stays what it
was: the first block (the space as planned) is numbered in C order, and each
step's block after the previous ones, in C order within it.

The steps are kept on the space (``attrs["xsweep_growth"]``, and ``growth`` in
its JSON). A space from before grids could grow has none: its steps come from
the random fields' recipes (their ``blocks``), the one kind of growth there was.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from xsweep.core.errors import SpaceError

GROWTH_ATTR = "xsweep_growth"

Step = tuple[str, int, int]  # (dim, first new index, number of new values)


def max_runs() -> int:
    """Return the most runs a space may have (``XSWEEP_MAX_RUNS``, default 10^8)."""
    try:
        return int(os.environ.get("XSWEEP_MAX_RUNS", "") or 10**8)
    except ValueError:
        raise SpaceError("XSWEEP_MAX_RUNS must be an integer") from None


def check_run_count(n: int) -> None:
    """Refuse a space of more runs than :func:`max_runs`, before anything is sized by it."""
    if n > (limit := max_runs()):
        raise SpaceError(
            f"the space has {n:,} runs, over the limit of {limit:,}: split it, or raise "
            "the limit with the environment variable XSWEEP_MAX_RUNS"
        )


def read_steps(attrs: Mapping[str, Any]) -> list[Step] | None:
    """Return the growth steps a space's attrs record, or None if it records none."""
    text = attrs.get(GROWTH_ATTR)
    if text is None:
        return None
    try:
        steps = [(str(d), int(a), int(n)) for d, a, n in json.loads(text)]
    except (TypeError, ValueError) as exc:
        raise SpaceError(f"malformed growth record {text!r} ({exc})") from None
    return steps


def steps_text(steps: Sequence[Step]) -> str:
    """Serialise growth steps for ``attrs["xsweep_growth"]``."""
    return json.dumps([[d, int(a), int(n)] for d, a, n in steps])


def recipe_steps(recipes: Mapping[str, Mapping[str, Any]]) -> list[Step]:
    """Return the steps the random fields' recipes imply (a space without a growth record)."""
    blocks: dict[str, list[int]] = {}
    for recipe in recipes.values():
        blocks.setdefault(recipe["dim"], recipe["blocks"])
        if blocks[recipe["dim"]] != recipe["blocks"]:
            raise SpaceError(f"random fields on dim {recipe['dim']!r} disagree on its blocks")
    extended = {d: b for d, b in blocks.items() if len(b) > 1}
    if len(extended) > 1:
        raise SpaceError(f"more than one dim was extended: {sorted(extended)}")
    if not extended:
        return []
    ((dim, sizes),) = extended.items()
    starts = np.cumsum(sizes[:-1]).tolist()
    return [(dim, int(a), int(n)) for a, n in zip(starts, sizes[1:], strict=True)]


def check_recipes(steps: Sequence[Step], recipes: Mapping[str, Mapping[str, Any]]) -> None:
    """Raise unless every random field's blocks are its dim's steps."""
    for name, recipe in recipes.items():
        dim = recipe["dim"]
        sizes = [int(n) for d, _, n in steps if d == dim]
        if [int(b) for b in recipe["blocks"][1:]] != sizes:
            raise SpaceError(
                f"{name}: its draw blocks {recipe['blocks']} disagree with the space's growth "
                f"along {dim!r} {sizes}"
            )


@dataclass(frozen=True)
class Blocks:
    """The run-id blocks of a space: where each starts, its shape, its first run id."""

    starts: tuple[tuple[int, ...], ...]
    shapes: tuple[tuple[int, ...], ...]
    axes: tuple[int, ...]  # the dim each block grew (-1 for the planned space)
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, dims: Sequence[str], shape: Sequence[int], steps: Sequence[Step]) -> Blocks:
        """Return the blocks of a space of ``shape`` over ``dims`` grown by ``steps``."""
        sizes = list(shape)
        for dim, start, size in reversed(steps):
            if dim not in dims:
                raise SpaceError(f"the space grew along {dim!r}, which is not one of its dims")
            axis = list(dims).index(dim)
            if size < 1 or start < 1 or sizes[axis] != start + size:
                raise SpaceError(f"growth step {(dim, start, size)} does not fit the space")
            sizes[axis] = start
        starts: list[tuple[int, ...]] = [(0,) * len(sizes)]
        shapes: list[tuple[int, ...]] = [tuple(sizes)]
        axes = [-1]
        for dim, start, size in steps:
            axis = list(dims).index(dim)
            starts.append(tuple(start if i == axis else 0 for i in range(len(sizes))))
            shapes.append(tuple(size if i == axis else n for i, n in enumerate(sizes)))
            axes.append(axis)
            sizes[axis] += size
        counts = [math.prod(s) for s in shapes]
        offsets = tuple(int(x) for x in np.cumsum([0, *counts[:-1]]))
        return cls(tuple(starts), tuple(shapes), tuple(axes), offsets)

    def index_of(self, run_id: int) -> tuple[int, ...]:
        """Index position of ``run_id`` (in range)."""
        k = 0 if len(self.offsets) == 1 else int(np.searchsorted(self.offsets, run_id, "right")) - 1
        rest = run_id - self.offsets[k]
        local = []
        for n in reversed(self.shapes[k]):  # C order; plain ints: numpy's costs ~5 us a call
            rest, i = divmod(rest, n)
            local.append(i)
        return tuple(i + s for i, s in zip(reversed(local), self.starts[k], strict=True))

    def run_id_of(self, index: Sequence[int]) -> int:
        """Run id of an index position (in range): the last block that grew past it."""
        for k in range(len(self.axes) - 1, -1, -1):
            axis = self.axes[k]
            if axis < 0 or index[axis] >= self.starts[k][axis]:
                local = tuple(i - s for i, s in zip(index, self.starts[k], strict=True))
                return self.offsets[k] + int(np.ravel_multi_index(local, self.shapes[k]))
        raise AssertionError("unreachable")  # pragma: no cover

    def index_arrays(self) -> tuple[np.ndarray, ...]:
        """Index positions of every run, one int array per dim, in run-id order."""
        parts = []
        for start, shape in zip(self.starts, self.shapes, strict=True):
            idx = np.unravel_index(np.arange(math.prod(shape)), shape)
            parts.append(tuple(i + s for i, s in zip(idx, start, strict=True)))
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(len(self.starts[0])))
