"""Packing: stable library first, task and question last, anchor tags, deterministic bytes."""
from __future__ import annotations

import re

from synthesis_docs import CYBER_BOB, MR3_ATG

from workbench.synthesis.packing import PREAMBLE, Source, pack
from workbench.synthesis.templates import TEMPLATES, get_template


def _sources(wb, ids):
    return [Source(d.id, d.title, d.kind, d.version, tuple(wb.sections(d.id)))
            for d in (wb.document(i) for i in ids)]


def test_pack_tags_every_section_and_puts_the_question_last(wb, testdocs):
    res = wb.import_files("p", [testdocs / CYBER_BOB, testdocs / MR3_ATG])
    ids = [r.document.id for r in res]
    packed = pack(_sources(wb, ids), get_template("free"), "Who is Bob?")
    system, user = packed.messages
    assert system.content == PREAMBLE
    body = user.content
    for doc_id in ids:
        for s in wb.sections(doc_id):
            assert f"[{s.anchor}]" in body
    assert "[Sc. 1] EXT. PARK" in body
    assert re.search(r"^\[00:00:00\] \S", body, re.M)  # cue tags carry a speaker
    assert body.rstrip().endswith("QUESTION:\nWho is Bob?")
    assert body.index("</document>") < body.index("TASK (")
    assert body.index(f'<document id="{ids[0]}"') < body.index(f'<document id="{ids[1]}"')


def test_pack_is_deterministic_and_its_library_prefix_is_task_independent(wb, testdocs):
    res = wb.import_files("p", [testdocs / CYBER_BOB, testdocs / MR3_ATG])
    sources = _sources(wb, [r.document.id for r in res])
    a = pack(sources, get_template("free"), "q")
    b = pack(list(reversed(sources)), get_template("free"), "q")
    assert [m.content for m in a.messages] == [m.content for m in b.messages]
    prefixes = {pack(sources, t, "q").messages[1].content.split("TASK (")[0]
                for t in TEMPLATES.values()}
    assert len(prefixes) == 1
