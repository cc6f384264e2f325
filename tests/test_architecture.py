"""docs/architecture.md is the map: every room and module it names exists, each room is named."""

from __future__ import annotations

import re
from pathlib import Path

import xsweep as xs
from _helpers import ROOT

SRC = Path(xs.__file__).parent
PAGE = (ROOT / "docs" / "architecture.md").read_text()
ROOMS = sorted(p.parent.name for p in SRC.glob("*/__init__.py"))
NAMED = set(re.findall(r"`([a-z]+)/([a-z_]*)`", PAGE))


def test_every_module_the_map_names_exists() -> None:
    missing = [
        f"{room}/{module}"
        for room, module in NAMED
        if not (SRC / room / (f"{module}.py" if module else "__init__.py")).is_file()
    ]
    assert NAMED
    assert not missing


def test_every_room_has_its_paragraph() -> None:
    for room in ROOMS:
        assert f"**`{room}/`:" in PAGE, room


def test_every_module_of_a_room_is_on_the_map() -> None:
    modules = {
        (p.parent.name, p.stem)
        for p in SRC.glob("*/*.py")
        if p.stem != "__init__" and p.parent.name in ROOMS
    }
    assert sorted(modules - NAMED) == []
