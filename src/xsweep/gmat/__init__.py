"""The GMAT side of xsweep: the engine, one mission run, its outputs, the child process.

``engine`` loads GMAT, ``mission`` runs one mission with overrides,
``outputs`` parses what it wrote, ``fields`` lists a script's settable
fields, ``closure`` finds and hashes a script with its includes, ``child``
and ``pipe`` keep a warm GMAT in a spawned process and speak to it, ``pool``
holds the process's warm children. Everything
here runs where GMAT runs and may import only ``core``: neither xarray nor Dask.
"""
