"""What a remote server says about a model: its context window, from the /v1/models entry.

Why: the window decides every budget, so it is read from the server when the server states it
(vLLM `max_model_len`, llama.cpp `meta.n_ctx_train`, LM Studio/others `context_length`,
Anthropic `max_input_tokens`, ...), otherwise taken from configuration, and never guessed.
Does not know: how to reach the server (each backend's SDK client does that).
"""
from __future__ import annotations

from typing import Any, Mapping

from engine.errors import EngineError

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
