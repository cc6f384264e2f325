"""The docs' code runs as pasted: each page's Python snippets, top to bottom, and the quotes.

A page's ``python`` fences run in order in one namespace (mktestdocs), in a fresh
directory holding what a reader of a clone has: ``examples/``. A fence that quotes an
example (``{.python notest}`` after a ``<!-- the code of ... -->`` marker) is run by the
example itself (``tests/test_examples.py``); here the page must quote it verbatim. A
fence that cannot run here (a Slurm cluster, a bucket with credentials) is
``{.python notest}`` too, and its page says why.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import pytest
from mktestdocs import check_md_file

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
QUOTE = re.compile(
    r"<!-- the code of (?P<file>examples/[\w./]+), section (?P<name>\w+) [^>]*-->\n"
    r"```\{\.python notest\}\n(?P<code>.*?)\n```",
    re.S,
)


def _section(path: Path, name: str) -> str:
    text = path.read_text()
    found = re.search(
        rf"^[ \t]*# --8<-- \[start:{name}\]\n(.*?)^[ \t]*# --8<-- \[end:{name}\]", text, re.S | re.M
    )
    assert found, f"{path} has no section {name}"
    return textwrap.dedent(found.group(1)).rstrip("\n")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_quotes_its_examples_verbatim(page: Path) -> None:
    text = page.read_text()
    for quote in QUOTE.finditer(text):
        assert quote["code"] == _section(ROOT / quote["file"], quote["name"]), (
            f"{page.name} quotes {quote['file']}:{quote['name']} out of date"
        )
    # Nothing is left to an include that a reader of the repository would see instead.
    assert '--8<-- "examples/' not in text


def test_every_quote_marker_is_understood() -> None:
    for page in PAGES:
        text = page.read_text()
        assert text.count("<!-- the code of ") == len(QUOTE.findall(text)), page


RUNNABLE = [p for p in PAGES if re.search(r"^```python$", p.read_text(), re.M)]


@pytest.mark.gmat
@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_page_runs_top_to_bottom_as_pasted(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    check_md_file(page, memory=True)
    assert os.listdir(tmp_path)  # it ran: a sweep or a file beside the examples
