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
    return arguments(description).out


def arguments(description: str, *, n: int | None = None) -> argparse.Namespace:
    """Parse ``--out DIR`` (created) and, given a default ``n``, ``--n N`` (runs)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--out", type=Path, default=HERE / "out", help="where the sweep and the PNG go"
    )
    if n is not None:
        parser.add_argument("--n", type=int, default=n, help=f"runs (default {n})")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    return args
