"""The API's one error handler: every failure becomes the caller's protocol's JSON error.

Owns: `ApiError` (status, kind, message, headers), the translation of engine and validation
errors into it, and the two wire shapes -- OpenAI's `{"error": {"message", "type", "param",
"code"}}` and Anthropic's `{"type": "error", "error": {"type", "message"}}`.
Does not know routes or generation; `protocol_of` decides the shape from the request alone
(the `/v1/messages` paths and any request carrying `anthropic-version` speak Anthropic).
Status codes: 400 malformed or a prompt over the window (the vendors' own shape: OpenAI's
`context_length_exceeded`, Anthropic's "prompt is too long", with the budget in the message;
nothing is ever truncated), 401 auth, 403 a model a client key may not use, 404 unknown
model or route, 413 body too large, 429 busy or over a key's limit or budget, 500 engine
failure.
"""
from __future__ import annotations

import json
import logging
from typing import Literal

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from engine.errors import ContextOverflow, EngineError, ModelLoadError, ModelNotFound
from workbench.errors import WorkbenchError

log = logging.getLogger(__name__)

Protocol = Literal["openai", "anthropic"]

# kind -> (OpenAI "type", OpenAI "code", Anthropic "type")
_KINDS: dict[str, tuple[str, str | None, str]] = {
    "invalid_request": ("invalid_request_error", None, "invalid_request_error"),
    "authentication": ("authentication_error", "invalid_api_key", "authentication_error"),
    "not_found": ("invalid_request_error", "model_not_found", "not_found_error"),
    "too_large": ("invalid_request_error", "request_too_large", "request_too_large"),
    "context_overflow": ("invalid_request_error", "context_length_exceeded",
                         "invalid_request_error"),
    "no_response": ("invalid_request_error", "previous_response_not_found", "not_found_error"),
    "no_route": ("invalid_request_error", "unknown_url", "not_found_error"),
    "busy": ("rate_limit_error", "rate_limit_exceeded", "rate_limit_error"),
    "rate_limited": ("rate_limit_error", "rate_limit_exceeded", "rate_limit_error"),
    "quota": ("insufficient_quota", "insufficient_quota", "rate_limit_error"),
    "forbidden": ("permission_error", "model_not_allowed", "permission_error"),
    "engine": ("server_error", None, "api_error"),
}


class ApiError(Exception):
    """An HTTP failure with a message a caller can act on."""

    def __init__(self, status: int, kind: str, message: str,
                 headers: dict[str, str] | None = None, param: str | None = None):
        assert kind in _KINDS, kind
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.headers = headers or {}
        self.param = param


def bad_request(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request", message, param=param)


def unknown_model(name: str, known: list[str]) -> ApiError:
    return ApiError(404, "not_found", f"model {name!r} is not served here; "
                    f"available: {', '.join(known) or 'none'}", param="model")


def busy(retry_after: int, waiting: int) -> ApiError:
    return ApiError(429, "busy", f"the local model is busy ({waiting} requests queued); "
                    f"retry in {retry_after} s", headers={"Retry-After": str(retry_after)})


def context_overflow(exc: ContextOverflow) -> ApiError:
    """Both vendors' wording, so clients that match on it (LiteLLM) recognise the overflow."""
    return ApiError(400, "context_overflow",
                    f"prompt is too long: {exc.prompt_tokens} tokens > {exc.window} maximum. "
                    f"This model's maximum context length is {exc.window} tokens, and the "
                    f"messages (with tools) take {exc.prompt_tokens}. Nothing was truncated: "
                    "shorten the prompt.", param="messages")


def protocol_of(request: Request) -> Protocol:
    if request.url.path.startswith("/v1/messages") or "anthropic-version" in request.headers:
        return "anthropic"
    return "openai"


def error_body(err: ApiError, protocol: Protocol) -> dict:
    oa_type, oa_code, an_type = _KINDS[err.kind]
    if protocol == "anthropic":
        return {"type": "error", "error": {"type": an_type, "message": err.message}}
    return {"error": {"message": err.message, "type": oa_type, "param": err.param,
                      "code": oa_code}}


def as_api_error(exc: BaseException) -> ApiError:
    """Translate anything raised while serving a request; unknown failures become a 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestValidationError):
        return bad_request(_validation_message(exc))
    if isinstance(exc, json.JSONDecodeError):
        return bad_request(f"request body is not valid JSON: {exc}")
    if isinstance(exc, HTTPException) and exc.status_code < 500:  # raised inside FastAPI
        return ApiError(exc.status_code, "too_large" if exc.status_code == 413 else
                        "invalid_request", f"invalid request: {exc.detail}")
    if isinstance(exc, ContextOverflow):
        return context_overflow(exc)
    if isinstance(exc, ModelNotFound):
        return ApiError(404, "not_found", str(exc), param="model")
    if isinstance(exc, ModelLoadError):
        return ApiError(500, "engine", f"the model could not be loaded: {exc}")
    if isinstance(exc, EngineError):
        return ApiError(500, "engine", f"the engine failed: {exc}")
    if isinstance(exc, WorkbenchError):
        return bad_request(str(exc))
    log.exception("unexpected failure while serving an API request", exc_info=exc)
    return ApiError(500, "engine", f"internal error: {type(exc).__name__}: {exc}")


def error_response(exc: BaseException, request: Request) -> JSONResponse:
    err = as_api_error(exc)
    return JSONResponse(error_body(err, protocol_of(request)), status_code=err.status,
                        headers=err.headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        if e.get("type") == "json_invalid":
            return "request body is not valid JSON"
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)
