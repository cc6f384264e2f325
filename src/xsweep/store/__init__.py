"""The consolidated Zarr store: its layout, block writes, live updates, and opening it.

``layout`` describes the arrays, ``write`` fills blocks of runs (and rebuilds
the whole store), ``live`` keeps it current while a sweep runs, ``blocks``
and ``process`` decide where block writes run (here or in a writer process),
``derived`` holds the derived variables, ``open`` reads it back lazily. The
store is derived data: the manifest and the per-run Parquet files are the
source of truth. It may import ``core``, ``gmat``, ``space``, ``record`` and ``plan``.
"""
