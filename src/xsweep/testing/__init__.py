"""Stand-ins and fixtures for tests and benchmarks, shipped so users' own tests can use them.

``engines`` holds :class:`~xsweep.testing.engines.CannedRuns`, a stand-in for
GMAT that a sweep is given explicitly (``cluster_kwargs={"plugins": {...}}``):
every run copies one finished run's files, in microseconds, so orchestration
can be measured and tested at 10^4..10^6 runs. ``node`` holds
:class:`~xsweep.testing.node.SleepingRuns`, whose children (``sleeper``) sleep
for each run's duration: a big node's orchestration, measured on 2 cores.
``synthetic`` writes sweeps
without GMAT; ``seaweed`` starts an S3-compatible server for tests. The top
room: it may import every other room, and nothing in xsweep imports it.
"""
