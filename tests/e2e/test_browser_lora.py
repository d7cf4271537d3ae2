"""The LoRA tab in a real browser against the real app: a project with a style document,
start a short training, watch the status and the loss plot update step by step, and see the
held-out comparison when it finishes."""
from __future__ import annotations

import re

from pathlib import Path

import pytest

from app_runner import start_app, stop_app
from browser_pages import open_app

SHERLOCK = "prose/jsvine__markovify/sherlock.txt"
TIMEOUT_MS = 400_000

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _style_text(testdocs: Path, words: int = 2500) -> str:
    raw = (testdocs / SHERLOCK).read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    out, count = [], 0
    for para in raw[raw.index("To Sherlock Holmes she is always"):].split("\n\n"):
        out.append(para)
        count += len(para.split())
        if count >= words:
            break
    return "\n\n".join(out)


@pytest.fixture
def app_with_style(tmp_path, testdocs):
    from workbench.config import Settings
    from workbench.workbench import Workbench

    wb = Workbench(Settings(data_dir=tmp_path / "data"))
    wb.new_project("Baker")
    wb.import_files("Baker", [("scandal.txt", _style_text(testdocs).encode())], role="style")
    wb.library.close()
    app = start_app(tmp_path)
    yield app
    stop_app(app)



def test_train_from_the_lora_tab_and_watch_the_loss_plot(browser, app_with_style):
    from playwright.sync_api import expect

    page = open_app(browser, app_with_style.url)
    page.get_by_role("tab", name="LoRA").click()
    page.locator("#lh-lora-project input").click()
    page.get_by_role("option", name="Baker").click()
    expect(page.locator("#lh-lora-docs")).to_contain_text("scandal (style)")
    expect(page.locator("#lh-lora-targets")).to_contain_text("q, k, v, o")
    page.get_by_label("Steps").fill("4")
    page.get_by_label("Rank").fill("2")
    page.get_by_label("Tokens per example").fill("48")
    page.get_by_label("Checkpoint every").fill("2")
    page.get_by_label("Top layers only (0 = all)").fill("2")
    page.locator("#lh-lora-train").click()
    status, plot = page.locator("#lh-lora-status"), page.locator("#lh-lora-loss")
    # the UI polls, so it may skip a step: any finished step with its loss will do
    expect(status).to_contain_text(re.compile(r"step [1-4]/4, loss \d"), timeout=TIMEOUT_MS)
    # the plot draws one point per finished step: it has marks while training goes on
    expect(plot.locator("canvas, svg").first).to_be_visible(timeout=TIMEOUT_MS)
    expect(status).to_contain_text("held-out loss", timeout=TIMEOUT_MS)
    expect(page.locator("#lh-lora-samples")).to_contain_text("With adapter")
    expect(page.locator("#lh-lora-adapters")).to_contain_text("style-1")
    expect(page.locator("#lh-lora-adapters")).to_contain_text("ready")
