"""Sequential designs: samplers that ask where to run next, and grow one sweep in batches.

Each batch is a growth step of one sweep directory (the first a run of
explicit samples, then ``extend(samples=...)``), so the manifest, resume,
archive, object storage and ``open_sweep`` work on it unchanged. A sampler's
state is rebuilt from the recorded runs, never saved. It holds the batch loop
(:mod:`.loop`), adaptive sampling with python-adaptive's learners
(:mod:`.adaptive`), and rare-event probabilities with OpenTURNS (:mod:`.rare`).
It may import every room below it, up to ``execute``.
"""
