"""Needles, haystacks and the grid plan, on real documents and a word-counting backend."""
from __future__ import annotations

import pytest
from trust_docs import CYBER_BOB, MERCURY, SHERLOCK
from trust_backends import BlindBackend

from workbench.errors import WorkbenchError
from workbench.trust.haystack import Corpus, boundaries, place, splice
from workbench.trust.needles import KINDS, make_needle, make_needles
from workbench.trust.runner import TrustRequest, parse_length, plan_trust


def _placements(plan):
    return [(c.key, c.haystack.prompt_tokens,
             [(p.needle.text, p.document_id, p.ordinal, p.anchor, p.offset)
              for p in c.haystack.placements]) for c in plan.cells]


def test_needles_come_from_the_seed_and_differ_between_keys():
    a, b = make_needle(7, "1000:50:0"), make_needle(7, "1000:50:0")
    assert a == b
    assert make_needle(8, "1000:50:0") != a
    assert make_needle(7, "1000:0:0") != a
    assert a.answer.lower() in a.text.lower()
    kinds = {make_needle(1, f"k{i}").kind for i in range(40)}
    assert kinds == set(KINDS)
    for kind in KINDS:
        n = make_needle(3, "x", kind)
        assert n.kind == kind and n.answer in n.text and n.question.endswith("?")
    several = make_needles(5, "cell", 4)
    assert len({n.answer for n in several}) == 4
    assert [n.key for n in several] == [f"cell:{i}" for i in range(4)]


def test_splice_keeps_the_text_and_inserts_at_sentence_boundaries():
    text = "It was late. The fog lay thick.\nHolmes smiled."
    cuts = boundaries(text)
    assert cuts == [0, 13, 32, len(text)]
    out = splice(text, [(13, "NEEDLE one."), (0, "FIRST."), (len(text), "LAST.")])
    assert out == "FIRST. It was late. NEEDLE one. The fog lay thick.\nHolmes smiled. LAST."


def test_depth_zero_and_hundred_are_the_ends_of_the_haystack(library, project_with):
    project_with("Holmes", SHERLOCK)
    corpus = Corpus.from_library(library, "Holmes")
    sections = [s for _, s in corpus.flat[:30]]
    needle = [make_needle(1, "a")]
    assert place(sections, needle, 0.0) == [(0, 0)]
    assert place(sections, needle, 100.0) == [(29, len(sections[29].text))]
    index, offset = place(sections, needle, 50.0)[0]
    before = sum(len(s.text) for s in sections[:index]) + offset
    total = sum(len(s.text) for s in sections)
    assert abs(before / total - 0.5) < 0.1
    assert offset in boundaries(sections[index].text)


def test_plan_is_reproducible_with_the_seed(library, project_with):
    project_with("Holmes", SHERLOCK)
    backend = BlindBackend(context_window=4096)
    request = TrustRequest("Holmes", lengths=("1000", "3000"), depths=(0, 50, 100), seed=11)
    first, again = plan_trust(request, backend, library), plan_trust(request, backend, library)
    assert [(c.length, c.depth) for c in first.cells] == [
        (1000, 0), (1000, 50), (1000, 100), (3000, 0), (3000, 50), (3000, 100)]
    assert _placements(first) == _placements(again)
    assert [c.haystack.messages for c in first.cells] == [c.haystack.messages for c in again.cells]
    other = plan_trust(TrustRequest("Holmes", lengths=("1000", "3000"), depths=(0, 50, 100),
                                    seed=12), backend, library)
    assert [p[2][0][0] for p in _placements(other)] != [p[2][0][0] for p in _placements(first)]


def test_haystack_fits_its_length_and_carries_the_needle_in_its_section(library, project_with):
    project_with("Holmes", SHERLOCK)
    backend = BlindBackend(context_window=4096)
    plan = plan_trust(TrustRequest("Holmes", lengths=("1000", "3000"), depths=(0, 50, 100)),
                      backend, library)
    for cell in plan.cells:
        hay = cell.haystack
        assert hay.prompt_tokens <= cell.length
        assert hay.prompt_tokens > cell.length * 0.9  # whole sections, so close to the target
        assert hay.prompt_tokens == backend.count_tokens(hay.messages)
        prompt = hay.messages[-1].content
        (p,) = hay.placements
        host = next(s for s in hay.sections[p.document_id] if s.ordinal == p.ordinal)
        assert p.needle.text in host.text and host.anchor == p.anchor
        tag = prompt.index(f"[{p.anchor}] ")
        assert prompt.index(p.needle.text) > tag
        assert prompt.rstrip().endswith(p.needle.question)
    ordinals = [c.haystack.placements[0].ordinal for c in plan.cells if c.length == 3000]
    assert ordinals[0] == 0 and ordinals[0] < ordinals[1] < ordinals[2]


def test_percent_lengths_are_shares_of_capacity_capped_by_the_library(library, project_with):
    project_with("Bob", CYBER_BOB)
    backend = BlindBackend(context_window=8192)
    plan = plan_trust(TrustRequest("Bob", lengths=("10%", "100%"), depths=(50,),
                                   max_new_tokens=100), backend, library)
    assert plan.capacity == 8092
    assert plan.library_tokens is not None and plan.library_tokens < 8092
    assert plan.lengths == [809, plan.library_tokens]
    assert any("capped" in n for n in plan.notes)
    whole = plan.cells[-1].haystack
    assert whole.section_count == len(library.sections(library.documents("Bob")[0].id))


def test_lengths_beyond_the_window_and_bad_specs_are_refused(library, project_with):
    project_with("Apollo", MERCURY)
    backend = BlindBackend(context_window=2048)
    with pytest.raises(WorkbenchError, match="more than the"):
        plan_trust(TrustRequest("Apollo", lengths=("5000",)), backend, library)
    with pytest.raises(WorkbenchError, match="depths"):
        plan_trust(TrustRequest("Apollo", lengths=("500",), depths=(120,)), backend, library)
    with pytest.raises(WorkbenchError, match="neither"):
        parse_length("lots")
    assert parse_length("25%") == (25.0, True) and parse_length("3,000") == (3000.0, False)


def test_multi_needle_cells_spread_needles_after_the_depth(library, project_with):
    project_with("Apollo", MERCURY)
    backend = BlindBackend(context_window=8192)
    plan = plan_trust(TrustRequest("Apollo", lengths=("1500",), depths=(0, 50), needles=3),
                      backend, library)
    for cell in plan.cells:
        depths = [p.depth for p in cell.haystack.placements]
        assert depths[0] == cell.depth and depths == sorted(depths) and depths[-1] < 100
        prompt = cell.haystack.messages[-1].content
        assert "QUESTIONS:" in prompt
        assert all(p.needle.question in prompt for p in cell.haystack.placements)
        assert all(p.anchor.count(":") == 2 for p in cell.haystack.placements)  # cue anchors
