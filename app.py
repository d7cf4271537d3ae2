"""Longhand's entry point: parse flags, build Settings once, serve the UI and the HTTP API.

    python app.py [--host H] [--port P] [--data-dir D] [--model NAME_OR_PATH] [--api-key K]

One FastAPI app on one port: the HTTP API (`workbench.api.mount`) first, then the Gradio UI at
"/". Start-up stays fast because nothing here imports torch: the model loads on first use.
The privacy environment (no Gradio analytics, no Hub look-ups) is set before gradio is imported.
Binding to anything but loopback requires --api-key; the UI then asks for it as the password,
and a gate in front of the whole app (`KeyGate`) refuses every path without the key or a UI
session, except the login page.

Does not know: projects, formats or models; it wires the parts together and runs uvicorn.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Sequence

import uvicorn

from workbench.config import DEFAULT_MODEL, Settings, apply_privacy_env
from workbench.errors import WorkbenchError
from workbench.placement_flags import add_placement_flags

EXIT_USER_ERROR = 2
# Ctrl-C or SIGTERM: requests get this long to finish, then open streams (a browser tab keeps
# one open for as long as it shows the UI) are closed. Without it the app never exited while
# a tab was open. A job cut short stays resumable (its chunks are saved as they finish).
SHUTDOWN_GRACE_S = 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python app.py",
        description="Longhand: a local-first workbench for long-document creative work.",
        epilog="Every flag can also come from the environment: LONGHAND_<FLAG>, e.g. "
               "LONGHAND_DATA_DIR. Flags win over the environment.")
    p.add_argument("--host", help="bind address (default 127.0.0.1; others need --api-key)")
    p.add_argument("--port", type=int, help="port for the UI and the API (default 7860)")
    p.add_argument("--data-dir", type=Path, help="where projects live (default projects/)")
    p.add_argument("--cache-dir", type=Path, help="converted models (default ~/.cache/longhand)")
    p.add_argument("--model", help=f"model name or path, or a model added with "
                                   f"`python -m workbench add-model` (default {DEFAULT_MODEL})")
    p.add_argument("--api-key", help="key the HTTP API requires; also the UI password")
    p.add_argument("--api-only", action="store_true", default=None,
                   help="serve only the HTTP API, no UI")
    p.add_argument("--max-upload-bytes", type=int, help="largest importable file (200 MB)")
    p.add_argument("--api-queue-size", type=int,
                   help="API requests allowed to wait for the model (default 8)")
    p.add_argument("--alias", action="append", metavar="ALIAS=MODEL",
                   help="API model alias, repeatable, e.g. claude-sonnet=my-model (any other "
                        "claude* name means the served model); LONGHAND_ALIAS=a=x,b=y")
    p.add_argument("--store-prompts", action="store_true", default=None,
                   help="keep prompt text in the API's usage rows (default: tokens, times "
                        "and cost only)")
    add_placement_flags(p)
    cache = p.add_argument_group("prefix cache (local models: a second question over the "
                                 "same documents skips reading them again)")
    cache.add_argument("--no-prefix-cache", dest="prefix_cache", action="store_false",
                       default=None, help="turn it off (LONGHAND_PREFIX_CACHE=0)")
    cache.add_argument("--prefix-cache-dir", type=Path,
                       help="where it lives (default <data dir>/prefix-cache)")
    cache.add_argument("--prefix-cache-gb", type=float,
                       help="size cap; least recently used entries go first (default 8)")
    return p


def parse_settings(argv: Sequence[str] | None = None, env=None) -> Settings:
    """Flags > LONGHAND_* environment > defaults; exits with usage text on bad flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return Settings.from_sources(vars(args), env=env)
    except ValueError as exc:  # a LONGHAND_* variable that does not parse
        parser.error(str(exc))


def build_app(settings: Settings):
    """The FastAPI app with the API routes and (unless --api-only) the Gradio UI at '/'."""
    apply_privacy_env()
    from fastapi import FastAPI

    import workbench.api
    from workbench.context import AppContext

    ctx = AppContext.from_settings(settings)
    app = FastAPI(title="Longhand", docs_url=None, redoc_url=None, openapi_url=None)
    api = workbench.api.mount(app, ctx)
    gate: dict = {}
    close_streams = lambda: None  # noqa: E731 (the API alone keeps no stream open when idle)
    if not settings.api_only:
        from workbench.ui.app import (LOGIN_PAGE_PATHS, LOGIN_PAGE_PREFIXES, mount_ui,
                                      stream_closer)

        app, session_ok = mount_ui(app, ctx)
        close_streams = stream_closer(app)
        gate = dict(open_paths=LOGIN_PAGE_PATHS, open_prefixes=LOGIN_PAGE_PREFIXES,
                    session_ok=session_ok)
    if settings.api_key:
        from workbench.api.auth import KeyGate

        app.add_middleware(KeyGate, api_key=settings.api_key, **gate)
    app.state.ctx, app.state.api = ctx, api
    app.state.close_streams = close_streams
    return app


class _Server(uvicorn.Server):
    """uvicorn's server, which also ends the UI's open streams when asked to exit.

    Gradio's queue streams check for a stopped server only every 10 s, so the ones still open
    after SHUTDOWN_GRACE_S are cancelled by uvicorn; those cancellations, which we asked for,
    are kept out of the log (uvicorn prints each as an "Exception in ASGI application")."""

    def __init__(self, config: uvicorn.Config, on_exit):
        super().__init__(config)
        self._on_exit = on_exit
        logging.getLogger("uvicorn.error").addFilter(self._not_shutdown_noise)

    def _not_shutdown_noise(self, record: logging.LogRecord) -> bool:
        if not self.should_exit:
            return True
        error = record.exc_info[1] if record.exc_info else None
        return not (isinstance(error, asyncio.CancelledError)
                    or "timeout graceful shutdown exceeded" in record.getMessage())

    def handle_exit(self, sig, frame) -> None:
        if not self.should_exit:  # the first Ctrl-C; a second one forces the exit at once
            self._on_exit()
        super().handle_exit(sig, frame)


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_settings(argv)
    try:
        from workbench.api.auth import ensure_safe_bind
        from workbench.context import parse_max_memory

        ensure_safe_bind(settings)
        parse_max_memory(settings.max_memory)  # a typo fails now, not at the first model load
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        from workbench.library.db import migrate

        migrate(settings.database)  # at head before the first request; a bad URL fails here
    except (WorkbenchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    app = build_app(settings)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    print(f"Longhand at http://{host}:{settings.port}  (data: {settings.data_dir}, "
          f"model: {settings.model})", flush=True)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            timeout_graceful_shutdown=SHUTDOWN_GRACE_S)
    _Server(config, on_exit=app.state.close_streams).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
