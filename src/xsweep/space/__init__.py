"""What to run: the parameter space as an xarray Dataset.

``spaces`` (the :class:`~xsweep.Space` wrapper, run ids, validation),
``designs`` (grid, samples, Monte Carlo, Latin hypercube, QMC), ``draws`` and
``joint`` (seeded distributions, correlated blocks), ``saltelli`` (Sobol
designs), ``frames`` (state blocks in other frames), ``growth`` (how a space
grows), ``values`` and ``reprs`` (encoding and display), ``settable``
(``xs.fields``: what a script lets you set). It may import ``core`` and
``gmat`` (to ask a GMAT child about a script).
"""
