"""Sentence matching on answers about a real screenplay, against its stored sections and the
library's real FTS5 index: a sentence that retells a scene gets that scene, an unrelated one
gets nothing, and each matched passage is verified like a model citation."""
from __future__ import annotations

from synthesis_docs import CYBER_BOB

from workbench.synthesis import citations as cite
from workbench.synthesis.matching import match, sentences, with_sentences


def _sections(wb, testdocs):
    res = wb.import_files("p", [testdocs / CYBER_BOB])
    return {r.document.id: wb.sections(r.document.id) for r in res}


def _scene(sections, anchor):
    return next(s for secs in sections.values() for s in secs if s.anchor == anchor)


ANSWER = (
    "The episode opens in a park where Cyber Bob admires a cute dog and Margaret, who leads "
    "the dog on a leash. "
    "Quantum physics says gluons bind quarks while dogs bark in traffic. "
    "Overall the pacing is brisk."
)


def test_a_sentence_retelling_a_scene_gets_that_scene(wb, testdocs):
    sections = _sections(wb, testdocs)
    park = _scene(sections, "Sc. 1")
    assert "PARK" in (park.heading or "")
    got = match(ANSWER, sections, wb.library.rank_sections)
    first = sentences(ANSWER)[0]
    on_first = [c for c in got if c.start == first[0]]
    assert on_first and on_first[0].anchor == "Sc. 1" and on_first[0].section_id == park.id
    assert all(c.origin == "matched" for c in got)
    assert on_first[0].sentence == first[2] and on_first[0].end == first[1]
    assert on_first[0].verified and on_first[0].quote
    assert cite.quote_in(on_first[0].quote, park.text)
    assert "words of the sentence are in Sc. 1" in on_first[0].reason


def test_an_unrelated_sentence_gets_no_match(wb, testdocs):
    sections = _sections(wb, testdocs)
    got = match(ANSWER, sections, wb.library.rank_sections)
    unrelated = [s for s in sentences(ANSWER) if "Quantum" in s[2]][0]
    # BM25 does rank the script for it (dogs, bark, traffic), the threshold turns it away
    assert wb.library.rank_sections([s.id for secs in sections.values() for s in secs],
                                    ["quantum", "dogs", "bark", "traffic"], 3)
    assert not [c for c in got if c.start == unrelated[0]]
    short = [s for s in sentences(ANSWER) if "pacing" in s[2]][0]  # too few words to match
    assert not [c for c in got if c.start == short[0]]


def test_a_quoted_line_is_matched_to_its_scene_even_without_the_anchor(wb, testdocs):
    sections = _sections(wb, testdocs)
    target = _scene(sections, "Sc. 2")
    line = next(ln.strip() for ln in target.text.splitlines() if len(ln.split()) >= 5)
    answer = f'Later someone notes that "{line}" and the story turns.'
    got = match(answer, sections, wb.library.rank_sections)
    assert got and got[0].anchor == "Sc. 2" and got[0].verified
    assert cite.quote_in(got[0].quote, target.text)


def test_model_citations_carry_their_sentence_and_stay_apart_from_matched(wb, testdocs):
    sections = _sections(wb, testdocs)
    answer = "Bob strolls through the park [Sc. 1]. Quantum gluons bind quarks [Sc. 9]."
    model = with_sentences(answer, cite.check(answer, sections))
    assert [(c.anchor, c.origin, c.sentence) for c in model] == [
        ("Sc. 1", "model", "Bob strolls through the park [Sc. 1]."),
        ("Sc. 9", "model", "Quantum gluons bind quarks [Sc. 9].")]
    both = cite.unique(model + match(answer, sections, wb.library.rank_sections))
    assert [c.as_json()["origin"] for c in both].count("model") == 2
    record = both[0].as_record()
    assert cite.Citation.from_record(record) == both[0]
    # annotate marks only what the model wrote: matched passages add no text
    assert cite.annotate(answer, both) == cite.annotate(answer, model)


def test_sentences_break_at_ends_paragraphs_and_items_not_at_abbreviations():
    text = ("Bob meets Margaret in Sc. 1 and p. 3. Then the dogs\nbark\n\n"
            "BOB\nHi hello.\n- one item\n1. first point")
    assert [s for _, _, s in sentences(text)] == [
        "Bob meets Margaret in Sc. 1 and p. 3.", "Then the dogs\nbark",
        "BOB\nHi hello.", "- one item", "1. first point"]


def test_matching_ranks_the_same_scene_on_sqlite_and_postgresql(data_dir, testdocs,
                                                                database_url):
    """`Library.rank_sections` has an FTS5 and a tsvector implementation: the retold sentence
    finds the park scene on both."""
    from workbench.config import Settings
    from workbench.workbench import Workbench

    wb = Workbench(Settings(data_dir=data_dir, database_url=database_url))
    wb.new_project("p")
    sections = _sections(wb, testdocs)
    park = _scene(sections, "Sc. 1")
    ranked = wb.library.rank_sections([s.id for secs in sections.values() for s in secs],
                                      ["park", "dog", "leash", "margaret"], limit=3)
    assert ranked and ranked[0][0] == park.id
    got = match(ANSWER, sections, wb.library.rank_sections)
    first = sentences(ANSWER)[0]
    assert [c.anchor for c in got if c.start == first[0]][:1] == ["Sc. 1"]
