"""The record of a sweep: the manifest and every way of reading a sweep from outside.

``manifest`` writes and reads ``manifest.jsonl`` (header, one line per run,
group commit, the lock), ``source`` is the one reader of a sweep directory,
bundle or URL (with verification), ``bucket`` and ``mirror`` keep a sweep on an
object store, ``reparse`` re-reads kept raw outputs. It may import ``core``,
``gmat`` (hashing, parsers) and ``space``.
"""
