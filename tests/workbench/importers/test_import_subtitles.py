"""SRT/WebVTT importer against webvtt-py's and mantas-done's real fixtures, and a fuzz test."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import UnsupportedDocument
from workbench.importers import subtitles
from workbench.importers.base import ParsedDocument

TR = "transcripts"


def load(testdocs, rel: str) -> ParsedDocument:
    path = testdocs / TR / rel
    return subtitles.parse(path.read_bytes(), path.name)


@pytest.mark.parametrize("rel, fmt, cues, first, last_end", [
    ("glut23__webvtt-py/sample.vtt", "vtt", 16, 0.5, 64.3),
    ("glut23__webvtt-py/sample.srt", "srt", 5, 0.5, 23.88),
    ("glut23__webvtt-py/captions_with_bom.vtt", "vtt", 4, 0.5, 21.58),
    ("glut23__webvtt-py/comments.vtt", "vtt", 3, 135.0, 150.0),
    ("glut23__webvtt-py/metadata_headers_multiline.vtt", "vtt", 2, 0.5, 11.89),
    ("glut23__webvtt-py/using_identifiers.vtt", "vtt", 6, 0.5, 27.28),
    ("mantas-done__subtitles/vtt_with_styles.vtt", "vtt", 1, 0.0, 10.0),
])
def test_cue_counts_and_times(testdocs, rel, fmt, cues, first, last_end):
    doc = load(testdocs, rel)
    assert doc.kind == "transcript" and doc.format == fmt
    assert doc.stats["cues"] == cues == len(doc.sections)
    assert doc.sections[0].start_s == first
    assert doc.sections[-1].end_s == last_end
    assert doc.stats["duration_s"] == round(last_end - first, 3)
    assert all(s.kind == "cue" for s in doc.sections)


def test_sample_vtt_text_and_anchors(testdocs):
    doc = load(testdocs, "glut23__webvtt-py/sample.vtt")
    assert [s.text for s in doc.sections[:2]] == ["Caption text #1", "Caption text #2"]
    assert [s.anchor for s in doc.sections[:3]] == ["00:00:00", "00:00:07", "00:00:11"]
    assert doc.sections[-1].text == "Caption text #16"
    assert doc.stats["speakers"] == []


def test_notes_styles_and_bom_are_not_cues(testdocs):
    comments = load(testdocs, "glut23__webvtt-py/comments.vtt")
    assert "translation was done by Kyle" not in comments.text
    assert "This last line may not translate well" not in comments.text
    assert comments.sections[0].text == "- Ta en kopp varmt te.\n- Det är inte varmt."
    styled = load(testdocs, "mantas-done__subtitles/vtt_with_styles.vtt")
    assert styled.text == "Hello world." and styled.sections[0].meta == {"id": "hello"}
    bom = load(testdocs, "glut23__webvtt-py/captions_with_bom.vtt")
    assert bom.sections[0].text == "Caption text #1"


def test_tolerated_mistakes(testdocs):
    # webvtt-py rejects both; a writer's file should still import.
    missing_header = load(testdocs, "glut23__webvtt-py/invalid.vtt")
    assert missing_header.stats["cues"] == 7 and missing_header.format == "vtt"
    assert missing_header.sections[-1].end_s == 30.28
    mixed = load(testdocs, "glut23__webvtt-py/invalid_timeframe.srt")
    assert mixed.stats["cues"] == 5
    assert (mixed.sections[1].start_s, mixed.sections[1].end_s) == (7.0, 11.89)
    # A block with no timing line is not a cue (WebVTT spec); it is counted, not invented.
    missing = load(testdocs, "glut23__webvtt-py/missing_timeframe.vtt")
    assert missing.stats["cues"] == 6 and missing.metadata["skipped_blocks"] == 1
    assert "Caption text #2" not in missing.text


def test_speakers_from_voice_spans_and_names_crlf():
    vtt = ("WEBVTT\r\n\r\n00:01.000 --> 00:04.000\r\n<v.loud Mary Jane>Hello &amp; "
           "<b>welcome</b></v>\r\n\r\n00:00:05.000 --> 00:00:09,500\r\nBOB: Thanks.\r\n")
    doc = subtitles.parse(vtt.encode(), "talk.vtt")
    assert [(s.speaker, s.text) for s in doc.sections] == [("Mary Jane", "Hello & welcome"),
                                                          ("BOB", "Thanks.")]
    assert doc.stats["speakers"] == ["BOB", "Mary Jane"]
    assert doc.stats["duration_s"] == 8.5
    assert doc.text == "Mary Jane: Hello & welcome\nBOB: Thanks."


def test_no_cues_is_an_error():
    with pytest.raises(UnsupportedDocument, match="No subtitle cues"):
        subtitles.parse(b"WEBVTT\n\nNOTE nothing here\n", "empty.vtt")


def test_seconds():
    assert subtitles.seconds("01:02:03,500") == 3723.5
    assert subtitles.seconds("02:03.5") == 123.5
    assert subtitles.seconds("00:00:07") == 7.0


LINES = ["WEBVTT", "NOTE", "STYLE", "1", "00:00:01,000 --> 00:00:02.500", "00:01.000 --> 00:02.000",
         "99:99:99,999 --> 00:00:00,000", "-->", "<v Bob>", "BOB: hi", "&amp;", "\ufeff", "",
         "text", "\r"]


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.binary(max_size=1500),
                 st.lists(st.sampled_from(LINES), max_size=50).map(lambda x: "\n".join(x)
                                                                   .encode())))
def test_fuzz_subtitles_never_crash(data):
    try:
        doc = subtitles.parse(data, "fuzz.srt")
    except UnsupportedDocument:
        return
    assert isinstance(doc, ParsedDocument) and doc.stats["cues"] == len(doc.sections)
