"""The library with the real importers on real files from ../shared/testdocs: what the importer
parsed is what the library stores, finds and exports."""
from __future__ import annotations

from workbench.importers import parse_file
from workbench.library import Library

SCRIPT = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
SUBTITLES = "transcripts/glut23__webvtt-py/sample.srt"


def test_real_screenplay_and_subtitles_round_trip(testdocs, library, tmp_path):
    library.create_project("Cyber Bob")
    stored = {}
    for rel, role in ((SCRIPT, "draft"), (SUBTITLES, "reference")):
        data = (testdocs / rel).read_bytes()
        name = rel.rsplit("/", 1)[1]
        parsed = parse_file(data, name)
        result = library.add_document("Cyber Bob", parsed, data, name, role=role)
        assert result.status == "created"
        doc = result.document
        assert library.original_bytes(doc.id) == data
        sections = library.sections(doc.id)
        assert [(s.anchor, s.text, s.start_s) for s in sections] == [
            (s.anchor, s.text, s.start_s) for s in parsed.sections]
        assert doc.stats == parsed.stats
        stored[name] = doc

    script = stored["Cyber_Bob_ep00001.fountain"]
    hits = library.search("Cyber Bob", "suburban intersection")
    assert [h.document_id for h in hits] == [script.id]
    hit_section = library.section_by_anchor(script.id, hits[0].anchor)
    assert hit_section.heading and "INTERSECTION" in hit_section.heading
    assert "«" in hits[0].snippet

    zip_path = library.export_project("Cyber Bob", tmp_path / "bob.zip")
    with Library.open(tmp_path / "restored") as other:
        other.import_project(zip_path)
        assert other.export_project("Cyber Bob", tmp_path / "bob2.zip").read_bytes() \
            == zip_path.read_bytes()
        assert [d.filename for d in other.documents("Cyber Bob")] == list(stored)
