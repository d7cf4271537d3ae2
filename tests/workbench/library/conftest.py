"""Fixtures for library tests: an opened Library on a real SQLite file and on a real PostgreSQL
server (`library` runs each test on both) and hand-built documents (the library must not
depend on the importers to be tested)."""
from __future__ import annotations

from pathlib import Path

import pytest

from workbench.importers.base import ParsedDocument, Section, scene_anchor, time_anchor
from workbench.library import Library


def screenplay(title: str, scenes: list[tuple[str, str]]) -> ParsedDocument:
    """A screenplay whose scenes are (heading, body) pairs, numbered from 1."""
    sections = [Section(kind="scene", anchor=scene_anchor(i + 1), ordinal=i,
                        text=f"{heading}\n\n{body}", heading=heading, number=str(i + 1),
                        meta={"characters": sorted({w for w in body.split() if w.isupper()})})
                for i, (heading, body) in enumerate(scenes)]
    text = "\n\n".join(s.text for s in sections)
    return ParsedDocument(title=title, kind="screenplay", format="fountain", text=text,
                          sections=sections,
                          stats={"scenes": len(sections), "words": len(text.split())},
                          metadata={"title_page": {"Title": title}})


def transcript(title: str, cues: list[tuple[float, float, str, str]]) -> ParsedDocument:
    sections = [Section(kind="cue", anchor=time_anchor(start), ordinal=i, text=said,
                        start_s=start, end_s=end, speaker=who)
                for i, (start, end, who, said) in enumerate(cues)]
    return ParsedDocument(title=title, kind="transcript", format="srt",
                          text="\n".join(c[3] for c in cues), sections=sections,
                          stats={"cues": len(cues), "duration_s": cues[-1][1] if cues else 0.0,
                                 "speakers": sorted({c[2] for c in cues})})


@pytest.fixture
def library(data_dir: Path, database_url: str | None):
    lib = Library.open(data_dir, database_url)
    yield lib
    lib.close()


@pytest.fixture
def kitchen() -> ParsedDocument:
    return screenplay("Kitchen Sink", [
        ("INT. KITCHEN - NIGHT", "MARA opens the fridge. The light hums like a ghost."),
        ("EXT. GARDEN - DAY", "JONAH digs for the buried café key under the lemon tree."),
        ("INT. ATTIC - NIGHT", "MARA finds the letters. Dust everywhere."),
    ])


@pytest.fixture
def make_screenplay():
    return screenplay


@pytest.fixture
def make_transcript():
    return transcript
