"""Issue 15 in a real browser, in one app start: every answer sentence traceable and the
Synthesize frictions found by the browser run.

A writer imports a screenplay, then a second one and a paper; the Library table reads at
1366x768 and 800 px without words cut in two, the paper's role is changed after import, and a
new draft of one script shows its history, opens its first version and diffs them by scene.
Synthesize opens on the Library's project and starts each template with the documents it is
for (coverage: the newest screenplay; paper synthesis: the paper); a tick made under one
template stays with that template. A free-prompt job's status line names the artifact it
saved; the answer shows, after its sentences, the passages matched to them (styled apart from
the model's citations); one click on one opens its passage in place; clicking the artifact's
row selects it; the adapter can be set back to "none". The Engine tab shows the model the job
loaded, says plainly that it is a small default and how to add a stronger one (no
command-line flags), and its chat has answer length and Stop. A reload keeps the project.
"""
from __future__ import annotations

import re

import pytest

from browser_pages import LOAD_TIMEOUT_MS, READY_SELECTOR, open_app

BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
CAT = "screenplays/earthbound19___ebScreenplays/As_I_Am_a_Cat_I_Eat_Mice.fountain"
PAPER = "pdfs/allenai__s2orc-doc2json/2020.acl-main.207.pdf"
TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _ticked(page) -> list[str]:
    """The labels of the ticked documents, as the writer sees them."""
    return page.evaluate("""() => [...document.querySelectorAll('#lh-syn-docs label')]
        .filter(l => l.querySelector('input').checked).map(l => l.innerText.trim())""")


BROKEN_WORDS_JS = """(sel) => {
  // words of a table drawn over two lines: each word's glyph boxes must share one line
  const out = [], root = document.querySelector(sel);
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    const cell = n.parentElement.closest('th, [role=gridcell]');  // header and shown cells
    if (!cell || !n.parentElement.getClientRects().length) continue;
    for (const m of n.textContent.matchAll(/\\S+/g)) {
      if (m[0].length > 18) continue;  // longer than a column may be: it may break
      const r = document.createRange();
      r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
      const tops = new Set([...r.getClientRects()].filter(b => b.width > 0)
                           .map(b => Math.round(b.bottom)));
      if (tops.size > 1) out.push(m[0]);
    }
  }
  return out;
}"""


def _broken_words(page, selector: str) -> list[str]:
    return page.evaluate(BROKEN_WORDS_JS, selector)


def _template(page, title: str) -> None:
    page.locator("#lh-syn-task input").click()
    page.get_by_role("option", name=title).click()


def test_defaults_per_template_matched_citations_and_artifact_rows(browser, running_app,
                                                                    testdocs, tmp_path):
    from playwright.sync_api import expect

    page = open_app(browser, running_app.url, viewport={"width": 1366, "height": 768})
    for name in ("Another", "Trace"):  # Trace is not the first: a reload must keep it
        page.locator("#lh-new-project").locator("textarea, input").first.fill(name)
        page.locator("#lh-create").click()
        expect(page.locator("#lh-project input")).to_have_value(name)
    files = page.locator("#lh-files input[type=file]")
    files.set_input_files([str(testdocs / BOB)])
    page.locator("#lh-import").click()
    expect(page.locator("#lh-status")).to_contain_text("Imported", timeout=TIMEOUT_MS)
    files.set_input_files([str(testdocs / CAT), str(testdocs / PAPER)])
    # the roles offered per file are shown before Import is pressed (as a user sees them)
    expect(page.locator("#lh-file-role-1 input")).to_have_value("reference")
    page.locator("#lh-import").click()
    expect(page.locator("#lh-status")).to_contain_text("Imported 2 files", timeout=TIMEOUT_MS)

    table = page.locator("#lh-documents")
    expect(table).to_contain_text("YARGO")
    assert _broken_words(page, "#lh-documents") == []  # 1366x768: no word cut in two
    page.set_viewport_size({"width": 800, "height": 900})
    expect(table).to_contain_text("screenplay")
    assert _broken_words(page, "#lh-documents") == []  # 800 px: columns wrap between words
    page.set_viewport_size({"width": 1366, "height": 768})

    # a role is editable after import: the paper (a reference by default) becomes notes
    page.locator("#lh-document input").click()
    page.get_by_role("option", name=re.compile(r"2020\.acl-main\.207")).click()
    expect(page.locator("#lh-doc-role input")).to_have_value("reference")
    page.locator("#lh-doc-role input").click()
    page.get_by_role("option", name="notes").click()
    page.locator("#lh-doc-role-save").click()
    expect(page.locator("#lh-status")).to_contain_text("is now a notes document")
    expect(table).to_contain_text("notes")

    # a new draft of the cat script: its history, any version opened, a diff by scene
    draft = tmp_path / CAT.rsplit("/", 1)[1]
    draft.write_text((testdocs / CAT).read_text() + "\n\nEXT. ROOF - NIGHT\n\nThe cat waits.\n")
    files.set_input_files([str(draft)])
    page.locator("#lh-import").click()
    expect(page.locator("#lh-status")).to_contain_text("Imported", timeout=TIMEOUT_MS)
    page.locator("#lh-document input").click()
    page.get_by_role("option", name=re.compile(r"\(v2, As_I_Am_a_Cat")).click()
    page.locator("#lh-versions-box").get_by_text("Versions of this document").click()
    expect(page.locator("#lh-versions")).to_contain_text("2")
    expect(page.locator("#lh-version-a input")).to_have_value("1")
    page.locator("#lh-version-compare").click()
    diff = page.locator("#lh-version-diff")
    expect(diff).to_contain_text("added")
    expect(diff).to_contain_text("EXT. ROOF - NIGHT")
    expect(diff).to_contain_text("unchanged")
    page.locator("#lh-version-open").click()
    expect(page.locator("#lh-version-text")).to_contain_text("Sc. 2")
    expect(page.locator("#lh-version-text")).not_to_contain_text("ROOF")  # version 1 as it was

    page.get_by_role("tab", name="Synthesize").click()
    expect(page.locator("#lh-syn-project input")).to_have_value("Trace")  # kept across tabs
    docs = page.locator("#lh-syn-docs")
    expect(docs).to_contain_text("paper")
    # coverage starts with the newest screenplay only, not everything
    expect(docs.locator("input:checked")).to_have_count(1)
    assert "YARGO" in _ticked(page)[0]

    _template(page, "Comparative paper synthesis")
    expect(docs.locator("label:has(input:checked)")).to_contain_text("paper")
    expect(docs.locator("input:checked")).to_have_count(1)
    docs.locator("label", has_text="BOB THE CYBER").locator("input").check()  # a writer's tick
    expect(docs.locator("input:checked")).to_have_count(2)

    _template(page, "Screenplay coverage")  # the tick made for papers does not leak here
    expect(docs.locator("input:checked")).to_have_count(1)
    assert "YARGO" in _ticked(page)[0]
    _template(page, "Comparative paper synthesis")  # ... and is still there for papers
    expect(docs.locator("input:checked")).to_have_count(2)
    _template(page, "Free prompt")
    expect(docs.locator("input:checked")).to_have_count(3)

    # the embedded model's answer to it retells its first sentence with names from the script
    page.locator("#lh-syn-question textarea").fill(
        "Describe Cyber Bob and Margaret in three full sentences.")
    docs.locator("label", has_text="paper").locator("input").uncheck()
    docs.locator("label", has_text="YARGO").locator("input").uncheck()
    expect(docs.locator("input:checked")).to_have_count(1)
    page.get_by_label("Answer tokens").fill("120")
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

    # (the table keeps a hidden copy of its cells for sizing: click the cell shown)
    page.locator("#lh-syn-artifacts [role=gridcell]").filter(has_text="Free prompt").click()
    expect(status).to_contain_text("artifact 1 selected (Free prompt")
    expect(page.get_by_role("spinbutton", name="Artifact")).to_have_value("1")
    expect(output.locator("#lh-answer a.lh-matched").first).to_be_visible()
    page.locator("#lh-syn-adapter input").click()  # the base alone can be chosen again
    expect(page.get_by_role("option", name="none")).to_be_visible()
    page.keyboard.press("Escape")

    # Engine: the model the job loaded, a plain note on it, chat controls, no CLI flags
    page.get_by_role("tab", name="Engine").click()
    expect(page.locator("#lh-engine-status")).to_contain_text(re.compile("smollm2", re.I))
    expect(page.locator("#lh-engine-note")).to_contain_text("small local default")
    expect(page.locator("#lh-engine-note")).to_contain_text("Remote server")
    engine_text = page.locator("body").inner_text()  # hidden tabs are not in it
    assert "python -m" not in engine_text and " --" not in engine_text
    length = page.locator("#lh-chat-length input")
    length.fill("4")
    page.locator("#lh-engine-prompt textarea").fill("Tell me a long story about a dog.")
    page.locator("#lh-engine-send").click()
    answer = page.locator("#lh-engine-chat [data-testid=bot]")
    expect(answer.last).not_to_be_empty(timeout=TIMEOUT_MS)
    expect(page.locator("#lh-engine-prompt textarea")).to_have_value("", timeout=TIMEOUT_MS)
    assert len(answer.last.inner_text().split()) <= 6  # four tokens are a few words
    length.fill("2000")
    page.locator("#lh-engine-prompt textarea").fill("Tell me a very long story about a cat.")
    page.locator("#lh-engine-send").click()
    expect(answer).to_have_count(2, timeout=TIMEOUT_MS)
    expect(answer.last).not_to_be_empty(timeout=TIMEOUT_MS)
    # the next message can be typed while an answer streams: later tokens do not wipe it
    page.locator("#lh-engine-prompt textarea").fill("And a dog?")
    streamed = answer.last.inner_text()
    expect(answer.last).not_to_have_text(streamed, timeout=TIMEOUT_MS)  # more tokens came
    expect(page.locator("#lh-engine-prompt textarea")).to_have_value("And a dog?")
    page.locator("#lh-chat-stop").click()
    expect(answer.last).to_contain_text("[stopped]", timeout=TIMEOUT_MS)
    assert "Traceback" not in page.content()

    page.reload()  # the project is kept across a reload
    page.wait_for_selector(READY_SELECTOR, state="attached", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator("#lh-project input")).to_have_value("Trace")
    expect(page.locator("#lh-documents")).to_contain_text("YARGO")
