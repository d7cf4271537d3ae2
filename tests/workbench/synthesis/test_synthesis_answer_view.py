"""The answer as HTML with model and matched citations, on a real screenplay's sections:
matched passages follow their sentence as distinct links, each listed once with its origin."""
from __future__ import annotations

import re

from synthesis_docs import CYBER_BOB

from workbench.synthesis import citations as cite
from workbench.synthesis.matching import match, with_sentences
from workbench.ui.answer_view import HEAD, answer_html


def test_matched_passages_follow_their_sentence_and_are_listed(wb, testdocs):
    res = wb.import_files("p", [testdocs / CYBER_BOB])
    sections = {r.document.id: wb.sections(r.document.id) for r in res}
    answer = ("Cyber Bob strolls through the park and admires a cute dog and Margaret, who "
              "leads the dog on a leash. The dogs go silent [Sc. 1]. It ends [Sc. 40].")
    cites = cite.unique(with_sentences(answer, cite.check(answer, sections))
                        + match(answer, sections, wb.library.rank_sections))
    page = answer_html(answer, cites, wb.sections)
    text = re.sub(r"<[^>]+>", "", page.split("<h4>")[0])
    assert "Cyber Bob strolls through the park" in text and "[Sc. 40 ⚠ unverified]" in text
    # the matched link sits right after the first sentence, before the second begins
    first_end = page.index("leash.") + len("leash.")
    link = page.index('class="lh-matched"')
    assert first_end < link < page.index("The dogs go silent")
    assert 'class="lh-cite">Sc. 1</a>' in page
    # Sc. 1 is listed once, both cited by the model and matched
    assert page.count('<details id="src-') == len(set(re.findall(r'<details id="([^"]+)"',
                                                                 page)))
    assert "(document" in page and "cited by the model and matched" in page
    entry = r'<details id="src-[^"]+"><summary>Sc. 1 [^<]*</summary><pre[^>]*>(.*?)</pre>'
    listed = re.search(entry, page, re.S)
    assert listed and "CYBER BOB" in listed.group(1)  # the passage's own text
    assert "a.lh-matched" in HEAD and "lh-passage" in HEAD
