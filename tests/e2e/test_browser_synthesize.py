"""The Synthesize tab in a real browser against the real app: import a screenplay, open
Synthesize, see the budget bar, run a coverage job, watch its text stream in, see the artifact
listed, its citations linked to their passages, and the computed facts as a table and a
character-dialogue bar chart."""
from __future__ import annotations


import pytest

from browser_pages import open_app

SCRIPT = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.e2e, pytest.mark.slow]



def test_run_a_coverage_job_and_watch_it_stream(browser, running_app, testdocs):
    from playwright.sync_api import expect

    page = open_app(browser, running_app.url)
    page.locator("#lh-new-project").locator("textarea, input").first.fill("Bob")
    page.locator("#lh-create").click()
    expect(page.locator("#lh-project input")).to_have_value("Bob")
    page.locator("#lh-files input[type=file]").set_input_files([str(testdocs / SCRIPT)])
    page.locator("#lh-import").click()
    expect(page.locator("#lh-status")).to_contain_text("Imported", timeout=TIMEOUT_MS)

    page.get_by_role("tab", name="Synthesize").click()
    page.locator("#lh-syn-project input").click()
    page.get_by_role("option", name="Bob").click()
    expect(page.locator("#lh-syn-docs")).to_contain_text("tokens")
    page.get_by_label("Answer tokens").fill("200")
    page.locator("#lh-syn-budget-btn").click()
    expect(page.locator("#lh-budget")).to_contain_text("of 8,192 tokens: fits whole",
                                                       timeout=TIMEOUT_MS)

    page.evaluate("""() => {
        window.lhSeen = [];
        const out = document.querySelector('#lh-syn-output');
        new MutationObserver(() => {
            const s = document.querySelector('#lh-syn-status').innerText;
            const o = out.innerText.trim();
            if (o && !s.includes('done')) window.lhSeen.push(o);
        }).observe(out, {childList: true, subtree: true, characterData: true});
    }""")
    page.locator("#lh-syn-run").click()
    status, output = page.locator("#lh-syn-status"), page.locator("#lh-syn-output")
    expect(status).to_contain_text("done · whole", timeout=TIMEOUT_MS)
    expect(output).not_to_be_empty()
    seen = page.evaluate("() => window.lhSeen")
    final = output.locator("#lh-answer").inner_text().strip()
    assert seen, "no partial text was shown before the job finished"
    assert len(seen[0]) < len(final)  # text streamed in: the first view was a part of it
    expect(page.locator("#lh-syn-artifacts")).to_contain_text("Screenplay coverage")
    facts = page.locator("#lh-syn-facts")  # computed by code, beside the model's answer
    expect(facts).to_contain_text("Characters by dialogue blocks", timeout=TIMEOUT_MS)
    expect(facts.locator("tr", has_text="BOB").first).to_contain_text("16")
    expect(page.locator("#lh-syn-facts-bar").locator("canvas, svg").first).to_be_visible(
        timeout=TIMEOUT_MS)
    links = page.locator("#lh-answer a.lh-cite")
    for i in range(links.count()):
        target = links.nth(i).get_attribute("href")
        assert page.locator(target).count() == 1
    assert "Traceback" not in page.content()
