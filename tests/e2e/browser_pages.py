"""Opening the app in the browser for a test: a page that is ready to be driven.

Gradio renders the components before its first load event has filled them in; a click in that
gap can be lost or overwritten. The Library tab marks `body[data-longhand-ready]` once the
project list has arrived, and every browser test waits for it before touching anything.
"""
from __future__ import annotations

READY_SELECTOR = "body[data-longhand-ready='1']"
LOAD_TIMEOUT_MS = 120_000  # two busy cores and a cold Python: start-up is seconds, not minutes


def open_app(browser, url: str, *, timeout_ms: int = 60_000, **page_options):
    """A new page on the app, returned once the first load event has finished."""
    page = browser.new_page(**page_options)
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    page.wait_for_selector(READY_SELECTOR, state="attached", timeout=LOAD_TIMEOUT_MS)
    return page
