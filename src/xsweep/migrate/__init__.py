"""Bringing sweeps of other tools across: ``import_sweep`` reads a gmat-sweep 0.6.0 sweep.

A gmat-sweep output directory or archive zip is data from someone else: it is
read (its manifest, its hashes), never run, and nothing it names outside
itself is followed. Its runs become the manifest lines of a new xsweep sweep
whose per-run Parquet are hard links (copies across file systems) of the
source's; its parameter spec becomes the sweep's space. The room may import
``core`` to ``pack`` (it consolidates the new sweep with ``store``).
"""
