"""Fixtures for the end-to-end tests: the real app on a loopback port and Debian's Chromium."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from app_runner import start_app, stop_app


@pytest.fixture
def running_app(tmp_path):
    app = start_app(tmp_path)
    yield app
    stop_app(app)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright (no browser download). Skipped where it is not
    installed, except under CI, where the browser tests must run."""
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    # Playwright's 5 s default for `expect` is tight on two busy cores; the suite asks for
    # longer waits where a step is known to be slow.
    expect.set_options(timeout=20_000)
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                      headless=True)
        yield launched
        launched.close()
