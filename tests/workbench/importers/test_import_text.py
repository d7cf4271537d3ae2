"""Plain text, Markdown and SPEAKER: transcripts (the Spacelog NASA logs), and a fuzz test."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import UnsupportedDocument
from workbench.importers import text
from workbench.importers.base import ParsedDocument

LOG = "transcripts/Spacelog__Spacelog"

A11_SPEAKERS = ["CC", "CDR", "CDR (EAGLE)", "CDR (EVA)", "CDR (TRANQ)", "CMP", "CMP (COLUMBIA)",
                "CMP/LMP", "CT", "HORNET", "LMP", "LMP (EAGLE)", "LMP (EVA)", "LMP (TRANQ)", "MS",
                "MSFN", "N", "PRESIDENT NIXON", "SC", "SWIM 1"]


def test_apollo_11_tec_is_a_long_timed_transcript(testdocs):
    data = (testdocs / LOG / "a11/TEC").read_bytes()
    started = time.perf_counter()
    doc = text.parse(data, "TEC")
    seconds = time.perf_counter() - started
    print(f"\nApollo 11 TEC ({len(data)} bytes) parsed in {seconds:.3f} s")
    assert seconds < 5
    assert doc.kind == "transcript" and doc.title == "TEC"
    # 8480 '[DD:HH:MM:SS]' stamps; two of them carry a second SPEAKER: line (8482 in all,
    # counted with grep -cE '^[A-Z][A-Za-z0-9 ()/-]*: ').
    assert doc.stats["cues"] == 8482 == len(doc.sections)
    assert doc.stats["speakers"] == A11_SPEAKERS
    first, last = doc.sections[0], doc.sections[-1]
    assert (first.anchor, first.start_s, first.speaker, first.text) == (
        "00:00:04", 4.0, "CDR", "Roger. Clock.")
    # 08:03:18:18 mission time = 8 days 3 h 18 min 18 s
    assert (last.start_s, last.speaker, last.text) == (703098.0, "SWIM 1", "Splashdown!")
    assert last.anchor == "195:18:18"
    assert doc.stats["duration_s"] == 703098.0 - 4.0
    step = next(s for s in doc.sections if s.text.startswith("That's one small step"))
    assert step.speaker == "CDR (TRANQ)" and step.anchor == "109:24:48"
    assert step.end_s == step.start_s  # the next utterance shares the stamp
    assert "_page" not in doc.text and "Tape 1/1" not in doc.text
    assert "[glossary:" not in doc.text and "S-IVB to COI capability" in doc.text
    assert "130 14 15" in doc.text  # [time:05:10:14:15|130 14 15] keeps its display text


def test_freedom_7_air_to_ground_and_pao(testdocs):
    atg = text.parse((testdocs / LOG / "mr3/ATG").read_bytes(), "ATG")
    assert atg.stats["cues"] == 115  # the last stamp (15:22) holds only a _note line
    assert atg.stats["speakers"] == ["CARDFILE", "CC", "ICC", "LCC", "P", "UNK"]
    assert atg.stats["duration_s"] == 917.0
    assert atg.sections[0].speaker == "LCC" and atg.sections[0].text == "Lift-off"
    pao = text.parse((testdocs / LOG / "mr3/PAO").read_bytes(), "PAO")
    assert pao.stats["cues"] == 66 and pao.stats["speakers"] == ["CV-39", "PAO"]
    assert (pao.sections[0].start_s, pao.sections[0].anchor) == (-4.0, "-00:00:04")
    assert pao.stats["duration_s"] == 1058.0  # -00:00:04 to 00:17:34


def test_sherlock_is_prose_in_paragraphs(testdocs):
    doc = text.parse((testdocs / "prose/jsvine__markovify/sherlock.txt").read_bytes(),
                     "sherlock.txt")
    assert doc.kind == "prose" and doc.format == "text"
    assert doc.stats["words"] == 107533  # the MANIFEST's count (wc -w)
    assert doc.sections[0].anchor == "¶ 1" and "Sherlock Holmes" in doc.sections[0].text
    assert "\r" not in doc.text and not doc.text.startswith("\ufeff")
    assert [s.anchor for s in doc.sections[:3]] == ["¶ 1", "¶ 2", "¶ 3"]


def test_untimed_interview_and_inline_stamps():
    interview = ("Interviewer: When did you start writing?\n\nJane Doe: In 1999, at night.\n\n"
                 "Interviewer: Why?\nIt was quiet.\n\nJane Doe: Exactly.\n")
    doc = text.parse(interview.encode(), "interview.txt")
    assert doc.kind == "transcript" and doc.stats["cues"] == 4
    assert doc.stats["speakers"] == ["Interviewer", "Jane Doe"]
    assert [s.anchor for s in doc.sections] == ["¶ 1", "¶ 2", "¶ 3", "¶ 4"]
    assert doc.sections[2].text == "Why? It was quiet."
    assert "duration_s" not in doc.stats
    timed = "[00:00:05] ANA: Hi.\n[00:01:10] BEN: Hello.\n[01:00:00] ANA: Bye.\n"
    doc = text.parse(timed.encode(), "call.txt")
    assert [(s.anchor, s.speaker, s.end_s) for s in doc.sections] == [
        ("00:00:05", "ANA", 70.0), ("00:01:10", "BEN", 3600.0), ("01:00:00", "ANA", 3600.0)]
    assert doc.stats["duration_s"] == 3595.0


def test_markdown_notes_keep_headings():
    md = "# Story bible\n\nThe town is small.\n\n## Mary\n\nMary is 40.\nShe lies.\n"
    doc = text.parse(md.encode(), "bible.md")
    assert doc.format == "markdown" and doc.kind == "notes" and doc.title == "Story bible"
    assert [(s.anchor, s.heading) for s in doc.sections] == [
        ("¶ 1", "Story bible"), ("¶ 2", "Story bible"), ("¶ 3", "Mary"), ("¶ 4", "Mary")]
    assert doc.stats == {"words": 14}


def test_blank_file_is_refused():
    with pytest.raises(UnsupportedDocument, match="empty"):
        text.parse(b"  \n\n", "blank.txt")


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.binary(max_size=2000),
                 st.lists(st.sampled_from(["[00:00:00:04]", "[-00:01:02]", "CDR: go", "_page : 3",
                                           "Jane: hi", "[glossary:X|y]", "# head", "", "text",
                                           "[99:99:99]", "\r"]), max_size=40)
                 .map(lambda x: "\n".join(x).encode())))
def test_fuzz_text_never_crashes(data):
    try:
        doc = text.parse(data, "fuzz.txt")
    except UnsupportedDocument:
        return
    assert isinstance(doc, ParsedDocument) and doc.kind in ("transcript", "notes", "prose")


# Mercury-Atlas 8 (Sigma Seven) style: Spacelog's text format as in the testdocs' a11/TEC and
# mr3/ATG ('[DD:HH:MM:SS]' line, 'SPEAKER: text', 5-space continuation lines, '_page :' /
# '_extra :' metadata), with the relay and station labels of a long Mercury log: CC_A1, CC_A2,
# CC_HAW, CC_?, ?, a spaced label (PATRON ONE), mixed case (Stony, FlagPlot), an '_extra' that
# itself holds 'Label:' text, two utterances under one stamp, and a stamp with no label.
SPACELOG_RELAYS = """\
[-00:00:00:05]
_extra : CNV-1/nCAPE CANAVERAL
_page : 10
Stony: 5, 4, 3

[00:00:00:02]
P: I have the lift-off. Clock has started.
     And she feels real nice.

[00:06:21:32]
_page : 143
_extra : CNV-5
Warfare: Auto One. Warfare. Do you read me?

[00:06:21:34]
CC_A1: Roger. Auto One. Reading Warfare loud and
     clear.

[00:06:21:58]
?: Mercury will pick it up.

[00:06:22:16]
CC_A2: Sigma Seven. Auto Two. Do you read?

[00:06:22:34]
_extra : Warfare: Relay aircraft communicator at Cape Canaveral./nCNV-5
P: I copy you loud and clear, Murph.

[00:07:45:10]
_extra : HAWAII
CC_HAW: Sigma Seven, Hawaii Cap Com. Standing by
     for your report.

[00:07:45:14]
P: Roger, Hawaii. All systems are go.

CC_HAW: Understand, all go.

[00:07:46:02]
CC_?: . . . say again?

[00:07:50:00]
(Static; no voice copied.)

[00:09:14:01]
_extra: FlagPlot is "Communicator on board the recovery vessel."
FlagPlot: Roger. Sigma Seven. Flag Plot. Are you stable
     and on the water?

[00:09:14:05]
PATRON ONE: Patron One has the capsule in sight.

[00:09:14:05]
_page : 211
P: Roger, Patron One.
"""


def test_spacelog_relay_and_station_labels_are_speakers():
    doc = text.parse(SPACELOG_RELAYS.encode(), "TEC")
    assert doc.kind == "transcript" and doc.stats["cues"] == 15 == len(doc.sections)
    assert [(s.speaker, s.anchor, s.start_s) for s in doc.sections] == [
        ("Stony", "-00:00:05", -5.0),
        ("P", "00:00:02", 2.0),
        ("Warfare", "06:21:32", 22892.0),
        ("CC_A1", "06:21:34", 22894.0),
        ("?", "06:21:58", 22918.0),
        ("CC_A2", "06:22:16", 22936.0),
        ("P", "06:22:34", 22954.0),
        ("CC_HAW", "07:45:10", 27910.0),
        ("P", "07:45:14", 27914.0),
        ("CC_HAW", "07:45:14 (2)", 27914.0),  # a second utterance under the same stamp
        ("CC_?", "07:46:02", 27962.0),
        (None, "07:50:00", 28200.0),  # no label: its own cue at its own stamp
        ("FlagPlot", "09:14:01", 33241.0),
        ("PATRON ONE", "09:14:05", 33245.0),
        ("P", "09:14:05 (2)", 33245.0)]
    assert doc.stats["speakers"] == ["?", "CC_?", "CC_A1", "CC_A2", "CC_HAW", "FlagPlot",
                                     "P", "PATRON ONE", "Stony", "Warfare"]
    texts = [s.text for s in doc.sections]
    assert texts[1] == "I have the lift-off. Clock has started. And she feels real nice."
    assert texts[3] == "Roger. Auto One. Reading Warfare loud and clear."
    assert texts[6] == "I copy you loud and clear, Murph."  # the _extra line is metadata
    assert texts[11] == "(Static; no voice copied.)"
    assert "_page" not in doc.text and "_extra" not in doc.text
    assert "Relay aircraft" not in doc.text
    assert [s.end_s for s in doc.sections[7:10]] == [27914.0, 27914.0, 27962.0]


def test_anchors_are_unique_in_every_real_transcript(testdocs):
    a11 = text.parse((testdocs / LOG / "a11/TEC").read_bytes(), "TEC")
    anchors = [s.anchor for s in a11.sections]
    assert len(set(anchors)) == len(anchors) == 8482
    # the two stamps that carry a second SPEAKER: line: the second utterance gets the suffix
    step = anchors.index("109:24:48")
    assert anchors[step + 1] == "109:24:48 (2)"
    assert a11.sections[step + 1].text.startswith("And the - the surface is fine and powdery")
    assert sorted(a for a in anchors if a.endswith(")") and "(" in a) == [
        "07:53:01 (2)", "109:24:48 (2)"]


@pytest.mark.parametrize("notes", [
    "Note: the second act drags.\n\nWhy?: nobody asked.\n\nTODO: call Anna.\n\n"
    "The town is small and wet; everyone knows the keeper.\n\nAnd then it rained.\n",
    "Chapter 1: The Keeper\n\nIt was late. The lamp was out.\n\nChapter 2: The Storm\n\n"
    "Rain. Wind. The ferry did not come.\n\nShe waited at the pier until dawn.\n",
])
def test_prose_with_colons_stays_prose(notes):
    doc = text.parse(notes.encode(), "notes.txt")
    assert doc.kind == "notes" and all(s.kind == "paragraph" for s in doc.sections)
