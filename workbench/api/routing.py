"""The one place every API request passes: size limit, API key, and the one error handler.

Owns `api_router(settings)`: an APIRouter whose route class reads the body under a size limit
(413), checks the key (401; `/healthz` stays open for health checks), and turns anything
raised -- validation, engine, unexpected -- into the caller's protocol's JSON error. It is a
route class, not an app-wide exception handler, so that mounting the API beside Gradio changes
nothing for Gradio's own routes (FastAPI's documented "custom APIRoute" pattern).
Does not know what the routes do.
"""
from __future__ import annotations

from typing import Callable

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from workbench.config import Settings

from .auth import OPEN_PATHS, check_key
from .errors import ApiError, error_response

MAX_BODY_BYTES = 32 * 1024 * 1024


def api_router(settings: Settings, max_body_bytes: int = MAX_BODY_BYTES) -> APIRouter:
    class ApiRoute(APIRoute):
        def get_route_handler(self) -> Callable:
            handler = super().get_route_handler()
            path = self.path

            async def guarded(request: Request) -> Response:
                try:
                    if path not in OPEN_PATHS:
                        check_key(settings.api_key, request)
                    await _read_body(request, max_body_bytes)
                    return await handler(request)
                except ClientDisconnect:
                    return Response(status_code=499)  # nobody is listening any more
                except Exception as exc:
                    return error_response(exc, request)

            return guarded

    return APIRouter(route_class=ApiRoute)


async def _read_body(request: Request, limit: int) -> None:
    """Read the body once (FastAPI reuses it), refusing it past `limit` bytes."""
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


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, "too_large", f"request body of {size} bytes exceeds the limit of "
                    f"{limit} bytes")
