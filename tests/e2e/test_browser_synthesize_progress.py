"""The Synthesize tab's progress in a real browser against the real app: with map-reduce
ticked, Check budget lists the parts it would read and their tokens before anything runs; a
coverage run shows a real progress bar (an HTML <progress>) whose line says how far it read
the prompt or how fast it writes."""
from __future__ import annotations

import re

import pytest

from browser_pages import open_app

SCRIPT = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_map_reduce_plan_then_a_run_with_a_progress_bar(browser, running_app, testdocs):
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
    page.get_by_label("Answer tokens").fill("48")
    page.get_by_label("Map-reduce if it does not fit").check()
    page.locator("#lh-syn-budget-btn").click()
    parts = page.locator("#lh-syn-parts")
    expect(parts).to_contain_text("Plan: map-reduce in", timeout=TIMEOUT_MS)
    items = parts.locator("li")
    assert items.count() >= 1
    for i in range(items.count()):
        assert re.search(rf"part {i + 1} of {items.count()}: .*Cyber.*: [\d,]+ tokens$",
                         items.nth(i).inner_text().strip(), re.I)
    page.get_by_label("Map-reduce if it does not fit").uncheck()

    page.evaluate("""() => {
        window.lhBars = [];
        const out = document.querySelector('#lh-syn-output');
        new MutationObserver(() => {
            const bar = document.querySelector('#lh-syn-bar');
            const line = document.querySelector('#lh-syn-progress-text');
            if (bar && line) window.lhBars.push([bar.getAttribute('value'), line.innerText]);
        }).observe(out, {childList: true, subtree: true, characterData: true});
    }""")
    page.locator("#lh-syn-run").click()
    expect(page.locator("#lh-syn-status")).to_contain_text("done · whole", timeout=TIMEOUT_MS)
    bars = page.evaluate("() => window.lhBars")
    assert bars, "no progress bar was shown while the job ran"
    for value, line in bars:
        assert 0 <= int(value) <= 100
        assert re.search(r"reading the prompt \d+%|writing (started|[\d.]+ tokens/s)", line)
    assert any(re.search(r"\d+%|tokens/s", line) for _, line in bars)
    assert page.locator("#lh-syn-bar").count() == 0  # the answer replaced it
    assert "Traceback" not in page.content()
