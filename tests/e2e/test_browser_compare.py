"""The Compare tab in a real browser against the real app: the embedded default against a
second Longhand (`app.py --api-only` on another loopback port, added with `add-model` before the
app starts), on a real screenplay, in blind mode: both answers stream into their columns with no
model name shown, a vote reveals the names and the figures, and the leaderboard counts it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app_runner import ROOT, start_app, stop_app
from browser_pages import open_app
from second_longhand import second_longhand

SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"
LOCAL, REMOTE = "smollm2-135m-instruct", "second-longhand"
TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _env() -> dict:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("LONGHAND_", "GRADIO_", "HF_"))}


@pytest.fixture
def app_with_a_second_model(tmp_path):
    """A second Longhand serving the embedded default over HTTP, added as REMOTE to the data
    dir of the app under test; both stopped afterwards."""
    with second_longhand(tmp_path / "second", tmp_path / "second.log", _env()) as url:
        added = subprocess.run(
            [sys.executable, "-m", "workbench", "--data-dir", str(tmp_path / "data"),
             "add-model", REMOTE, "--url", url + "/v1", "--protocol", "openai",
             "--remote-model", LOCAL, "--json"],
            cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
        assert added.returncode == 0, added.stderr
        app = start_app(tmp_path)
        try:
            yield app
        finally:
            stop_app(app)


def _pick(page, dropdown: str, option: str) -> None:
    page.locator(f"{dropdown} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def test_blind_comparison_streams_votes_and_reaches_the_leaderboard(
        browser, app_with_a_second_model, testdocs):
    from playwright.sync_api import expect

    page = open_app(browser, app_with_a_second_model.url)
    page.locator("#lh-new-project").locator("textarea, input").first.fill("Night Shift")
    page.locator("#lh-create").click()
    expect(page.locator("#lh-project input")).to_have_value("Night Shift")
    page.locator("#lh-files input[type=file]").set_input_files([str(testdocs / SCENES)])
    page.locator("#lh-import").click()
    expect(page.locator("#lh-status")).to_contain_text("Imported", timeout=TIMEOUT_MS)

    page.get_by_role("tab", name="Compare").click()
    page.locator("#lh-compare-refresh").click()
    expect(page.locator("#lh-compare-project input")).to_have_value("Night Shift")
    _pick(page, "#lh-compare-models", LOCAL)
    _pick(page, "#lh-compare-models", REMOTE)
    page.locator("#lh-compare-prompt").locator("textarea, input").first.fill(
        "Which scene comes first?")
    page.locator("#lh-compare-tokens input").fill("24")
    expect(page.locator("#lh-compare-blind input")).to_be_checked()

    page.evaluate("""() => {
        window.lhSeen = [];
        const col = document.querySelector('#lh-compare-col-0');
        new MutationObserver(() => {
            const s = document.querySelector('#lh-compare-status').innerText;
            if (!s.includes('done')) window.lhSeen.push(col.innerText.trim());
        }).observe(col, {childList: true, subtree: true, characterData: true});
    }""")
    page.locator("#lh-compare-run").click()
    status = page.locator("#lh-compare-status")
    expect(status).to_contain_text("done", timeout=TIMEOUT_MS)
    cols = [page.locator(f"#lh-compare-col-{i}") for i in range(2)]
    for col, label in zip(cols, "AB"):
        expect(col).to_contain_text(f"{label}\n")
    blind_text = [c.inner_text() for c in cols]
    for text in blind_text:
        body = text.split("\n", 1)[1].strip()
        assert len(body) > 0, blind_text
        assert "smollm" not in text.lower() and REMOTE not in text, text
    assert "smollm" not in status.inner_text().lower() and REMOTE not in status.inner_text()
    seen = page.evaluate("() => window.lhSeen")
    partial = [s.split("\n", 1)[1].strip() for s in seen
               if s.startswith("Answer 1 · ") and "\n" in s]
    assert any(partial), f"no partial answer was shown while the comparison ran: {seen[-5:]}"
    assert all("smollm" not in s.lower() and REMOTE not in s for s in seen), seen

    page.locator("#lh-compare-winner").get_by_label("A", exact=True).check()
    page.locator("#lh-compare-vote").click()
    expect(status).to_contain_text("Vote recorded: A", timeout=TIMEOUT_MS)
    expect(page.locator("#lh-compare-blind input")).not_to_be_checked()
    shown = " ".join(c.inner_text() for c in cols)
    assert LOCAL in shown and REMOTE in shown
    for col in cols:
        expect(col).to_contain_text("citations verified")
        expect(col).to_contain_text("tok/s")
    for i, col in enumerate(cols):  # any verified citation links to its passage, once
        links = col.locator("a.lh-cite")
        for j in range(links.count()):
            target = links.nth(j).get_attribute("href")
            assert target.startswith(f"#c{i}-src-") and page.locator(target).count() == 1
    board = page.locator("#lh-compare-board")
    expect(board).to_contain_text(LOCAL)
    expect(board).to_contain_text(REMOTE)
    winner = status.inner_text().split("A = ", 1)[1].split(",")[0].strip()
    assert winner in (LOCAL, REMOTE)
    rows = board.get_by_role("row")
    expect(rows.nth(1)).to_contain_text(winner)  # the board's first row, under the header
    expect(rows.nth(1)).to_contain_text(" 1 0 0 ")  # one win, no loss, no tie
    assert "Traceback" not in page.content()
