"""mkdocs hooks: the site builds on a fresh clone, before any test has run.

The study notebook is rendered from ``docs/study.ipynb``, the copy
``tests/test_examples.py`` executes (git ignores it). Without that copy, the
notebook as committed (``examples/study.ipynb``, outputs stripped) stands in.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

DOCS = Path(__file__).parent


def on_pre_build(config: Any) -> None:
    """Put the committed notebook in place when no executed copy is there."""
    executed = DOCS / "study.ipynb"
    if not executed.is_file():
        shutil.copyfile(DOCS.parent / "examples" / "study.ipynb", executed)
