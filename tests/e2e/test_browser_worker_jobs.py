"""Jobs on worker processes from the browser: with "Run on a worker" ticked, Run queues the job
(nothing runs in the app), the jobs table says it waits for a worker, a real `python -m
workbench worker --once` on the same library runs it, and the tab, which follows the job's row,
shows the answer and the table names the worker."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app_runner import ROOT
from browser_pages import open_app

SCRIPT = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"
TIMEOUT_MS = 300_000

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _cli(data_dir, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LONGHAND_")}
    cmd = [sys.executable, "-m", "workbench", "--data-dir", str(data_dir), *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout_s)
    assert done.returncode == 0, done.stderr
    return done


def test_a_job_queued_from_the_tab_runs_on_a_worker(browser, running_app, testdocs):
    from playwright.sync_api import expect

    data = running_app.data_dir
    _cli(data, "new-project", "Bob")
    _cli(data, "import", "Bob", str(testdocs / SCRIPT))

    page = open_app(browser, running_app.url)
    page.get_by_role("tab", name="Synthesize").click()
    page.locator("#lh-syn-project input").click()
    page.get_by_role("option", name="Bob").click()
    expect(page.locator("#lh-syn-docs")).to_contain_text("tokens")
    page.locator("#lh-syn-task input").click()
    page.get_by_role("option", name="Free prompt").click()
    page.locator("#lh-syn-question textarea").fill("Who is Cyber Bob?")
    page.get_by_label("Answer tokens").fill("24")
    page.get_by_label("Run on a worker").check()
    page.locator("#lh-syn-run").click()
    status = page.locator("#lh-syn-status")
    expect(status).to_contain_text("waiting for a worker", timeout=TIMEOUT_MS)  # model loads

    page.locator("#lh-syn-jobs-box").get_by_text("Jobs of this project").click()
    page.locator("#lh-syn-jobs-refresh").click()
    table = page.locator("#lh-syn-jobs")
    expect(table).to_contain_text("queued")
    expect(table).to_contain_text("waiting for a worker")
    assert "synthesis" in table.inner_text()

    _cli(data, "worker", "--once", "--json", timeout_s=TIMEOUT_MS / 1000)  # runs the job
    expect(status).to_contain_text("done · whole", timeout=TIMEOUT_MS)
    expect(status).to_contain_text("saved as artifact 1 (Free prompt)")
    assert page.locator("#lh-answer").inner_text().strip()
    page.locator("#lh-syn-jobs-refresh").click()
    expect(table).to_contain_text("done")
    expect(table).to_contain_text("worker ")
    expect(table).not_to_contain_text("this app")
    assert "Traceback" not in page.content()
