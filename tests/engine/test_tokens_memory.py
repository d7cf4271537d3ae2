"""Long texts are counted in pieces (engine/tokens.py) and the pieces add up to the whole.

The check is the plain whole-text encode of the embedded tokenizer against the chunked count, on
real documents (NASA transcripts, a novel, screenplays), with pieces far smaller than the
default so that every document is cut hundreds of times.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from embedded_cache import shared_cache_dir
from engine.tokens import CHUNK_CHARS, TokenCounter, split_for_counting
from workbench.importers import parse_file

DOCS = ("transcripts/Spacelog__Spacelog/a11/TEC", "transcripts/Spacelog__Spacelog/mr3/ATG",
        "transcripts/Spacelog__Spacelog/mr3/PAO", "prose/jsvine__markovify/sherlock.txt",
        "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain")


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter.for_embedded(shared_cache_dir())


def whole(counter: TokenCounter, text: str) -> int:
    return len(counter.encode(text))


@pytest.mark.parametrize("name", DOCS)
def test_pieces_add_up_to_the_whole_count_on_real_documents(counter, testdocs, name):
    data = (testdocs / name).read_bytes()
    raw = data.decode("utf-8", errors="replace")
    parsed = parse_file(data, Path(name).name).text  # what an import counts
    for text in (raw, parsed):
        pieces = list(split_for_counting(text, 1500))
        assert "".join(pieces) == text and all(len(p) <= 1500 for p in pieces)
        assert len(pieces) > len(text) // 1500
        assert sum(counter.count(p) for p in pieces) == whole(counter, text)


def test_count_of_a_long_text_uses_pieces_and_equals_the_whole(counter, testdocs):
    text = (testdocs / DOCS[0]).read_text(encoding="utf-8")
    assert len(text) > 4 * CHUNK_CHARS  # so count() takes the chunked path
    assert counter.count(text) == whole(counter, text)


def test_text_without_clean_cut_points_is_still_cut_and_close(counter):
    text = "".join(f"{i % 10}" for i in range(5000)) + "漢字かな交じり文" * 600
    pieces = list(split_for_counting(text, 1000))
    assert "".join(pieces) == text and all(len(p) <= 1000 for p in pieces)
    chunked = sum(counter.count(p) for p in pieces)
    assert abs(chunked - whole(counter, text)) <= len(pieces)  # about one token per forced cut
