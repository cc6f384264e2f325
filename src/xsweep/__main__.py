"""``python -m xsweep``: the command line."""

from xsweep.cli.main import console

if __name__ == "__main__":
    console()
