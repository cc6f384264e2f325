"""Packing a sweep for hand-off: ``archive`` writes and ``extract`` unpacks a bundle.

A bundle is a zip with a SHA-256 per member; extracting it follows the
sweep's own layout and nothing else. It may import ``core`` to ``analysis``
(verification lives with the reader, in ``record.source``).
"""
