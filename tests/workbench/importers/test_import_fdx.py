"""Final Draft importer against real FDX files, hostile XML, and a fuzz test."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import UnsupportedDocument
from workbench.importers import fdx
from workbench.importers.base import ParsedDocument

SP = "screenplays"


def load(testdocs, rel: str) -> ParsedDocument:
    path = testdocs / SP / rel
    return fdx.parse(path.read_bytes(), path.name)


def test_final_draft_export_scene_numbers_and_title_page(testdocs):
    doc = load(testdocs, "wildwinter__fountain-tools/TestFDX-FD.fdx")
    assert doc.kind == "screenplay" and doc.format == "fdx"
    scenes = [s for s in doc.sections if s.kind == "scene"]
    assert [(s.anchor, s.number, s.heading) for s in scenes] == [
        ("Sc. 1", "1", "INT. RADIO STUDIO"), ("Sc. 2", "2", "EXT. OUTSIDE THE FOOD STORE")]
    assert doc.stats["scenes"] == 2
    assert doc.stats["characters"] == ["DAVE", "DJ", "JIM", "KAY"]
    assert doc.stats["dialogue_blocks"] == 4
    assert doc.title == "FDX Test Script"
    assert doc.metadata["title_page"][:3] == ["FDX Test Script", "Written by", "Ian"]
    # SceneProperties / CharacterArcBeat names are metadata, not text
    assert doc.text.count("DAVE") == 1
    assert "(bored)" in doc.text and "CUT TO:" in doc.text


def test_same_structure_as_the_fountain_twin(testdocs):
    from workbench.importers import fountain

    twin = fountain.parse((testdocs / SP / "wildwinter__fountain-tools/TestFDX-FD.fountain")
                          .read_bytes(), "TestFDX-FD.fountain")
    doc = load(testdocs, "wildwinter__fountain-tools/TestFDX-FD.fdx")
    assert doc.stats == twin.stats
    assert [s.anchor for s in doc.sections] == [s.anchor for s in twin.sections]


def test_dual_dialogue_and_unicode(testdocs):
    dual = load(testdocs, "vilcans__screenplain/dual-dialogue.fdx")
    assert dual.stats["characters"] == ["GIRL", "GUY"]
    assert dual.stats["dialogue_blocks"] == 2 and "Hello!" in dual.text
    ext = load(testdocs, "vilcans__screenplain/extended-characters.fdx")
    for word in ("こんにちは", "привет", "你好", "안녕하세요", "أهلا"):
        assert word in ext.text


def test_simple_fdx(testdocs):
    doc = load(testdocs, "vilcans__screenplain/simple.fdx")
    assert doc.stats["scenes"] == 1 and doc.stats["characters"] == ["GURL", "GUY"]
    assert doc.stats["dialogue_blocks"] == 3
    assert "Sunnier than normal." in doc.text


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&lol9;</Text></Paragraph></Content>
</FinalDraft>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<FinalDraft><Content><Paragraph Type="Action"><Text>&xxe;</Text></Paragraph></Content>
</FinalDraft>"""


@pytest.mark.parametrize("data", [BOMB, EXTERNAL], ids=["entity-bomb", "external-entity"])
def test_hostile_xml_is_refused(data):
    with pytest.raises(UnsupportedDocument, match="entity bomb"):
        fdx.parse(data, "evil.fdx")


def test_truncated_and_foreign_xml(testdocs):
    real = (testdocs / SP / "wildwinter__fountain-tools/TestFDX-FD.fdx").read_bytes()
    with pytest.raises(UnsupportedDocument, match="damaged or incomplete"):
        fdx.parse(real[: len(real) // 2], "cut.fdx")
    with pytest.raises(UnsupportedDocument, match="not a Final Draft screenplay"):
        fdx.parse(b"<html><body>hi</body></html>", "page.fdx")
    with pytest.raises(UnsupportedDocument, match="no screenplay text"):
        fdx.parse(b"<FinalDraft><Content/></FinalDraft>", "blank.fdx")


def test_sniff():
    assert fdx.sniff(b'<?xml version="1.0"?>\n<FinalDraft Version="5">', "script.xml")
    assert not fdx.sniff(b"INT. HOUSE - DAY", "script.fdx")


PIECES = ["<FinalDraft>", "</FinalDraft>", "<Content>", "</Content>", '<Paragraph Type="',
          "Scene Heading", "Character", "Dialogue", '">', "</Paragraph>", "<Text>", "</Text>",
          "<DualDialogue>", "</DualDialogue>", ' Number="3"', "MARY", "&amp;", "&x;", "<!--",
          "<!DOCTYPE a>", "<?xml version='1.0'?>", "\x00", "é"]


@settings(max_examples=80, deadline=None)
@given(st.one_of(st.binary(max_size=1500),
                 st.lists(st.sampled_from(PIECES), max_size=40).map(lambda p: "".join(p)
                                                                    .encode())))
def test_fuzz_fdx_never_crashes(data):
    try:
        doc = fdx.parse(data, "fuzz.fdx")
    except UnsupportedDocument:
        return
    assert isinstance(doc, ParsedDocument)


@pytest.mark.parametrize("declared", [b"TTF-8", b"x-no-such-codec", b"UTF-8\x00"])
def test_unknown_xml_encoding_is_refused(testdocs, declared):
    """Found by the Workbench fuzz run: one flipped byte in the declaration was a LookupError."""
    data = (testdocs / SP / "vilcans__screenplain/simple.fdx").read_bytes()
    data = data.replace(b'encoding="UTF-8"', b'encoding="' + declared + b'"', 1)
    with pytest.raises(UnsupportedDocument, match="damaged"):
        fdx.parse(data, "simple.fdx")
