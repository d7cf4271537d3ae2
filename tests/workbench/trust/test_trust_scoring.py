"""Scoring crafted answers: right fact, wrong fact, right fact with a wrong citation."""
from __future__ import annotations

from workbench.trust.haystack import Placement
from workbench.trust.needles import Needle
from workbench.trust.scoring import accuracy, score_answer, score_needle

DATE = Needle("c:0", "date", "The duel of Vuspro Faerbifeix took place on October 24, 1853.",
              "On what date did the duel of Vuspro Faerbifeix take place?", "October 24, 1853")
PROP = Needle("c:1", "prop", "Ziral Gavombral kept a crimson tin pocket watch hidden in the "
              "lighthouse.", "What did Ziral Gavombral keep hidden in the lighthouse?",
              "crimson tin pocket watch")
WORD = Needle("c:2", "dialogue", 'Prore Soul whispered: "The password for the attic is quartz '
              '91."', "What password did Prore Soul whisper for the attic?", "quartz 91")


def at(needle: Needle, anchor: str) -> Placement:
    return Placement(needle, 50.0, 1, 14, anchor, 0)


def test_right_fact_with_its_anchor_is_found_and_cited():
    s = score_needle("The duel took place on October 24, 1853 [¶ 14].", at(DATE, "¶ 14"))
    assert (s.found, s.cited, s.cited_anchor) == (True, True, "¶ 14")
    s = score_needle("It was on october 24 1853 — see [¶14]", at(DATE, "¶ 14"))
    assert (s.found, s.cited) == (True, True)
    s = score_needle("A “crimson tin pocket-watch” (Sc. 3)", at(PROP, "Sc. 3"))
    assert (s.found, s.cited) == (True, True)
    s = score_needle("[00:01:02] The password is Quartz 91.", at(WORD, "00:01:02"))
    assert (s.found, s.cited) == (True, True)


def test_wrong_fact_is_not_found_even_with_the_right_anchor():
    for answer in ("The duel took place on October 25, 1853 [¶ 14].",
                   "It was 24 October 1853 [¶ 14].",  # exact, not semantic
                   "October 24, 18533 [¶ 14]",
                   "I could not find it."):
        s = score_needle(answer, at(DATE, "¶ 14"))
        assert (s.found, s.cited) == (False, False), answer
    s = score_needle("The password is quartz 911 [p. 2].", at(WORD, "p. 2"))
    assert not s.found


def test_right_fact_with_a_wrong_or_missing_citation_is_found_but_not_cited():
    s = score_needle("On October 24, 1853 [¶ 15].", at(DATE, "¶ 14"))
    assert (s.found, s.cited, s.cited_anchor) == (True, False, "¶ 15")
    s = score_needle("On October 24, 1853.", at(DATE, "¶ 14"))
    assert (s.found, s.cited, s.cited_anchor) == (True, False, None)
    # the anchor nearest the fact counts, not any anchor somewhere in the answer
    s = score_needle("[¶ 14] is about Holmes. The duel was on October 24, 1853 [Sc. 2].",
                     at(DATE, "¶ 14"))
    assert (s.found, s.cited, s.cited_anchor) == (True, False, "Sc. 2")


def test_several_needles_are_scored_each_against_its_own_line():
    answer = ("1. The duel was on October 24, 1853 [¶ 14].\n"
              "2. A crimson tin pocket watch [¶ 3].\n"
              "3. The password is quartz 19 [¶ 40].")
    scores = score_answer(answer, [at(DATE, "¶ 14"), at(PROP, "¶ 30"), at(WORD, "¶ 40")])
    assert [(s.found, s.cited) for s in scores] == [(True, True), (True, False),
                                                      (False, False)]
    assert accuracy(scores) == (2 / 3, 1 / 3)
    assert accuracy([]) == (0.0, 0.0)
