"""Running a sweep: the public ``run``/``resume``/``extend`` and everything under them.

``api`` (``xs.run``), ``continuing`` (resume, extend, extend_until),
``session`` (one session on a sweep directory, derive), ``dispatch`` and
``batching`` (tasks through a bounded window, records as they complete),
``cluster`` and ``preload`` (the embedded or given Dask cluster, the plan check
on it), ``worker`` and ``shipping`` (the task bodies on a worker),
``dashboard`` (the whole sweep's progress page), ``remote`` (sessions on a
URL), ``standin`` (the scale model's stand-in for GMAT). It may import every
room below it.
"""
