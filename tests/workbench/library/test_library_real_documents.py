"""The library with the real importers on real files from ../shared/testdocs: what the importer
parsed is what the library stores, finds and exports."""
from __future__ import annotations

from workbench.config import Settings
from workbench.importers import parse_file
from workbench.workbench import Workbench

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
    restored = Workbench(Settings(data_dir=tmp_path / "restored",
                                  cache_dir=Settings().cache_dir))
    with restored.library as other:
        restored.import_project(zip_path)  # re-derived by the importers, tokens counted
        assert [d.filename for d in other.documents("Cyber Bob")] == list(stored)
        for doc, before in zip(other.documents("Cyber Bob"), stored.values()):
            assert (doc.sha256, doc.stats, doc.role) == (before.sha256, before.stats,
                                                          before.role)
            assert [(s.anchor, s.text) for s in other.sections(doc.id)] == [
                (s.anchor, s.text) for s in library.sections(before.id)]
            assert doc.tokens > 0
        again = other.export_project("Cyber Bob", tmp_path / "bob2.zip")
        restored_twice = Workbench(Settings(data_dir=tmp_path / "twice",
                                            cache_dir=Settings().cache_dir))
        restored_twice.import_project(again)
        assert restored_twice.export("Cyber Bob", tmp_path / "bob3.zip").read_bytes() \
            == again.read_bytes()
        restored_twice.library.close()
