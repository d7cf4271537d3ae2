"""API keys: who may call the HTTP API, and when a key is mandatory.

Owns the check of `Authorization: Bearer K` (OpenAI clients) and `x-api-key: K` (Anthropic
clients) -- either header works on every route -- compared in constant time, and the rule that
a server bound to anything but loopback must have a key (DESIGN promise 4).
Does not know where the key comes from: it is `Settings.api_key`, built once by the caller.
"""
from __future__ import annotations

import hmac

from starlette.requests import Request

from workbench.config import Settings
from workbench.errors import WorkbenchError

from .errors import ApiError


class ApiKeyRequired(WorkbenchError):
    """Serving off-loopback without an API key would expose the model to the network."""

    def __init__(self, host: str):
        super().__init__(f"refusing to serve the API on {host!r} without an API key: "
                         "set --api-key (or LONGHAND_API_KEY), or bind to 127.0.0.1")


def ensure_safe_bind(settings: Settings) -> None:
    """Raise ApiKeyRequired when the host is reachable from other machines and no key is set."""
    if not settings.is_loopback and not settings.api_key:
        raise ApiKeyRequired(settings.host)


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None


def check_key(expected: str | None, request: Request) -> None:
    """No key configured: open (loopback only, see ensure_safe_bind). Otherwise it must match."""
    if not expected:
        return
    given = presented_key(request)
    if given is None:
        raise ApiError(401, "authentication",
                       "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(401, "authentication", "invalid API key")
