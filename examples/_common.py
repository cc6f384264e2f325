"""Shared by the examples: where they write, and a command line to say where."""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: the examples run headless in CI

HERE = Path(__file__).resolve().parent
MISSIONS = HERE / "missions"


def out_dir(description: str) -> Path:
    """Parse ``--out DIR`` (default ``examples/out``) and return it, created."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--out", type=Path, default=HERE / "out", help="where the sweep and the PNG go"
    )
    out: Path = parser.parse_args().out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out
