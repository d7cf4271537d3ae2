"""Fountain importer against the real screenplays in testdocs, plus a fuzz test."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import UnsupportedDocument
from workbench.importers import fountain
from workbench.importers.base import ParsedDocument
from workbench.importers.scenes import normalise_character

SP = "screenplays"


def load(testdocs, rel: str) -> ParsedDocument:
    path = testdocs / SP / rel
    return fountain.parse(path.read_bytes(), path.name)


def test_cyber_bob_scenes_characters_and_title_page(testdocs):
    doc = load(testdocs, "earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain")
    assert doc.kind == "screenplay" and doc.format == "fountain"
    scenes = [s for s in doc.sections if s.kind == "scene"]
    assert [s.heading for s in scenes] == [
        "EXT. PARK--DAY", "EXT. SUBURBAN TRAFFIC INTERSECTION--DAY",
        "INT. TRAFFIC LIGHT HORIZONTAL BEAM--NIGHT"]
    assert [s.anchor for s in scenes] == ["Sc. 1", "Sc. 2", "Sc. 3"]
    assert doc.stats["scenes"] == 3
    assert doc.stats["characters"] == ["BOB", "BOSS", "CYBER BOB", "CYBER BOSS", "DOG",
                                       "MARGARET"]
    # 16 BOB + 1 BOSS + 2 CYBER BOB + 1 CYBER BOSS + 11 DOG + 4 MARGARET cues, counted by hand
    assert doc.stats["dialogue_blocks"] == 35
    page = doc.metadata["title_page"]
    assert page["Title"] == ("BOB THE CYBER PAWN AND HIS CYBER CLOUD BOSS THING\n"
                             "EPISODE 1: TRAFFIC CONTROL DOGS")
    assert page["Copyright"] == "Dedicated to the Public Domain."
    assert doc.title.startswith("BOB THE CYBER PAWN")
    # notes and boneyard never reach the text
    assert "archival web URL" not in doc.text and "Draft date" not in doc.text
    assert "pasted.co" not in doc.text
    assert "Hi hello." in doc.text


def test_cat_and_mice_boneyard_and_quoted_title(testdocs):
    doc = load(testdocs, "earthbound19___ebScreenplays/As_I_Am_a_Cat_I_Eat_Mice.fountain")
    assert doc.stats["scenes"] == 2
    assert doc.stats["characters"] == ["FALGE", "YARGO"]
    assert doc.stats["dialogue_blocks"] == 3
    assert doc.title == "YARGO & FALB MAISWITH"
    assert doc.metadata["title_page"]["Author"] == "Richard Alexander Hall"
    assert "Comment of original source URL" not in doc.text
    scene2 = [s for s in doc.sections if s.kind == "scene"][1]
    assert scene2.heading == "INT. FALGE'S HOUSE--DAY"
    assert scene2.meta["characters"] == ["FALGE"]
    assert "Ah! MAISWITH!" in scene2.text


def test_written_scene_numbers_win_over_sequence(testdocs):
    doc = load(testdocs, "vilcans__screenplain/scene-numbers.fountain")
    scenes = [s for s in doc.sections if s.kind == "scene"]
    assert [s.number for s in scenes] == ["1", "2", "3", "4", "2-B"]
    assert [s.anchor for s in scenes] == ["Sc. 1", "Sc. 2", "Sc. 3", "Sc. 4", "Sc. 2-B"]
    assert scenes[4].heading == "INT. A FIFTH PLACE - DAY"  # the #2-B# is not in the heading


def test_fdx_twin_numbers_and_extensions(testdocs):
    doc = load(testdocs, "wildwinter__fountain-tools/TestFDX-FD.fountain")
    scenes = [s for s in doc.sections if s.kind == "scene"]
    assert [(s.anchor, s.heading) for s in scenes] == [
        ("Sc. 1", "INT. RADIO STUDIO"), ("Sc. 2", "EXT. OUTSIDE THE FOOD STORE")]
    assert doc.stats["characters"] == ["DAVE", "DJ", "JIM", "KAY"]  # 'JIM (O.S.)' normalised
    assert scenes[0].meta["characters"] == ["DAVE", "DJ", "JIM"]
    assert "JIM (O.S.)" in doc.text and "(bored)" in doc.text and "CUT TO:" in doc.text


def test_dual_dialogue_caret_is_not_part_of_the_name(testdocs):
    doc = load(testdocs, "vilcans__screenplain/dual-dialogue.fountain")
    assert doc.stats["characters"] == ["GIRL", "GUY"]
    assert doc.stats["scenes"] == 0
    assert "^" not in doc.text


def test_notes_excluded_and_bom_ignored(testdocs):
    notes = load(testdocs, "vilcans__screenplain/notes.fountain")
    assert "some notes" not in notes.text and "[[" not in notes.text.split("This is not")[0]
    assert "Before1" in notes.text and "After1" in notes.text
    bom = load(testdocs, "vilcans__screenplain/utf-8-bom.fountain")
    plain = load(testdocs, "vilcans__screenplain/simple.fountain")
    assert bom.stats == plain.stats and not bom.text.startswith("\ufeff")


def test_title_page_only_and_sections_outline(testdocs):
    doc = load(testdocs, "vilcans__screenplain/title-page.fountain")
    assert doc.metadata["title_page"] == {
        "Title": "My Screenplay", "Author": "Your Name",
        "Contact": "your.email@example.com\n(555) 123-4567"}
    assert doc.stats["scenes"] == 0  # 'FADE IN:' is a transition, not a scene
    outline = load(testdocs, "vilcans__screenplain/sections.fountain")
    assert outline.stats["scenes"] == 2
    assert "First level" in outline.metadata["outline"]
    assert "Synopsis" not in outline.text


def test_forced_and_numbered_headings_and_extensions():
    src = ("Title: Test\n\n.FLASHBACK #7A#\n\nSomething happens.\n\n"
           "EST. CITY - NIGHT\n\nMARY (V.O.) (CONT'D)\nHello.\n\n@McCLANE ^\n(beat)\nYippee.\n\n"
           "CUT TO:\n\nI/E CAR - DAY\n\nMARY (CONT'D)\nAgain.\n")
    doc = fountain.parse(src.encode(), "t.fountain")
    scenes = [s for s in doc.sections if s.kind == "scene"]
    assert [(s.anchor, s.heading) for s in scenes] == [
        ("Sc. 7A", "FLASHBACK"), ("Sc. 2", "EST. CITY - NIGHT"), ("Sc. 3", "I/E CAR - DAY")]
    assert doc.stats["characters"] == ["MARY", "McCLANE"]
    assert doc.stats["dialogue_blocks"] == 3
    assert normalise_character("MARY (V.O.) (CONT'D) ^") == "MARY"


def test_sniff_by_content_not_only_extension(testdocs):
    data = (testdocs / SP / "vilcans__screenplain/simple.fountain").read_bytes()
    assert fountain.sniff(data, "draft.txt")
    prose = (testdocs / "prose/jsvine__markovify/sherlock.txt").read_bytes()
    assert not fountain.sniff(prose, "sherlock.txt")


def test_junk_named_fountain_is_refused():
    junk = bytes(range(256)) * 8
    try:
        fountain.parse(junk, "evil.fountain")
    except UnsupportedDocument as exc:
        assert "binary" in str(exc)
    else:
        raise AssertionError("binary junk was imported as a screenplay")


TOKENS = ["INT. HOUSE - DAY", "EXT. ", ".FORCED", "#12#", "MARY", "MARY (V.O.)", "@bob", "^",
          "(beat)", "Hello.", "CUT TO:", "> THE END <", "[[", "]]", "/*", "*/", "Title:",
          "\t", "~", "=", "#", "===", "!", "**x**", "", "\n", "\n\n", "\r\n", " "]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=2000),
                 st.lists(st.sampled_from(TOKENS), max_size=60).map(lambda t: "\n".join(t)
                                                                     .encode())))
def test_fuzz_fountain_never_crashes(data):
    try:
        doc = fountain.parse(data, "fuzz.fountain")
    except UnsupportedDocument:
        return
    assert isinstance(doc, ParsedDocument) and doc.kind == "screenplay"


@pytest.mark.parametrize("data", [b"Title:", b"Title: Lighthouse\nAuthor: Anna\n"])
def test_title_page_without_a_script_is_refused(data):
    """Found by the Workbench fuzz run: it was stored with no sections at all."""
    with pytest.raises(UnsupportedDocument, match="title page but no screenplay text"):
        fountain.parse(data, "t.fountain")
