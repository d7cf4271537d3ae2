"""Real documents the synthesis tests use (paths under ../shared/testdocs) and a slice helper.

A module of its own, not conftest.py: test files import these names, and `from conftest import`
resolves to whichever conftest was imported first.
"""
from __future__ import annotations

from pathlib import Path

CYBER_BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
MR3_ATG = "transcripts/Spacelog__Spacelog/mr3/ATG"
A11_TEC = "transcripts/Spacelog__Spacelog/a11/TEC"
SLICE_BYTES = 82_000  # about 30K tokens of the Apollo 11 log


def a11_slice(testdocs: Path, out: Path, max_bytes: int) -> Path:
    """The start of the Apollo 11 log, cut at an utterance boundary, as its own file."""
    text = (testdocs / A11_TEC).read_text(encoding="utf-8")
    cut = text.rfind("\n\n", 0, max_bytes)
    out.write_text(text[:cut + 1], encoding="utf-8")
    return out
