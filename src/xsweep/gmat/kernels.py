r"""Lean copies of GMAT's text SPICE kernels: the same kernel pool, read faster.

Every GMAT run builds a fresh solar system, which furnishes the planetary
constants kernel and the Moon's frame kernel, and tears it down again, which
unloads them. CSPICE reads a text kernel one character at a time, and unloading
one text kernel makes it re-read every other text kernel still loaded. For a
short mission that is about half of GMAT's time per run, spent mostly reading
comments. A lean copy keeps each data assignment's tokens verbatim, in order,
with the commentary between ``\begintext`` and ``\begindata`` dropped and runs
of blanks outside quoted strings squeezed to one, so the kernel pool CSPICE
builds from it is the same variable for variable, value for value (proved in
``tests/test_kernels.py`` with SpiceyPy and by runs compared byte for byte).

Set ``XSWEEP_STOCK_KERNELS=1`` to give GMAT its own files instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ENV_FLAG = "XSWEEP_STOCK_KERNELS"
# The startup-file entries of the text kernels GMAT furnishes in every run. The
# leap-second kernel is not here: GMAT takes it from the startup file only
# (SolarSystem.LSKFilename is refused), and it is 5 kB.
TEXT_KERNEL_KEYS = ("PLANETARY_PCK_FILE", "LUNA_FRAME_KERNEL_FILE")
_BLANKS = re.compile(r"\s+")


def enabled() -> bool:
    """Whether lean kernels are on: unless ``XSWEEP_STOCK_KERNELS`` is set to ``1``."""
    return os.environ.get(ENV_FLAG, "").strip().lower() not in {"1", "true", "yes", "on"}


def _squeeze(line: str) -> str:
    """Squeeze blanks outside single-quoted strings (``''`` inside one is a quote)."""
    parts = line.split("'")
    # Even-indexed parts lie outside quotes; a doubled quote opens and closes an
    # empty stretch, which keeps the parity right.
    for i in range(0, len(parts), 2):
        parts[i] = _BLANKS.sub(" ", parts[i])
    return "'".join(parts).strip()


def lean_text(text: str) -> str:
    r"""Return the data of a SPICE text kernel without its commentary.

    The first line (the ``KPL/...`` architecture word) is kept, then one
    ``\begindata`` and every data line in order, blanks outside quoted strings
    squeezed, blank lines dropped.

    Examples
    --------
    >>> text = "KPL/PCK\nnotes\n\\begindata\n  A = ( 1   2 )\n  S = ( 'a  b' )\n"
    >>> print(lean_text(text + "\\begintext\nmore notes\n"), end="")
    KPL/PCK
    \begindata
    A = ( 1 2 )
    S = ( 'a  b' )
    """
    lines = text.splitlines()
    if not lines:
        return text
    out = [lines[0].rstrip(), "\\begindata"]
    in_data = False
    for line in lines[1:]:
        marker = line.strip()
        if marker == "\\begindata":
            in_data = True
        elif marker == "\\begintext":
            in_data = False
        elif in_data and marker:
            out.append(_squeeze(line))
    return "\n".join(out) + "\n"


def make_lean(originals: Iterable[str], directory: Path) -> dict[str, str]:
    """Write a lean copy of each readable text kernel; map original path to copy."""
    directory.mkdir(parents=True, exist_ok=True)
    lean: dict[str, str] = {}
    for i, original in enumerate(dict.fromkeys(originals)):
        src = Path(original)
        try:
            text = src.read_text(encoding="latin-1")
        except OSError:
            continue  # GMAT reports a missing kernel itself, with its own words
        if not text.startswith("KPL/"):
            continue
        dst = directory / f"{i}-{src.name}"
        dst.write_text(lean_text(text), encoding="latin-1")
        lean[original] = str(dst)
    return lean


def default_text_kernels(gmat: Any) -> list[str]:
    """Full paths of the text kernels the startup file configures."""
    manager = gmat.FileManager.Instance()
    paths = []
    for key in TEXT_KERNEL_KEYS:
        try:
            paths.append(str(manager.GetFullPathname(key)))
        except Exception:  # a desktop install without that entry
            continue
    return paths


def use_lean(gmat: Any, lean: Mapping[str, str]) -> None:
    """Point the loaded script's solar system at the lean copies.

    Only fields still naming one of the originals change: a kernel the script
    chose itself is left alone.
    """
    if not lean:
        return
    solar = gmat.Moderator.Instance().GetSolarSystemInUse()
    if solar is None:
        return
    pck = str(solar.GetStringParameter("PCKFilename"))
    if pck in lean:
        solar.SetStringParameter("PCKFilename", lean[pck])
    for name in solar.GetBodiesInUse():
        body = solar.GetBody(name)
        field = body.GetParameterID("FrameSpiceKernelName")
        for index, path in enumerate(body.GetStringArrayParameter(field)):
            if str(path) in lean:
                body.SetStringParameter(field, lean[str(path)], index)
