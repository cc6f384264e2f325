"""Reading results: the Sweep handle, tables, plots, statistics, the accessor.

``handle`` (:class:`~xsweep.Sweep`), ``inspect`` (one run's details),
``tables`` (``to_dataframe``, ``on_time_grid``, ``final``), ``plots``,
``sobol``, ``convergence``, ``czml`` and ``accessor`` (``ds.xsweep``, which only
delegates). It may import every room below it (``core`` to ``store``),
never ``execute``: reading a sweep starts nothing.
"""
