"""build_ui(ctx) -> gr.Blocks: the Gradio app, one tab per module (workbench/ui/tab_*.py), and
mount_ui(app, ctx): those Blocks on the app's FastAPI at "/", behind the API key as password.

Tabs are built by `build(ctx)` functions that only lay out components and wire handlers to the
Workbench facade; no business logic or database access happens in the UI.
Owns what the key gate (workbench/api/auth.py `KeyGate`) must know of Gradio: the paths the
login page needs before anyone has logged in, and whether a request carries a live session.
Gradio's own `auth` checks only some of its routes (`/gradio_api/reset`, `/cancel`,
`/heartbeat/*`, `/startup-events`, `/app_id`, `/openapi.json` and more answer anyone), so the
gate refuses everything else; the session check reads Gradio's login cookie and token table,
which tests/workbench/api/test_api_probe_gate.py drives over real HTTP to catch an upgrade
that renames them.
Does not know: how the app is served (app.py runs uvicorn).
"""
from __future__ import annotations

import hmac
from typing import Callable

import gradio as gr
from gradio.routes import App as GradioApp
from starlette.requests import HTTPConnection
from starlette.routing import Mount

from workbench.context import AppContext
from workbench.ui import (answer_view, page_style, tab_compare, tab_engine, tab_library,
                          tab_lora, tab_synthesize, tab_trust, tab_usage)

TABS = (tab_library, tab_synthesize, tab_compare, tab_lora, tab_trust, tab_engine, tab_usage)
# What the login page loads before login (seen in Chromium): the page, its script and style
# bundles, fonts, the theme, and the login form's POST.
LOGIN_PAGE_PATHS = frozenset({"/", "/login", "/login/", "/logout", "/favicon.ico",
                              "/theme.css"})
LOGIN_PAGE_PREFIXES = ("/assets/", "/static/", "/svelte/")


def build_ui(ctx: AppContext) -> gr.Blocks:
    # Uploaded files are copied into Gradio's cache; clear them after an hour.
    with gr.Blocks(title="Longhand", analytics_enabled=False,
                   delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# Longhand\nYour project's screenplays, drafts, notes, transcripts and "
                    "papers in one library.")
        with gr.Tabs():
            for tab in TABS:
                tab.build(ctx)
    return demo


def mount_ui(app, ctx: AppContext) -> tuple[object, Callable[[HTTPConnection], bool]]:
    """Mount the UI at '/'; returns the app and the check of a logged-in UI session."""
    settings = ctx.settings
    app = gr.mount_gradio_app(
        app, build_ui(ctx), path="/", server_name=settings.host,
        server_port=settings.port, auth=_password_check(settings.api_key), ssr_mode=False,
        max_file_size=settings.max_upload_bytes, footer_links=[], pwa=False,
        mcp_server=False, enable_monitoring=False,
        head=answer_view.HEAD + page_style.HEAD)  # citations open in place; tables
    return app, _session_check(_gradio_app(app))


def _gradio_app(app) -> GradioApp:
    """The Gradio app `mount_ui` mounted on `app`."""
    return next(r.app for r in app.routes
                if isinstance(r, Mount) and isinstance(r.app, GradioApp))


def stream_closer(app) -> Callable[[], None]:
    """A function that ends the UI's open streams, for the server to call as it shuts down.

    Why: every open tab holds Gradio's heartbeat stream open; on Ctrl-C the server waited for
    it to close (for ever), or, with a grace period, cancelled it with a traceback in the log.
    Gradio ends its streams itself when its app's stop event is set and its queue is closed.
    Call it from the event loop's thread (the server's signal handler runs there)."""
    gradio_app = _gradio_app(app)

    def close() -> None:
        gradio_app.get_blocks()._queue.close()
        gradio_app.stop_event.set()
    return close


def _password_check(api_key: str | None):
    """With an API key, the UI asks for it as the password (any user name)."""
    if not api_key:
        return None
    key = api_key.encode("utf-8")
    return lambda _user, password: hmac.compare_digest(password.encode("utf-8"), key)


def _session_check(gradio_app) -> Callable[[HTTPConnection], bool]:
    """True for a request whose login cookie names a session Gradio handed out at /login."""
    def session_ok(request: HTTPConnection) -> bool:
        cookie_id = gradio_app.cookie_id
        for name in (f"access-token-{cookie_id}", f"access-token-unsecure-{cookie_id}"):
            token = request.cookies.get(name)
            if token and token in gradio_app.tokens:
                return True
        return False

    return session_ok
