"""The Library tab in a real browser: headless Debian Chromium driven by Playwright's Python
client (`executable_path`, no browser download) against the real app on a loopback port.

A writer creates a project, drops several files at once, changes the role offered for two of
them, imports, and sees each one understood in the table (scene and cue counts, pages); picks
a document to see its scene list; a bad file gets
a readable error and changes nothing; search finds a line. Every request the page makes must
stay on the app's own origin, and the app's socket guard must record nothing.
"""
from __future__ import annotations

import os
import shutil
import signal

import pytest

from browser_pages import LOAD_TIMEOUT_MS, READY_SELECTOR
from socket_guard import read_log

FILES = ("screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain",
         "screenplays/wildwinter__fountain-tools/TestFDX-FD.fdx",
         "transcripts/glut23__webvtt-py/sample.vtt",
         "transcripts/Spacelog__Spacelog/mr3/ATG",
         "pdfs/allenai__s2orc-doc2json/2020.acl-main.207.pdf")
TIMEOUT_MS = 180_000  # the first import may convert the tokenizer (tens of seconds on 2 cores)



@pytest.mark.e2e
def test_drop_several_files_and_see_their_structure(browser, running_app, testdocs, tmp_path):
    from playwright.sync_api import expect

    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.on("request", lambda r: requests.append(r.url))
    page.set_default_timeout(30_000)
    page.goto(running_app.url)
    page.wait_for_selector(READY_SELECTOR, state="attached", timeout=LOAD_TIMEOUT_MS)

    page.locator("#lh-new-project").locator("textarea, input").first.fill("Night Shift")
    page.locator("#lh-create").click()
    expect(page.locator("#lh-project input")).to_have_value("Night Shift")

    page.locator("#lh-files input[type=file]").set_input_files(
        [str(testdocs / p) for p in FILES])
    # Each dropped file gets a role from its kind, changeable before Import.
    for i, role in enumerate(("draft", "draft", "reference", "draft", "reference")):
        expect(page.locator(f"#lh-file-role-{i} input")).to_have_value(role)
    for i, role in ((3, "reference"), (0, "style")):  # the ATG transcript has no suffix
        page.locator(f"#lh-file-role-{i} input").click()
        page.locator(f"#lh-file-role-{i}").get_by_role("option", name=role).click()
        expect(page.locator(f"#lh-file-role-{i} input")).to_have_value(role)
    page.locator("#lh-import").click()
    table = page.locator("#lh-documents")
    expect(page.locator("#lh-status")).to_contain_text("Imported 5 files", timeout=TIMEOUT_MS)
    for text in ("BOB THE CYBER PAWN", "3 scenes", "FDX Test Script", "2 scenes", "16 cues",
                 "115 cues", "6 speakers", "13 pages", "transcript", "paper"):
        expect(table).to_contain_text(text)
    from workbench.library import Library
    with Library.open(running_app.data_dir) as lib:
        roles = {d.filename: d.role for d in lib.documents("Night Shift")}
    assert roles == {"Cyber_Bob_ep00001.fountain": "style", "TestFDX-FD.fdx": "draft",
                     "sample.vtt": "reference", "ATG": "reference",
                     "2020.acl-main.207.pdf": "reference"}
    expect(page.locator(".lh-file-role")).to_have_count(0)  # the table goes with the import

    document = page.locator("#lh-document input")
    document.click()
    page.get_by_role("option", name="FDX Test Script").click()
    structure = page.locator("#lh-structure")
    expect(structure).to_contain_text("Sc. 1")
    expect(structure).to_contain_text("INT. RADIO STUDIO")
    expect(page.locator("#lh-details")).to_contain_text("DAVE, DJ, JIM, KAY")

    page.locator("#lh-query").locator("textarea, input").first.fill("coffee")
    page.locator("#lh-search").click()
    expect(page.locator("#lh-hits")).to_contain_text("FDX Test Script")

    page.locator("#lh-files input[type=file]").set_input_files(
        [str(testdocs / "pdfs/jsvine__pdfplumber/empty.pdf")])
    page.locator("#lh-import").click()
    expect(page.locator("#lh-status")).to_contain_text("empty.pdf: The file is empty.")
    expect(page.locator(".toast-body").first).to_contain_text("empty.pdf: The file is empty.")
    expect(table).to_contain_text("16 cues")
    assert "Traceback" not in page.content()

    document.click()
    page.get_by_role("option", name="sample (v1").click()
    expect(structure).to_contain_text("0:00:00–0:00:07")
    expect(structure).to_contain_text("Caption text #16")
    page.screenshot(path=str(tmp_path / "library.png"), full_page=True)
    if os.environ.get("LONGHAND_SCREENSHOT_DIR"):
        shutil.copy(tmp_path / "library.png", os.environ["LONGHAND_SCREENSHOT_DIR"])
    page.locator("#lh-delete").click()
    page.locator("#lh-confirm").click()
    expect(page.locator("#lh-status")).to_contain_text("Deleted sample")
    expect(table).not_to_contain_text("16 cues")
    expect(table).to_contain_text("115 cues")

    # A new draft of Bob, then Bob's first bytes again: restored as version 3, role kept.
    bob = testdocs / FILES[0]
    draft = tmp_path / "drafts" / bob.name
    draft.parent.mkdir()
    draft.write_text(bob.read_text() + "\n\nEXT. ROOF - DAY\n\nBOB waits.\n")
    for path, said in ((draft, "new version 2"), (bob, "restored v1 as v3")):
        page.locator("#lh-files input[type=file]").set_input_files([str(path)])
        expect(page.locator("#lh-file-role-0 input")).to_have_value("style")
        page.locator("#lh-import").click()
        expect(page.locator("#lh-status")).to_contain_text(said, timeout=TIMEOUT_MS)
    document.click()
    page.get_by_role("option", name="(v3, Cyber_Bob").click()
    page.locator("#lh-versions-box").get_by_text("Versions of this document").click()
    expect(page.locator("#lh-versions")).to_contain_text("v1")
    expect(structure).not_to_contain_text("ROOF")

    origin = running_app.url
    strays = [u for u in requests if not u.startswith((origin, "data:", "blob:"))]
    assert strays == [], "the page requested something beyond the app's own origin"
    assert read_log(running_app.netlog) == []

    # Ctrl-C / SIGTERM stops the app while the tab is still open (its stream stayed open, and
    # the app used to wait on it for ever; the fixture then had to kill it)
    running_app.process.terminate()
    assert running_app.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert "Traceback" not in running_app.log.read_text()
