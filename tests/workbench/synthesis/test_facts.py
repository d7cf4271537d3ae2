"""Computed facts per template on real documents: known counts of a real screenplay, a NASA
transcript and the SPECTER paper, a v1/v2 draft pair built by editing the real screenplay, and
every anchor in the facts verified by the citation checker."""
from __future__ import annotations

from types import SimpleNamespace

from synthesis_docs import CYBER_BOB, MR3_ATG

from workbench.synthesis import citations as cite
from workbench.synthesis.facts import HEADING, Facts, answer_part, facts_for, prepend
from workbench.synthesis.runner import SynthesisRequest, load_sources
from workbench.synthesis.templates import get_template
from workbench.ui import facts_views
from workbench.ui.facts_views import model_answer

SPECTER = "pdfs/allenai__s2orc-doc2json/2020.acl-main.207.pdf"


def _sources(wb, task, doc_id):
    return load_sources(wb.library, SynthesisRequest("p", task, document_ids=(doc_id,)),
                        get_template(task))


def _all_verified(facts: Facts, sources) -> int:
    sections = {}
    for s in sources:
        sections.setdefault(s.document_id, []).extend(s.sections)
    found = cite.check(facts.to_markdown(), sections)
    assert [c for c in found if not c.verified] == []
    return len(found)


def test_coverage_facts_of_a_real_screenplay(wb, testdocs):
    (res,) = wb.import_files("p", [testdocs / CYBER_BOB])
    sources = _sources(wb, "coverage", res.document.id)
    facts = facts_for("coverage", sources)
    scenes = facts.table("scenes")
    assert [r[0] for r in scenes.rows] == ["[Sc. 1]", "[Sc. 2]", "[Sc. 3]"]
    assert [r[3] for r in scenes.rows] == ["PARK", "SUBURBAN TRAFFIC INTERSECTION",
                                           "TRAFFIC LIGHT HORIZONTAL BEAM"]
    assert [(r[2], r[4]) for r in scenes.rows] == [("EXT", "DAY"), ("EXT", "DAY"),
                                                   ("INT", "NIGHT")]
    chars = facts.table("characters").rows
    assert chars[0][:3] == ["BOB", 16, 2]  # Bob speaks most: 16 dialogue blocks, 2 scenes
    assert sum(r[1] for r in chars) == res.document.stats["dialogue_blocks"] == 35
    assert {r[0] for r in chars} == set(res.document.stats["characters"])
    assert "INT/EXT: EXT 2, INT 1" in facts.summary
    assert any("3 scenes;" in line and "runtime about" in line for line in facts.summary)
    assert any("logline" in line for line in facts.summary)
    bar = facts.chart("character_dialogue")
    assert bar.kind == "bar" and bar.rows[0] == {"character": "BOB", "dialogue blocks": 16}
    assert _all_verified(facts, sources) >= 9


def test_shot_list_facts_name_who_is_in_each_scene(wb, testdocs):
    (res,) = wb.import_files("p", [testdocs / CYBER_BOB])
    sources = _sources(wb, "shot_list", res.document.id)
    rows = facts_for("shot_list", sources).table("scenes").rows
    assert rows[1][:5] == ["[Sc. 2]", "EXT", "SUBURBAN TRAFFIC INTERSECTION", "DAY", "BOSS"]
    assert rows[2][4] == "BOB, DOG"


def test_pacing_facts_from_real_timecodes(wb, testdocs):
    (res,) = wb.import_files("p", [testdocs / MR3_ATG])
    sources = _sources(wb, "pacing", res.document.id)
    cues = [s for s in sources[0].sections if s.kind == "cue"]
    facts = facts_for("pacing", sources)
    speakers = facts.table("speakers").rows
    words = {r[0]: r[1] for r in speakers}
    assert speakers[0][0] == "P"  # Shepard talks most
    assert sum(words.values()) == sum(len(c.text.split()) for c in cues)
    assert words["P"] == sum(len(c.text.split()) for c in cues if c.speaker == "P")
    turns = sum(r[1] for r in facts.table("turn_lengths").rows)
    assert turns == sum(r[3] for r in speakers)
    assert facts.markers and all(m.start_s < m.end_s for m in facts.markers)
    # the log stamps only starts: ends are estimated, so the radio silences show
    assert any("estimated at 150 words per minute" in line for line in facts.summary)
    gaps = facts.table("gaps").rows
    assert gaps[0][0] == "[00:12:40]" and gaps[0][1] == "1 min 4 s"
    assert cues[[c.anchor for c in cues].index("00:12:40") - 1].end_s == 760.0  # as imported
    anchors = {c.anchor for c in cues}
    assert {m.anchor for m in facts.markers} <= anchors
    line = facts.chart("pacing_timeline")
    assert line.kind == "line" and {p["speaker"] for p in line.rows} >= {"all", "P", "CC"}
    assert "words per minute overall" in facts.summary[0]
    html_page, bar, plot = facts_views.values(facts)  # the UI draws the timeline, no bars
    assert plot.visible and not bar.visible and "Longest silences" in html_page
    assert _all_verified(facts, sources) >= 20


def test_paper_facts_of_the_specter_paper(wb, testdocs):
    (res,) = wb.import_files("p", [testdocs / SPECTER])
    sources = _sources(wb, "paper_synthesis", res.document.id)
    facts = facts_for("paper_synthesis", sources)
    (paper,) = facts.table("papers").rows
    assert paper[0].startswith("SPECTER") and paper[1] == 13
    assert paper[3:5] == [2, 3]  # Figures 1-2, Tables 1-3
    assert paper[5].endswith("from [p. 9]")
    sections = {r[0]: r[1] for r in facts.table("sections").rows}
    assert sections["1 Introduction"] == "[p. 1]" and sections["2 Model"] == "[p. 2]"
    assert sections["7 Related Work"] == "[p. 8]" and sections["References"] == "[p. 9]"
    _all_verified(facts, sources)


def test_draft_facts_find_the_added_moved_and_changed_scenes(wb, testdocs, tmp_path):
    original = (testdocs / CYBER_BOB).read_text(encoding="utf-8")
    draft = tmp_path / "Cyber_Bob_ep00001.fountain"
    draft.write_text(original, encoding="utf-8")
    (first,) = wb.import_files("p", [draft])
    scenes = [s for s in wb.sections(first.document.id) if s.kind == "scene"]
    two = original.index(scenes[1].heading)
    three = original.index(scenes[2].heading)
    second = (original[:two] + original[three:].rstrip() + "\n\n" + original[two:three]
              ).replace("Hi hello.", "Good morning, Margaret.")
    second += "\n\nINT. BOB'S KITCHEN - NIGHT\n\nBob feeds the cyber dog a battery.\n"
    draft.write_text(second, encoding="utf-8")
    wb.import_files("p", [draft])
    sources = _sources(wb, "compare_drafts", first.document.id)
    facts = facts_for("compare_drafts", sources)
    rows = {r[1]: r for r in facts.table("alignment").rows}
    assert rows["added"][2:5] == ["[Sc. 4] (v2)", "-", "INT. BOB'S KITCHEN - NIGHT"]
    assert rows["moved"][2:5] == ["[Sc. 3] (v2)", "[Sc. 2] (v1)",
                                  "EXT. SUBURBAN TRAFFIC INTERSECTION--DAY"]
    changed = rows["changed"]
    assert changed[2:4] == ["[Sc. 1] (v2)", "[Sc. 1] (v1)"]
    assert changed[5] == "+3 / -2 words"  # "Hi hello." -> "Good morning, Margaret."
    assert "cut" not in rows
    assert facts.table("characters_changed").rows == [["BOB", "[Sc. 1]"]]
    assert facts.summary == ["v1 -> v2: 1 added, 0 cut, 1 moved, 1 changed, "
                             "0 moved and changed scenes."]
    _all_verified(facts, sources)


def test_prepend_moves_the_answer_citations_with_the_text(wb, testdocs):
    (res,) = wb.import_files("p", [testdocs / CYBER_BOB])
    sources = _sources(wb, "coverage", res.document.id)
    facts = facts_for("coverage", sources)
    answer = '## Premise\n[Sc. 2] "Aim your phone camera at"'
    checked = cite.check(answer, {res.document.id: list(sources[0].sections)})
    text, moved, start = prepend(facts, answer, checked)
    assert text.startswith(HEADING) and text[start:] == answer
    assert [text[c.start:c.end] for c in moved] == ["Sc. 2"] and moved[0].verified
    note = "*Map-reduced: the documents did not fit, so notes on 2 parts.*\n\n"
    checked = cite.check(note + answer, {res.document.id: list(sources[0].sections)})
    text, moved, start = prepend(facts, note + answer, checked, at=len(note))
    assert text.startswith(note + HEADING) and text[start:] == answer  # the note stays first
    saved = {**facts.to_json(), "facts_start": len(note), "answer_start": start}
    assert answer_part(text, saved) == note + answer and answer_part(answer, None) == answer
    art = SimpleNamespace(text=text, extra={"facts": saved})
    shown, back = model_answer(art, moved)
    assert shown == note + answer and [shown[c.start:c.end] for c in back] == ["Sc. 2"]
    again = Facts.from_json(facts.to_json())
    assert again.to_markdown() == facts.to_markdown() and again.to_csv() == facts.to_csv()
