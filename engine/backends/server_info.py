"""What a remote server says about a model: its context window, from the /v1/models entry.

Why: the window decides every budget, so it is read from the server when the server states it
(vLLM `max_model_len`, llama.cpp `meta.n_ctx_train`, LM Studio/others `context_length`,
Anthropic `max_input_tokens`, ...), otherwise taken from configuration, and never guessed.
Does not know: how to reach the server (each backend's SDK client does that).
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlparse

from engine.errors import EngineError

def check_remote_args(model: str, base_url: str, context_window: int | None) -> str:
    """Validate what every remote backend is built from; returns the normalised base_url."""
    if not model or not model.strip():
        raise EngineError("a remote backend needs the model name the server knows")
    if context_window is not None and (not isinstance(context_window, int)
                                       or context_window <= 0):
        raise EngineError(f"context_window must be a positive integer, not {context_window!r}")
    parsed = urlparse(base_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise EngineError(f"base_url must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                          f"not {base_url!r}")
    return base_url.rstrip("/")


WINDOW_KEYS = ("context_window", "context_length", "max_model_len", "max_context_length",
               "max_input_tokens", "n_ctx", "n_ctx_train")
NESTED = ("meta", "metadata", "model_info", "info")


def window_from_entry(entry: Mapping[str, Any] | None) -> int | None:
    """The first positive integer window a model entry states, looking one level deep too."""
    if not entry:
        return None
    for key in WINDOW_KEYS:
        value = entry.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    for key in NESTED:
        inner = entry.get(key)
        if isinstance(inner, Mapping):
            found = window_from_entry(inner)
            if found:
                return found
    return None


def choose_window(server: int | None, configured: int | None, model: str, base_url: str) -> int:
    """Server first, then configuration; a clear error when neither says."""
    if server:
        return server
    if configured:
        return configured
    raise EngineError(
        f"the context window of '{model}' at {base_url} is unknown: the server's /v1/models "
        "entry does not state it; set it in the backend configuration (context_window)"
    )
