"""Issue 15 in a real browser, in one app start: every answer sentence traceable and the
Synthesize frictions found by the browser run.

A writer imports two screenplays and a paper. Synthesize starts each template with the
documents it is for (coverage: the newest screenplay; paper synthesis: the paper), and a tick
made under one template stays with that template. A coverage job's status line names the
artifact it saved; the answer shows the model's citations and, after its sentences, the
passages matched to them (styled apart); one click on a citation opens its passage in place;
clicking the artifact's row selects it.
"""
from __future__ import annotations

import pytest

from browser_pages import open_app

BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
CAT = "screenplays/earthbound19___ebScreenplays/As_I_Am_a_Cat_I_Eat_Mice.fountain"
PAPER = "pdfs/allenai__s2orc-doc2json/2020.acl-main.207.pdf"
TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _ticked(page) -> list[str]:
    """The labels of the ticked documents, as the writer sees them."""
    return page.evaluate("""() => [...document.querySelectorAll('#lh-syn-docs label')]
        .filter(l => l.querySelector('input').checked).map(l => l.innerText.trim())""")


def _template(page, title: str) -> None:
    page.locator("#lh-syn-task input").click()
    page.get_by_role("option", name=title).click()


def test_defaults_per_template_matched_citations_and_artifact_rows(browser, running_app,
                                                                    testdocs):
    from playwright.sync_api import expect

    page = open_app(browser, running_app.url, viewport={"width": 1366, "height": 768})
    page.locator("#lh-new-project").locator("textarea, input").first.fill("Trace")
    page.locator("#lh-create").click()
    expect(page.locator("#lh-project input")).to_have_value("Trace")
    files = page.locator("#lh-files input[type=file]")
    files.set_input_files([str(testdocs / CAT)])
    expect(page.locator("#lh-status")).to_contain_text("Imported", timeout=TIMEOUT_MS)
    files.set_input_files([str(testdocs / BOB), str(testdocs / PAPER)])
    expect(page.locator("#lh-status")).to_contain_text("Imported 2 files", timeout=TIMEOUT_MS)

    page.get_by_role("tab", name="Synthesize").click()
    page.locator("#lh-syn-project input").click()
    page.get_by_role("option", name="Trace").click()
    docs = page.locator("#lh-syn-docs")
    expect(docs).to_contain_text("paper")
    # coverage starts with the newest screenplay only, not everything
    expect(docs.locator("input:checked")).to_have_count(1)
    assert [t for t in _ticked(page)] and "BOB THE CYBER PAWN" in _ticked(page)[0]

    _template(page, "Comparative paper synthesis")
    expect(docs.locator("label:has(input:checked)")).to_contain_text("paper")
    expect(docs.locator("input:checked")).to_have_count(1)
    docs.locator("label", has_text="Cat").locator("input").check()  # the writer adds one
    expect(docs.locator("input:checked")).to_have_count(2)

    _template(page, "Screenplay coverage")  # the tick made for papers does not leak here
    expect(docs.locator("input:checked")).to_have_count(1)
    assert "BOB THE CYBER PAWN" in _ticked(page)[0]
    _template(page, "Comparative paper synthesis")  # ... and is still there for papers
    expect(docs.locator("input:checked")).to_have_count(2)
    _template(page, "Free prompt")
    expect(docs.locator("input:checked")).to_have_count(3)

    page.locator("#lh-syn-question textarea").fill(
        "Retell what happens in the park, quoting the lines of the script.")
    docs.locator("label", has_text="paper").locator("input").uncheck()
    docs.locator("label", has_text="Cat").locator("input").uncheck()
    page.get_by_label("Answer tokens").fill("160")
    page.locator("#lh-syn-run").click()
    status, output = page.locator("#lh-syn-status"), page.locator("#lh-syn-output")
    expect(status).to_contain_text("done · whole", timeout=TIMEOUT_MS)
    expect(status).to_contain_text("saved as artifact 1 (Free prompt)")

    # matched passages follow their sentences, apart from the model's own citations
    matched = output.locator("#lh-answer a.lh-matched")
    expect(matched.first).to_be_visible()
    expect(output).to_contain_text("matched")
    first = matched.first
    first.click()  # one click: the passage opens in place, under the link
    passage = output.locator("#lh-answer .lh-passage.lh-from-match")
    expect(passage).to_be_visible()
    expect(passage).to_contain_text(first.inner_text().strip("[]"))
    assert len(passage.inner_text()) > 40
    first.click()  # a second click closes it
    expect(passage).to_have_count(0)

    page.locator("#lh-syn-artifacts").get_by_text("Free prompt").first.click()
    expect(status).to_contain_text("artifact 1 selected (Free prompt")
    expect(page.get_by_label("Artifact")).to_have_value("1")
    expect(output.locator("#lh-answer a.lh-matched").first).to_be_visible()
    assert "Traceback" not in page.content()
