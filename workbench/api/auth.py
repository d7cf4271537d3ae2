"""API keys: who may call the app's port, and when a key is mandatory.

Owns the check of `Authorization: Bearer K` (OpenAI clients) and `x-api-key: K` (Anthropic
clients) -- either header works on every route -- compared in constant time, the rule that
a server bound to anything but loopback must have a key (DESIGN promise 4), and `KeyGate`, the
middleware that makes a set key cover every path on the port, not only the API's routes.
Does not know where the key comes from (`Settings.api_key`, built once by the caller), nor what
a UI session is: the UI hands the gate its own `session_ok` check and login-page paths.
"""
from __future__ import annotations

import hmac
from typing import Callable, Collection

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench.config import Settings, host_addresses
from workbench.errors import WorkbenchError

from .errors import ApiError, error_response

OPEN_PATHS = frozenset({"/healthz"})  # health checks answer without a key
CLIENT_PREFIX = "lh_"  # client keys (workbench/client_keys.py) open the API's paths only
API_PREFIX = "/v1/"


class ApiKeyRequired(WorkbenchError):
    """Serving off-loopback without an API key would expose the model to the network."""

    def __init__(self, host: str):
        addresses = host_addresses(host)
        if not host.strip():
            why = "an empty host binds every interface"
        elif addresses is None:
            why = ("the name does not resolve here, and a name counts as loopback only when "
                   "every address it resolves to is")
        else:
            why = f"it listens on {', '.join(map(str, addresses))}, not only on loopback"
        super().__init__(f"refusing to serve on {host!r} without an API key ({why}): "
                         "set --api-key (or LONGHAND_API_KEY), or bind to 127.0.0.1")


def ensure_safe_bind(settings: Settings) -> None:
    """Raise ApiKeyRequired when the host is reachable from other machines and no key is set."""
    if not settings.is_loopback and not settings.api_key:
        raise ApiKeyRequired(settings.host)


def presented_key(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def check_key(expected: str | None, request: Request) -> None:
    """No key configured: open (loopback only, see ensure_safe_bind). Otherwise it must match."""
    if expected:
        refusal = key_refusal(expected, request)
        if refusal is not None:
            raise refusal


def key_refusal(expected: str, request: HTTPConnection) -> ApiError | None:
    """The 401 for a request without `expected`, or None when it carries it."""
    given = presented_key(request)
    if given is None:
        return ApiError(401, "authentication", "missing API key: send "
                        "'Authorization: Bearer <key>' or 'x-api-key: <key>'")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return ApiError(401, "authentication", "invalid API key")
    return None


class KeyGate:
    """ASGI middleware: with a key set, no path on the port answers without credentials.

    Routes are refused unless they are open (`/healthz`, the login page's `open_paths` and
    `open_prefixes`), or the request carries the key, or -- outside the API -- a live UI
    session (`session_ok`), or -- on the API -- a client key, which the API's routes check
    themselves (a client key never opens the UI's routes). A gate in front of everything, rather than a check per route,
    also covers the routes a mounted app (Gradio) adds or leaves open itself. A UI session is
    not an API key: the API answers only the key, so a browser cookie cannot drive it.
    Pure ASGI rather than BaseHTTPMiddleware, so event streams pass through unbuffered.
    """

    def __init__(self, app: ASGIApp, *, api_key: str, open_paths: Collection[str] = (),
                 open_prefixes: tuple[str, ...] = (),
                 session_ok: Callable[[HTTPConnection], bool] | None = None):
        self.app, self.api_key = app, api_key
        self.open_paths = OPEN_PATHS | frozenset(open_paths)
        self.open_prefixes = open_prefixes
        self.session_ok = session_ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._allowed(scope):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
        else:
            await self._refuse(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path in self.open_paths or path.startswith(self.open_prefixes):
            return True
        request = HTTPConnection(scope)
        if key_refusal(self.api_key, request) is None:
            return True
        if _is_api_path(path) and (presented_key(request) or "").startswith(CLIENT_PREFIX):
            return True  # a client key: the API's own check (client_access.py) decides
        return (not _is_api_path(path) and self.session_ok is not None
                and self.session_ok(request))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        refusal = key_refusal(self.api_key, request)
        if _is_api_path(scope["path"]) and refusal is not None:
            response = error_response(refusal, request)
        else:
            response = JSONResponse(status_code=401, content={
                "detail": "not logged in: open / and log in with the API key as the password, "
                          "or send 'Authorization: Bearer <key>'"})
        await response(scope, receive, send)


def _is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")
