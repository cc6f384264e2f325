"""gmat-sweep's Monte Carlo recipe, so a sweep imported from it grows with its own draws.

gmat-sweep 0.6.0 (``gmat_sweep.grids.expand_monte_carlo_to_run_specs``) draws
run ``i`` of a seeded Monte Carlo from the ``i``-th child of
``numpy.random.SeedSequence(seed)``: its first 32-bit word is the run's seed,
mixed with the first four bytes (big-endian) of the SHA-256 of a field's name
into that field's sub-seed, and the value is one ``rvs`` of the frozen
distribution on ``numpy.random.default_rng(sub_seed)``. Each run's values
depend on the run's index alone, so ``n + m`` runs begin with the ``n``: the
recipe is prefix-stable, and :func:`xsweep.extend` continues it bit-equal with
``gmat_sweep.monte_carlo_extend``.

A field drawn this way records ``"method": "gmat_sweep"`` in its recipe
(``xsweep_draw``), ``entropy`` holding gmat-sweep's seed.
"""

from __future__ import annotations

import hashlib

import numpy as np

from xsweep.space.draws import Distribution

METHOD = "gmat_sweep"


def name_hash(field: str) -> int:
    """Return gmat-sweep's hash of a field name (``derive_param_seed``)."""
    return int.from_bytes(hashlib.sha256(field.encode("utf-8")).digest()[:4], "big")


def run_seed(seed: int, run_id: int) -> int:
    """Return gmat-sweep's seed of run ``run_id`` (``derive_run_seeds(seed, n)[run_id]``)."""
    # SeedSequence(seed).spawn(n)[i] is SeedSequence(seed, spawn_key=(i,)): position alone.
    child = np.random.SeedSequence(seed, spawn_key=(run_id,))
    return int(child.generate_state(1)[0])


def gmat_sweep_draws(seed: int, field: str, dist: Distribution, n: int) -> np.ndarray:
    """Return the first ``n`` values gmat-sweep's seeded Monte Carlo draws for ``field``."""
    key = name_hash(field)
    values = np.empty(n, dtype=np.float64)
    for i in range(n):
        sub = int(np.random.SeedSequence([run_seed(seed, i), key]).generate_state(1)[0])
        values[i] = float(dist.frozen.rvs(size=1, random_state=np.random.default_rng(sub))[0])
    return values
