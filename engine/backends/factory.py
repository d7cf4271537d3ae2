"""One place that turns "a model name or path, maybe a server" into a Backend.

Why: the UI, CLI, HTTP API and notebooks choose models the same way. A base_url means a remote
server (OpenAI-compatible unless protocol="anthropic"); no base_url means a local load. Known
names (models.py) give remote servers their canonical name, the window the model is published
with, and the forced thinking mode of retired aliases (deepseek-reasoner). Every remote backend
gets a token counter (engine/backends/remote_tokens.py): the tokenizer given, or the embedded one
as a stated estimate, so a budget never fails for want of a tokenizer. A local backend keeps the
LoadOptions it was loaded with (`load_options`), which engine/backends/describe.py reports.

Does not know: settings or environment variables (callers pass everything explicitly).
"""
from __future__ import annotations

from pathlib import Path

from engine.backends.protocol import Backend
from engine.backends.remote_tokens import remote_counter
from engine.errors import EngineError
from engine.models import KNOWN, RETIRED, resolve

PROTOCOLS = {"openai": "openai_compat", "openai_compat": "openai_compat",
             "anthropic": "anthropic"}


def make_backend(model: str, *, cache_dir: Path, base_url: str | None = None,
                 api_key: str | None = None, protocol: str | None = None,
                 context_window: int | None = None, options=None,
                 probe: bool = True, name: str | None = None,
                 tokenizer: str | None = None, prefix_cache_dir: Path | None = None,
                 prefix_cache_bytes: int | None = None) -> Backend:
    """`probe=False` (remote only): trust the configured window and contact nothing yet.

    Remote only: `model` is the id the server knows, `name` the one the user chose (default:
    `model`), `tokenizer` what counts its prompts (remote_tokens.remote_counter).
    Local only: `prefix_cache_dir` / `prefix_cache_bytes`, the on-disk prefix cache."""
    if base_url:
        counter = remote_counter(tokenizer, Path(cache_dir))
        return _remote(model, base_url, api_key, protocol, context_window, probe, counter, name)
    if protocol not in (None, "local"):
        raise EngineError(f"protocol {protocol!r} needs a base_url for its server")
    from engine.backends.local import LocalBackend

    backend = LocalBackend.load(model, Path(cache_dir), options,
                                prefix_cache_dir=prefix_cache_dir,
                                prefix_cache_bytes=prefix_cache_bytes)
    backend.load_options = options
    if context_window is not None:
        if context_window <= 0 or context_window > backend.context_window:
            raise EngineError(f"context_window {context_window} must be between 1 and the "
                              f"model's own window of {backend.context_window}")
        backend.context_window = context_window
    return backend


def _remote(model: str, base_url: str, api_key: str | None, protocol: str | None,
            context_window: int | None, probe: bool, counter, name: str | None) -> Backend:
    kind = PROTOCOLS.get((protocol or "openai").lower())
    if kind is None:
        raise EngineError(f"unknown protocol {protocol!r}: use openai or anthropic")
    remote_name, thinking, window = model, None, context_window
    if model.lower() in KNOWN or model.lower() in RETIRED:
        spec = resolve(model)
        remote_name, thinking = spec.name, spec.thinking
        window = context_window or spec.context_window
    arguments = dict(context_window=window, force_thinking=thinking, probe=probe,
                     counter=counter, name=name)
    if kind == "anthropic":
        from engine.backends.anthropic import AnthropicBackend

        return AnthropicBackend(remote_name, base_url, api_key, **arguments)
    from engine.backends.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(remote_name, base_url, api_key, **arguments)
