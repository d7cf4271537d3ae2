"""Default documents per template, on a real library: screenplays, a paper and a transcript
imported from ../shared/testdocs, one screenplay imported again as a second version."""
from __future__ import annotations

from synthesis_docs import CYBER_BOB, MR3_ATG

from workbench.synthesis.doc_defaults import default_documents

CAT = "screenplays/earthbound19___ebScreenplays/As_I_Am_a_Cat_I_Eat_Mice.fountain"


def _paper(testdocs):
    return sorted((testdocs / "pdfs").rglob("*.pdf"))[0]


def test_each_template_starts_with_the_documents_it_is_for(wb, testdocs, tmp_path):
    wb.import_files("p", [testdocs / CAT])
    wb.import_files("p", [testdocs / CYBER_BOB, testdocs / MR3_ATG, _paper(testdocs)])
    docs = wb.documents("p")
    by_title = {d.kind: d for d in docs}
    cat = next(d for d in docs if d.filename.startswith("As_I_Am"))
    bob = next(d for d in docs if d.filename.startswith("Cyber_Bob"))
    assert default_documents("coverage", docs) == [bob.id]  # the newest screenplay
    assert default_documents("shot_list", docs) == [bob.id]
    assert default_documents("paper_synthesis", docs) == [by_title["paper"].id]
    assert default_documents("pacing", docs) == [by_title["transcript"].id]
    assert default_documents("free", docs) == [d.id for d in docs]
    assert sorted(default_documents("compare_drafts", docs)) == sorted([bob.id, cat.id])

    # a second version of the older screenplay: it is now the newest, and compared with itself
    newer = tmp_path / cat.filename
    newer.write_text((testdocs / CAT).read_text() + "\n\nEXT. ROOF - NIGHT\n\nThe cat waits.\n")
    wb.import_files("p", [newer])
    docs = wb.documents("p")
    assert next(d for d in docs if d.id == cat.id).version == 2
    assert default_documents("compare_drafts", docs) == [cat.id]
    assert default_documents("coverage", docs) == [cat.id]


def test_a_template_whose_kind_is_missing_starts_with_everything(wb, testdocs):
    wb.import_files("p", [testdocs / MR3_ATG])
    docs = wb.documents("p")
    assert default_documents("coverage", docs) == [d.id for d in docs]
