"""The GMAT side of xsweep: the engine, one mission run, its outputs, the child process.

Everything here runs where GMAT runs (a GMAT child process, or ``run_mission``
in the caller's process) and imports neither xarray nor Dask.
"""
