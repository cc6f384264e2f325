"""Sobol sensitivity: Saltelli designs as spaces, and their indices from an opened sweep.

SALib (the ``[sensitivity]`` extra) does both halves: ``SALib.sample.sobol``
draws the Saltelli design (scrambled Sobol points, the cross matrices built
from them) and ``SALib.analyze.sobol`` computes first-order and total
indices with bootstrap confidence intervals. It is the reference
implementation of Saltelli (2010) and Jansen's estimators; scipy's
``sobol_indices`` wants a callable, not runs already made. What xsweep adds is
the bookkeeping: the design is a space over ``saltelli_block`` x
``saltelli_role`` (``A``, ``AB:<field>``..., ``B``), so every run knows which
block and matrix it belongs to, and the indices come back over the output's
remaining dims (a time series gives indices over time). Failed runs are data:
by default they refuse, naming them; ``failed="drop-blocks"`` drops every
block that holds one and says how many remain.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from xsweep.core.errors import ConfigError, SpaceError
from xsweep.space.draws import new_entropy, open_unit, parse_distribution
from xsweep.space.settable import resolve_relative
from xsweep.space.validation import check_n, check_path, validate

BLOCK_DIM = "saltelli_block"
ROLE_DIM = "saltelli_role"
HINT = "Sobol sensitivity needs SALib: pip install 'gmat-xsweep[sensitivity]'"


def salib() -> tuple[Any, Any]:
    """Return SALib's Sobol sampler and analyser, or raise ConfigError with the install hint."""
    try:
        from SALib.analyze import sobol as analyze
        from SALib.sample import sobol as sample
    except ImportError:
        raise ConfigError(HINT) from None
    return sample, analyze


def saltelli(
    n: int,
    perturb: Mapping[str, Any],
    *,
    seed: int | None = None,
    second_order: bool = False,
    script: str | os.PathLike[str] | None = None,
) -> xr.Dataset:
    """Build a Saltelli design for Sobol indices: ``n`` blocks of ``D + 2`` runs.

    Each block holds the base rows ``A`` and ``B`` and one ``AB:<field>`` row
    per field (``A`` with that field from ``B``), and with ``second_order``
    also the ``BA:<field>`` rows: ``n * (2 D + 2)`` runs. The points are
    SALib's scrambled Sobol samples, each column mapped through its field's
    distribution. Analyse with ``ds.xsweep.sobol(var)``.

    Parameters
    ----------
    n : int
        Number of blocks (a power of two keeps Sobol's balance; SALib warns otherwise).
    perturb : mapping of str to distribution
        Field to distribution, as for :func:`xsweep.monte_carlo` (no blocks:
        Sobol indices assume independent inputs).
    seed : int, optional
        Seed of the scrambling (``None``: OS entropy).
    second_order : bool
        Also the rows second-order indices need.
    script : path-like, optional
        For specs relative to the script's values (``xs.nominal``,
        ``("scale", lo, hi)``), as in :func:`xsweep.monte_carlo`.

    Returns
    -------
    xarray.Dataset
        A space over ``saltelli_block`` and ``saltelli_role``.

    Examples
    --------
    >>> import xsweep as xs
    >>> design = xs.saltelli(8, {"x1": ("uniform", -3.14, 3.14), "x2": ("uniform", 0, 1)},
    ...                      seed=1)
    >>> dict(design.sizes), design["saltelli_role"].values.tolist()
    ({'saltelli_block': 8, 'saltelli_role': 4}, ['A', 'AB:x1', 'AB:x2', 'B'])
    """
    sample, _ = salib()
    check_n(n)
    perturb = dict(perturb.items()) if hasattr(perturb, "items") else {}
    if not perturb:
        raise SpaceError("saltelli() needs a mapping of at least one field to its distribution")
    if any(isinstance(k, tuple) for k in perturb):
        raise SpaceError("saltelli(): Sobol indices assume independent inputs; no blocks")
    fields = [str(f) for f in perturb]
    for field in fields:
        check_path(field)
    perturb = resolve_relative(perturb, script)
    dists = [parse_distribution(f, perturb[f]) for f in fields]
    d = len(fields)
    problem = {"num_vars": d, "names": fields, "bounds": [[0.0, 1.0]] * d}
    entropy = new_entropy(seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        points = sample.sample(problem, int(n), calc_second_order=second_order,
                               seed=entropy % 2**32)  # fmt: skip
    roles = ["A", *(f"AB:{f}" for f in fields)]
    roles += [f"BA:{f}" for f in fields] if second_order else []
    roles.append("B")
    u = open_unit(points).reshape(int(n), len(roles), d)
    data = {f: ((BLOCK_DIM, ROLE_DIM), dist.ppf(u[..., i])) for i, (f, dist) in
            enumerate(zip(fields, dists, strict=True))}  # fmt: skip
    coords = {BLOCK_DIM: np.arange(int(n), dtype=np.int64), ROLE_DIM: np.asarray(roles)}
    space = xr.Dataset(data, coords=coords)
    validate(space)
    return space
