"""Citation checking on crafted answers against real stored sections."""
from __future__ import annotations

from synthesis_docs import CYBER_BOB, MR3_ATG

from workbench.synthesis.citations import annotate, check


def _sections(wb, testdocs):
    res = wb.import_files("p", [testdocs / CYBER_BOB, testdocs / MR3_ATG])
    return {r.document.id: wb.sections(r.document.id) for r in res}


def _line_of(sections, anchor):
    sec = next(s for secs in sections.values() for s in secs if s.anchor == anchor)
    return sec, next(ln.strip() for ln in sec.text.splitlines() if len(ln.split()) >= 3)


def test_real_anchor_and_exact_quote_are_verified(wb, testdocs):
    sections = _sections(wb, testdocs)
    sec, line = _line_of(sections, "Sc. 2")
    cue = next(s for secs in sections.values() for s in secs if s.kind == "cue" and s.start_s)
    answer = f'The light scene [Sc. 2] "{line.upper()}" works. Later, [{cue.anchor}] matters.'
    got = check(answer, sections)
    assert [(c.anchor, c.verified) for c in got] == [("Sc. 2", True), (cue.anchor, True)]
    assert got[0].section_id == sec.id and got[0].quote == line.upper()
    assert got[1].document_id == cue.document_id


def test_fabricated_anchor_is_marked_unverified(wb, testdocs):
    sections = _sections(wb, testdocs)
    answer = "Bob's arc peaks in [Sc. 3] and collapses in [Sc. 47]; see also [p. 12]."
    got = {c.anchor: c for c in check(answer, sections)}
    assert got["Sc. 3"].verified
    assert not got["Sc. 47"].verified and "not in the documents" in got["Sc. 47"].reason
    assert not got["p. 12"].verified
    marked = annotate(answer, list(got.values()))
    assert "[Sc. 47 (unverified: Sc. 47 is not in the documents)]" in marked
    assert "[Sc. 3]" in marked


def test_misquoted_span_is_caught_even_with_a_real_anchor(wb, testdocs):
    sections = _sections(wb, testdocs)
    _, line_in_1 = _line_of(sections, "Sc. 1")
    answer = (f'[Sc. 2] "{line_in_1}" shows the tension.\n'
              '[Sc. 1] "Bob adopts a purple elephant named Steve" is the inciting incident.')
    got = check(answer, sections)
    assert [c.verified for c in got] == [False, False]
    assert "(it is in Sc. 1)" in got[0].reason
    assert "is not in Sc. 1" in got[1].reason and got[1].section_id is not None


def test_a_timecode_inside_a_cue_resolves_to_that_cue(wb, testdocs):
    sections = _sections(wb, testdocs)
    cues = sorted((s for secs in sections.values() for s in secs if s.kind == "cue"),
                  key=lambda s: s.start_s)
    a, b = next((a, b) for a, b in zip(cues, cues[1:]) if b.start_s - a.start_s >= 3)
    inside = int(a.start_s) + 1
    stamp = f"{inside // 3600:02d}:{inside % 3600 // 60:02d}:{inside % 60:02d}"
    (c,) = check(f"At {stamp} the pilot reports.", sections)
    assert c.verified and c.section_id == a.id and c.reason == f"inside cue {a.anchor}"
    (far,) = check("At 09:59:59 nothing happens.", sections)
    assert not far.verified


def test_a_second_utterance_under_one_stamp_is_found_by_the_stamp(wb):
    """Two utterances under one Spacelog stamp are anchored '07:45:14' and '07:45:14 (2)'
    (anchors are unique per document); citing the stamp still verifies a quote from either."""
    log = ("[00:07:45:10]\nCC_HAW: Sigma Seven, Hawaii Cap Com. Standing by.\n\n"
           "[00:07:45:14]\nP: Roger, Hawaii. All systems are go.\n\n"
           "CC_HAW: Understand, all go. Stand by for retrosequence time.\n\n"
           "[00:07:46:02]\nCC_?: . . . say again?\n")
    [res] = wb.import_files("p", [("TEC", log.encode())])
    sections = {res.document.id: wb.sections(res.document.id)}
    assert [s.anchor for s in sections[res.document.id]] == [
        "07:45:10", "07:45:14", "07:45:14 (2)", "07:46:02"]
    for cited in ("07:45:14", "07:45:14 (2)"):
        (c,) = check(f'At [{cited}] Hawaii says "Understand, all go" and moves on.', sections)
        assert c.verified and c.quote == "Understand, all go", c.reason
        assert c.section_id == sections[res.document.id][2].id
