"""The parameter space: an xarray Dataset whose variables are GMAT field paths.

xarray's own dimension rules decide what runs. Fields on independent dims
form a Cartesian product; fields sharing a dim vary together (zipped). A run
is one point of the broadcast space; its run id is the C-order flat index
over the broadcast dims.

What counts as a field (an override) and what as a label:

- every data variable is a field;
- a dimension coordinate is a field when its name is a dotted path
  (``"Sat.SMA"``) or it carries ``attrs["xsweep_role"] == "field"`` (which
  :func:`grid` sets, e.g. for a script Variable ``"TOF"``);
- every other coordinate (``sample``, an alias dim like ``sma``, a
  non-dimension coordinate) is a label, carried along but never written.

Random fields carry their recipe in ``attrs["xsweep_draw"]`` (JSON), so the
recipe survives :func:`xarray.merge` and serialisation. The constructors that
build spaces (``grid``, ``monte_carlo``...) are ``_designs``'s; this module
says what a space means.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from xsweep.core.errors import SpaceError
from xsweep.space.draws import recipe_distribution, recipe_json
from xsweep.space.gmat_sweep import METHOD as GMAT_SWEEP
from xsweep.space.growth import (
    GROWTH_ATTR,
    Blocks,
    Step,
    check_recipes,
    check_run_count,
    read_steps,
    recipe_steps,
    steps_text,
)
from xsweep.space.joint import draw_field, recipe_text
from xsweep.space.reprs import field_rows, space_html, space_text
from xsweep.space.validation import DRAW_ATTR, ROLE_ATTR, check_n, field_names, is_field, validate
from xsweep.space.values import decode_values, encode_values

SPACE_SCHEMA = 1


# --- semantics ----------------------------------------------------------------


# --- runs -----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One point of a space: what a single GMAT run sets and how it is labelled.

    Attributes
    ----------
    run_id : int
        C-order flat index over the space's dims.
    index : tuple of int
        Position along each dim, in :attr:`Space.dims` order.
    labels : dict
        Coordinate values at this point (dim and non-dim coordinates).
    overrides : dict
        Field path to value, what GMAT gets.
    """

    run_id: int
    index: tuple[int, ...]
    labels: dict[str, Any]
    overrides: dict[str, Any]


def _scalar(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[ns]")
    if isinstance(value, np.generic):
        return value.item()
    return value


class Space:
    """A validated, read-only view of a parameter-space Dataset.

    Parameters
    ----------
    dataset : xarray.Dataset
        The space; built by :func:`grid`, :func:`samples`, :func:`monte_carlo`,
        :func:`latin_hypercube`, their merges, or by hand.
    dims : sequence of str, optional
        The order of the dims that run ids follow (C order). Defaults to the
        Dataset's own dim order.

    Examples
    --------
    >>> import xsweep as xs
    >>> space = xs.Space(xs.grid({"Sat.SMA": [7000, 7100], "TOF": [60, 120]}))
    >>> space
    <xsweep.Space: 4 runs over Sat.SMA=2 x TOF=2; fields: Sat.SMA, TOF>
    >>> space.run(3).overrides
    {'Sat.SMA': 7100, 'TOF': 120}
    """

    def __init__(self, dataset: xr.Dataset, dims: Sequence[str] | None = None) -> None:
        self._recipes = validate(dataset)
        self.dataset = dataset
        self.dims: tuple[str, ...] = tuple(str(d) for d in dataset.sizes)
        if dims is not None:
            if sorted(map(str, dims)) != sorted(self.dims):
                raise SpaceError(f"dims={tuple(dims)} must order exactly the dims {self.dims}")
            self.dims = tuple(str(d) for d in dims)
        self.shape: tuple[int, ...] = tuple(int(dataset.sizes[d]) for d in self.dims)
        check_run_count(math.prod(self.shape))
        self.fields: tuple[str, ...] = tuple(field_names(dataset))
        self.labels: tuple[str, ...] = tuple(
            str(c) for c in dataset.coords if not is_field(dataset, c)
        )
        steps = read_steps(dataset.attrs)
        if steps is None:
            steps = recipe_steps(self._recipes)
        else:
            check_recipes(steps, self._recipes)
        self.steps: tuple[Step, ...] = tuple(steps)
        self._blocks = Blocks.of(self.dims, self.shape, self.steps)
        # name -> (values, the space's axis of each of its dims): one lookup per run, not
        # an xarray variable built per run and field.
        self._columns: dict[str, tuple[np.ndarray, tuple[int, ...]]] = {}

    @property
    def n_runs(self) -> int:
        """Number of runs: the product of the dim sizes."""
        return math.prod(self.shape)

    def __len__(self) -> int:
        return self.n_runs

    @property
    def seeds(self) -> dict[str, int]:
        """Seed entropy of every random field, by field name (empty for a plain grid)."""
        return {name: int(r["entropy"]) for name, r in self._recipes.items()}

    def __repr__(self) -> str:
        return space_text(self.n_runs, self.dims, self.shape, self._rows())

    def _repr_html_(self) -> str:
        return space_html(self.n_runs, self.dims, self.shape, self._rows())

    def _rows(self) -> list[tuple[str, str, str]]:
        return field_rows(self.dataset, self.fields, self._recipes)

    def index_of(self, run_id: int) -> tuple[int, ...]:
        """Index position of ``run_id``.

        Run ids are the C-order flat index over :attr:`dims`. A space that was
        extended (more samples, or a refined grid axis) numbers each extension
        block after the previous ones (C order within the block), so an
        existing run id never changes meaning.
        """
        if not 0 <= run_id < self.n_runs:
            raise IndexError(f"run id {run_id} outside 0..{self.n_runs - 1}")
        return self._blocks.index_of(run_id)

    def run_id_of(self, index: Sequence[int]) -> int:
        """Run id of an index position (inverse of :meth:`index_of`)."""
        index = [int(i) for i in index]
        if len(index) != len(self.shape) or not all(
            0 <= i < n for i, n in zip(index, self.shape, strict=True)
        ):
            raise IndexError(f"index {tuple(index)} outside shape {self.shape}")
        return self._blocks.run_id_of(index)

    def blocks(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        """Return ``(start, shape)`` of each run-id block (C order inside), in run-id order."""
        return list(zip(self._blocks.starts, self._blocks.shapes, strict=True))

    def index_arrays(self) -> tuple[np.ndarray, ...]:
        """Index positions of every run, one int array per dim, in run-id order."""
        return self._blocks.index_arrays()

    def _pick(self, name: str, index: Sequence[Any]) -> Any:
        """Values of ``name`` at ``index`` (one int or int array per dim of the space)."""
        column = self._columns.get(name)
        if column is None:
            var = self.dataset[name]
            column = self._columns[name] = (
                var.values,
                tuple(self.dims.index(str(d)) for d in var.dims),
            )
        values, axes = column
        return values[tuple(index[a] for a in axes)]

    def run(self, run_id: int) -> Run:
        """Return the :class:`Run` with id ``run_id``."""
        index = self.index_of(run_id)
        return Run(
            run_id=run_id,
            index=index,
            labels={c: _scalar(self._pick(c, index)) for c in self.labels},
            overrides={f: _scalar(self._pick(f, index)) for f in self.fields},
        )

    def __iter__(self) -> Iterator[Run]:
        for run_id in range(self.n_runs):
            yield self.run(run_id)

    def runs(self) -> pd.DataFrame:
        """List every run without running anything.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``run_id``; one column per label, then one per field
            (the overrides). Built vectorised, so 100,000 points are cheap.
        """
        index = self.index_arrays()
        return pd.DataFrame(
            {name: self._pick(name, index) for name in (*self.labels, *self.fields)},
            index=pd.RangeIndex(self.n_runs, name="run_id"),
        )

    # --- serialisation ------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return an exact, JSON-safe description (values and random recipes)."""
        variables = {}
        for name in self.dataset.variables:
            var = self.dataset.variables[name]
            variables[str(name)] = {
                "dims": [str(d) for d in var.dims],
                "dtype": var.dtype.str if var.dtype.kind != "M" else "datetime64[ns]",
                "values": encode_values(var.values),
                "attrs": {k: v for k, v in var.attrs.items() if k in (ROLE_ATTR, DRAW_ATTR)},
                "coord": name in self.dataset.coords,
            }
        out = {
            "schema": SPACE_SCHEMA,
            "dims": dict(zip(self.dims, self.shape, strict=True)),
            "variables": variables,
        }
        if GROWTH_ATTR in self.dataset.attrs:  # absent before grids could grow
            out["growth"] = [list(step) for step in self.steps]
        return out

    def to_json(self) -> str:
        """Serialise with :meth:`to_dict`."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, verify: bool = True) -> Space:
        """Rebuild a space from :meth:`to_dict` output.

        With ``verify`` (the default), every random field is redrawn from its
        recipe and must equal the stored values bit for bit; a mismatch
        raises :class:`SpaceError` rather than silently changing the numbers.
        """
        if data.get("schema") != SPACE_SCHEMA:
            raise SpaceError(f"unsupported space schema {data.get('schema')!r}")
        coords: dict[Hashable, Any] = {}
        dvars: dict[Hashable, Any] = {}
        try:
            for name, spec in data["variables"].items():
                var = xr.Variable(
                    tuple(spec["dims"]),
                    decode_values(spec["values"], spec["dtype"]),
                    attrs=dict(spec.get("attrs", {})),
                )
                (coords if spec["coord"] else dvars)[name] = var
            dataset = xr.Dataset(dvars, coords=coords)
            if "growth" in data:
                dataset.attrs[GROWTH_ATTR] = steps_text([tuple(st) for st in data["growth"]])
            dims = list(data["dims"])
        except SpaceError:
            raise
        except Exception as exc:  # a damaged description: any shape of wrong
            raise SpaceError(
                f"not a valid space description ({type(exc).__name__}: {exc})"
            ) from None
        space = cls(dataset, dims=dims)
        if verify:
            space.verify_draws()
        return space

    @classmethod
    def from_json(cls, text: str, *, verify: bool = True) -> Space:
        """Rebuild a space from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text), verify=verify)

    def verify_draws(self) -> None:
        """Redraw every random field from its recipe; raise if any value differs."""
        cache: dict[Any, np.ndarray] = {}  # a block or a design is drawn once for its fields
        for name, recipe in self._recipes.items():
            if recipe["dist"] is None:
                continue  # stored by value: nothing to redraw
            redrawn = draw_field(name, recipe, cache)
            stored = np.asarray(self.dataset[name].values, dtype=np.float64)
            if redrawn.tobytes() != stored.tobytes():
                bad = (
                    int(np.flatnonzero(redrawn != stored)[0])
                    if redrawn.shape == stored.shape
                    else 0
                )
                raise SpaceError(
                    f"{name}: stored values differ from its recipe (first at position {bad}); "
                    "the numpy/scipy versions may draw differently here. Refusing to rerun "
                    "with different numbers."
                )

    def extended(self, n: int) -> Space:
        """Return this space with ``n`` more random samples on its random dim.

        The existing samples stay bit-equal and keep their run ids; the new
        runs get ids after them (see :meth:`index_of`).
        """
        check_n(n)
        random = self._recipes
        if not random:
            raise SpaceError(
                "more samples (n) extend only a Monte Carlo, Latin hypercube or QMC space; "
                "this one has none: give a grid dim new values instead (grid=, or "
                "--grid FIELD=VALUES on the command line)"
            )
        dims = {r["dim"] for r in random.values()}
        if len(dims) != 1:
            raise SpaceError(f"random fields live on several dims {sorted(dims)}; cannot extend")
        (dim,) = dims
        others = [
            str(v)
            for v in self.dataset.variables
            if dim in self.dataset[v].dims and str(v) not in random and v != dim
        ]
        if others:
            raise SpaceError(f"{others} share dim {dim!r} with random fields and have no recipe")
        old = self.dataset.sizes[dim]
        ds = self.dataset.drop_vars(list(random))
        ds = ds.reindex({dim: np.arange(old + n, dtype=np.int64)})
        cache: dict[Any, np.ndarray] = {}
        for name, recipe in random.items():
            if recipe["dist"] is None:
                raise SpaceError(
                    f"{name}: drawn from a distribution stored by value; cannot extend"
                )
            grown = {**recipe, "blocks": [*recipe["blocks"], int(n)]}
            values = draw_field(name, grown, cache)
            if "joint" in recipe or "qmc" in recipe or recipe["method"] == GMAT_SWEEP:
                text = recipe_text(grown)
            else:  # as before joint draws existed, byte for byte
                dist = recipe_distribution(name, recipe["dist"])
                text = recipe_json(recipe["method"], recipe["entropy"], dim, dist, grown["blocks"])
            ds[name] = xr.Variable((dim,), values, attrs={DRAW_ATTR: text})
        ds = ds[list(self.dataset.data_vars)].assign_coords(ds.coords)
        return Space(self.grown(ds, [(dim, old, int(n))]), dims=self.dims)

    def grown(self, dataset: xr.Dataset, steps: Sequence[Step]) -> xr.Dataset:
        """Return ``dataset`` (this space grown) with this space's steps and ``steps`` recorded."""
        return dataset.assign_attrs({GROWTH_ATTR: steps_text([*self.steps, *steps])})
