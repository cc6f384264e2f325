"""``python -m xsweep``: the command line."""

from xsweep._cli import console

if __name__ == "__main__":
    console()
