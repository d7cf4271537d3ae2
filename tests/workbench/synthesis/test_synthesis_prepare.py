"""Deterministic preparation before the call: drafts aligned scene by scene, pacing metrics
from real timecodes."""
from __future__ import annotations

from synthesis_docs import CYBER_BOB, MR3_ATG

from workbench.synthesis import pacing_metrics
from workbench.synthesis.alignment import aligned_block
from workbench.synthesis.runner import SynthesisRequest, load_sources
from workbench.synthesis.templates import get_template


def test_two_drafts_are_aligned_scene_by_scene(wb, testdocs, tmp_path):
    original = (testdocs / CYBER_BOB).read_text(encoding="utf-8")
    draft = tmp_path / "Cyber_Bob_ep00001.fountain"
    draft.write_text(original, encoding="utf-8")
    (first,) = wb.import_files("p", [draft])
    scenes = [s for s in wb.sections(first.document.id) if s.kind == "scene"]
    cut = scenes[1]  # scene 2 is cut from draft 2
    start = original.index(cut.heading)
    end = original.index(scenes[2].heading)
    second = (original[:start] + original[end:]).replace("Hi hello.", "Good morning, Margaret.")
    second += "\n\nINT. BOB'S KITCHEN - NIGHT\n\nBob feeds the cyber dog a battery.\n"
    draft.write_text(second, encoding="utf-8")
    (new,) = wb.import_files("p", [draft])
    assert new.status == "new_version" and new.document.version == 2

    sources = load_sources(wb.library, SynthesisRequest("p", "compare_drafts",
                                                        document_ids=(first.document.id,)),
                           get_template("compare_drafts"))
    assert [s.label for s in sources] == ["v1", "v2"]
    text = aligned_block(sources).text
    assert text.startswith('<aligned-drafts versions="v1, v2" newest="v2">')
    assert "-- v1 [Sc. 1]: changed" in text
    assert "-  Hi hello." in text or "-Hi hello." in text
    assert "+Good morning, Margaret." in text
    assert f"cut, only in v1 ==\n[{cut.anchor}] {cut.heading}" in text
    assert "-- v1: absent (scene added after v1)" in text
    assert text.index("cut, only in v1") < text.index("INT. TRAFFIC LIGHT")
    assert "-- v1 [Sc. 3]: unchanged" in text


def test_pacing_metrics_from_real_timecodes(wb, testdocs):
    (res,) = wb.import_files("p", [testdocs / MR3_ATG])
    sections = wb.sections(res.document.id)
    m = pacing_metrics.compute(sections)
    words = sum(len(s.text.split()) for s in sections if s.start_s is not None)
    assert m.words == words
    assert sum(v["words"] for v in m.speakers.values()) == words
    assert {"P", "CC"} <= set(m.speakers)
    assert 14 * 60 <= m.duration_s <= 16 * 60
    assert m.wpm == words / (m.duration_s / 60)
    anchors = {s.anchor for s in sections}
    assert all(a in anchors for a, _ in m.gaps) and m.gaps == sorted(m.gaps, key=lambda g: -g[1])
    assert len(m.windows) == pacing_metrics.WINDOWS
    facts = m.facts()
    assert f"{m.words} words" in facts and "Speaker P:" in facts
    assert pacing_metrics.compute(list(reversed(sections))).facts() == facts
