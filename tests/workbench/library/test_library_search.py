"""FTS5 search: hits carry document, anchor and snippet; any typed query is safe."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.library.fts import SNIPPET_CLOSE, SNIPPET_OPEN, fts_query


@pytest.fixture
def film(library, kitchen, make_transcript):
    library.create_project("Film")
    library.create_project("Other")
    script = library.add_document("Film", kitchen, b"script", "kitchen.fountain").document
    talk = library.add_document("Film", make_transcript("Interview", [
        (0.0, 4.0, "ANA", "The fridge in that flat hummed all night, you know?"),
        (65.0, 70.0, "BEN", "I never saw a ghost. Not once!"),
    ]), b"talk", "interview.vtt", role="reference").document
    return library, script, talk


def test_hits_carry_document_anchor_and_snippet(film):
    library, script, talk = film
    hits = library.search("Film", "fridge")
    assert {(h.document_id, h.anchor) for h in hits} == {(script.id, "Sc. 1"),
                                                         (talk.id, "00:00:00")}
    by_doc = {h.document_id: h for h in hits}
    assert by_doc[script.id].document_title == "Kitchen Sink"
    assert f"{SNIPPET_OPEN}fridge{SNIPPET_CLOSE}" in by_doc[script.id].snippet
    assert by_doc[talk.id].snippet.startswith("The ")
    section = library.section_by_anchor(script.id, "Sc. 1")
    assert by_doc[script.id].section_id == section.id


def test_all_words_must_match_and_ranking(film):
    library, script, talk = film
    hits = library.search("Film", "ghost fridge")
    assert [h.anchor for h in hits] == ["Sc. 1"]
    hits = library.search("Film", "ghost")
    assert {h.anchor for h in hits} == {"Sc. 1", "00:01:05"}
    assert hits == sorted(hits, key=lambda h: h.rank)


def test_headings_diacritics_prefix_and_phrases(film):
    library, script, _ = film
    assert [h.anchor for h in library.search("Film", "garden")] == ["Sc. 2"]
    assert [h.anchor for h in library.search("Film", "cafe")] == ["Sc. 2"]
    assert [h.anchor for h in library.search("Film", "lem*")] == ["Sc. 2"]
    assert [h.anchor for h in library.search("Film", '"lemon tree"')] == ["Sc. 2"]
    assert library.search("Film", '"tree lemon"') == []


def test_search_is_scoped_to_project_and_latest_version(film, make_screenplay):
    library, script, _ = film
    assert library.search("Other", "fridge") == []
    library.add_document("Film", make_screenplay("Kitchen Sink", [
        ("INT. KITCHEN - NIGHT", "MARA opens the oven.")]), b"script v2", "kitchen.fountain")
    hits = library.search("Film", "fridge")
    assert [h.document_id for h in hits] != [] and script.id not in {h.document_id for h in hits}
    assert [h.anchor for h in library.search("Film", "oven")] == ["Sc. 1"]


def test_limit(film):
    library, _, _ = film
    assert len(library.search("Film", "the", limit=1)) == 1
    assert library.search("Film", "the", limit=0) == []


@pytest.mark.parametrize("query", [
    'ghost"', '"ghost', 'ghost*', '(ghost', 'ghost)', '^ghost', 'ghost!', 'ghost\x00',
    '{ghost}', 'ghost + fridge', 'ghost -- fridge', '"ghost', "ghost'", 'ghost;',
])
def test_punctuation_around_words_still_finds_them(film, query):
    library, _, _ = film
    assert "Sc. 1" in {h.anchor for h in library.search("Film", query)}


@pytest.mark.parametrize("query", [
    'ghost AND', 'OR', 'NOT ghost', 'NEAR(ghost fridge)', '*', '-ghost', 'text:ghost', "'",
    '""', "don't", "?", ";DROP TABLE sections;--", "a:b:c", "ghost^2", "col:", "\\", "%_",
    "AND OR", "ghost " * 20_000, "👻 \u202eghost\u200b", "ghost\u0301 ⁂ 幽霊", "\ud800",
])
def test_operators_and_punctuation_never_raise(film, query):
    library, _, _ = film
    assert isinstance(library.search("Film", query), list)
    assert library.count_rows()["sections"] == 5


def test_operators_are_literal_words(film):
    library, _, _ = film
    assert library.search("Film", "ghost OR zebra") == []  # OR is a word to find, not logic
    assert library.search("Film", "") == [] and library.search("Film", "  ?! ") == []


def test_fts_query_shapes():
    assert fts_query('say "hello there" now*') == '"say" "hello there" "now" *'
    assert fts_query('he said "x""') == '"he" "said" "x"'
    assert fts_query("!!! ---") is None


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=40))
def test_any_text_query_is_safe(film, query):
    library, _, _ = film
    assert isinstance(library.search("Film", query), list)
