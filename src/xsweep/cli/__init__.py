"""The ``xsweep`` command line, the top room.

``main`` (the commands), ``parser`` (argparse), ``show`` (what a sweep
holds) and ``spaces`` (spaces from command-line specs). It may import every
other room; nothing imports it but ``xsweep.__main__``.
"""
