"""The one place every API request passes: size limit, API key, and the one error handler.

Owns `api_router(settings)`: an APIRouter whose route class reads the body under a size limit
(413), decodes a JSON body (body.py: 400 for bad UTF-8, syntax, depth or a lone surrogate),
checks the key (401; `/healthz` stays open for health checks; client keys and their limits
through client_access.py, which also meters generation requests), and turns anything
raised -- validation, engine, unexpected -- into the caller's protocol's JSON error. It is a
route class, not an app-wide exception handler, so that mounting the API beside Gradio changes
nothing for Gradio's own routes (FastAPI's documented "custom APIRoute" pattern).
`add_unknown_route` answers any other `/v1/...` path with a 404 in the caller's protocol's
shape (not FastAPI's `{"detail": "Not Found"}`); it stays under `/v1/` so the UI mounted
beside the API keeps its own paths.
Does not know what the routes do.
"""
from __future__ import annotations

import time
from typing import Callable

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from workbench.config import Settings

from .auth import OPEN_PATHS, check_key
from .body import decode_json_body
from .errors import ApiError, error_response
from .sse import EventStreamResponse

MAX_BODY_BYTES = 32 * 1024 * 1024


def api_router(settings: Settings, max_body_bytes: int = MAX_BODY_BYTES,
               access=None) -> APIRouter:
    """`access` (client_access.ClientAccess): client keys, their limits and usage rows;
    None checks only the admin key."""
    class ApiRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            handler = super().get_route_handler()
            path = self.path

            async def guarded(request: Request) -> Response:
                started, ticket = time.perf_counter(), None
                try:
                    caller = None
                    if path not in OPEN_PATHS:
                        if access is None:
                            check_key(settings.api_key, request)
                        else:
                            caller = await access.identify(request)
                    request.state.caller = caller  # None: the admin, or no keys at all
                    await _read_body(request, max_body_bytes)
                    if caller is not None:
                        ticket = await access.admit(request, caller, path, started)
                    response = await handler(request)
                except ClientDisconnect:
                    response = Response(status_code=499)  # nobody is listening any more
                except Exception as exc:
                    response = error_response(exc, request)
                if ticket is not None:
                    if isinstance(response, EventStreamResponse):  # ends with the stream
                        response.add_on_close(lambda: ticket.finish(response.status_code))
                    else:
                        ticket.finish(response.status_code)
                return response

            return guarded

    return APIRouter(route_class=ApiRoute)


def add_unknown_route(router: APIRouter) -> None:
    """Register last: every method on a `/v1/` path no other route took."""
    @router.api_route("/v1/{path:path}", include_in_schema=False,
                      methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def unknown(path: str, request: Request):
        raise ApiError(404, "no_route", f"unknown route {request.method} /v1/{path}; this "
                       "server offers /v1/models, /v1/chat/completions, /v1/responses, "
                       "/v1/messages and /v1/messages/count_tokens")


async def _read_body(request: Request, limit: int) -> None:
    """Read the body once, refusing it past `limit` bytes, and decode it where FastAPI would
    parse JSON; FastAPI then reuses both (Starlette's `_body` and `_json` caches)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's cache for request.body()
    if request._body and _is_json(request.headers.get("content-type")):
        request._json = decode_json_body(request._body)  # ... and for request.json()


def _is_json(content_type: str | None) -> bool:
    """FastAPI's rule (strict content type): application/json or application/*+json."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, "too_large", f"request body of {size} bytes exceeds the limit of "
                    f"{limit} bytes")
