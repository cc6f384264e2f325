"""Planning a sweep before any run: scripts, checks, the header, reopening, reuse.

``scripts`` resolves a script or its variants and lays out their copies,
``checks`` loads the plan in a GMAT child, writes the header and reopens a
recorded sweep (its options, its space, drift), ``reuse`` finds finished
runs of other sweeps to copy, ``adopt`` takes in runs finished but never
recorded. It may import ``core``, ``gmat``, ``space`` and ``record``.
"""
