"""The bottom room: what every stage shares and nothing else.

Errors (``errors``), the records that cross process and disk borders
(``records``: a run's outcome and record; ``done``: the marker a run leaves),
derive hooks and their results (``hooks``), the execution options a sweep
records (``options``, ``timeouts``), the names of a sweep directory and the
one containment check for paths read from it (``paths``), atomic writes
(``atomic``) and epochs (``epochs``). It imports only the standard library,
numpy and ``xsweep.derived``; every other room may import it.
"""
