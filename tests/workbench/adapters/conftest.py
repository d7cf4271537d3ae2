"""Fixtures for adapter tests: a project whose `style` document is a few thousand words of
The Adventures of Sherlock Holmes (public domain, ../shared/testdocs), and the settings of a
CPU-sized training run (small rank, short examples, top layers only, few steps)."""
from __future__ import annotations

from pathlib import Path

import pytest

SHERLOCK = "prose/jsvine__markovify/sherlock.txt"
OPENING = "To Sherlock Holmes she is always"


def sherlock_words(testdocs: Path, words: int) -> str:
    """Whole paragraphs from the first story until `words` words (Gutenberg header skipped)."""
    raw = (testdocs / SHERLOCK).read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    body = raw[raw.index(OPENING):]
    out, count = [], 0
    for para in body.split("\n\n"):
        out.append(para)
        count += len(para.split())
        if count >= words:
            break
    return "\n\n".join(out)


@pytest.fixture(scope="session")
def sherlock(testdocs: Path):
    """`sherlock(words)` -> that many words of whole paragraphs from the first story."""
    return lambda words: sherlock_words(testdocs, words)


@pytest.fixture
def style_project(data_dir: Path, testdocs: Path):
    """(Workbench, project name) with ~3,000 words of Sherlock imported as role `style`."""
    from workbench.config import Settings
    from workbench.workbench import Workbench

    wb = Workbench(Settings(data_dir=data_dir))
    wb.new_project("baker-street")
    wb.import_files("baker-street", [("scandal.txt", sherlock_words(testdocs, 3000).encode())],
                    role="style")
    yield wb, "baker-street"
    wb.library.close()
