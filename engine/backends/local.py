"""The local backend: a transformers model in this process, streamed through engine/generation.py.

Why: the embedded default, any Hugging Face folder, a GGUF file and DeepSeek-V4 checkpoints all
run here behind the same `Backend` protocol the remote backends speak. The chat template comes
from the tokenizer; thinking mode is passed to templates that know it (V4's), and `<think>` spans
come back as ThinkingDelta events. Tools go through the template too (engine/tools/render.py,
with its fallback for templates that know none); the model's calls are parsed back by its
family's format, and a forced call or a `response_format` is a grammar mask on decoding
(engine/tools/constrain.py).

One generation at a time per model (a lock): the KV cache and the torch threads are not shared.
Prefill goes through the on-disk prefix cache (engine/prefix_cache.py) when the caller gives
its folder (the product always does, from Settings, unless the user turned it off); each backend
holds its own PrefixCache over the shared folder, and Usage.cached_tokens says what it read.
Does not know: where the weights came from (loading.py) or names of models (models.py).
"""
from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from engine.events import Done, Event, GenerationParams, Message, ToolSpec, Usage
from engine.errors import ContextOverflow, ModelLoadError
from engine.tools import formats, render


class LocalBackend:
    name = "local"
    supports_tools = True

    def __init__(self, model, tokenizer, name: str, context_window: int,
                 *, force_thinking: bool | None = None, report=None, prefix_cache=None,
                 tier: str | None = None):
        if not getattr(tokenizer, "chat_template", None):
            raise ModelLoadError(f"{name}: the tokenizer has no chat template, so chat prompts "
                                 "cannot be built for it")
        if not isinstance(context_window, int) or context_window <= 0:
            raise ModelLoadError(f"{name}: context window must be a positive integer")
        self.hf_model = model
        self.tokenizer = tokenizer
        self.model = name
        self.base_name = name  # `model` becomes "base+adapter" while an adapter is attached
        self.context_window = context_window
        self.force_thinking = force_thinking
        self.report = report
        self.prefix_cache = prefix_cache  # engine.prefix_cache.PrefixCache or None
        self.tier = tier or size_tier(model)  # "small" | "strong": synthesis plans read it
        self.supports_thinking = "thinking" in tokenizer.chat_template
        self.eos_ids = _eos_ids(model, tokenizer)
        self.native_tools = formats.template_knows_tools(tokenizer.chat_template)
        self.tool_format = formats.format_for(tokenizer.chat_template)
        self._masks = None  # engine.tools.constrain.MaskFactory, built on first use
        self._lock = threading.Lock()

    @classmethod
    def load(cls, spec_or_path, cache_dir: Path, options=None, *,
             prefix_cache_dir: Path | None = None,
             prefix_cache_bytes: int | None = None) -> "LocalBackend":
        """Resolve, load and wrap a model; `report` on the instance says how the load went.

        `prefix_cache_dir`: where prompt prefixes' KV is kept (None: no prefix cache);
        `prefix_cache_bytes`: its size cap (None: engine.prefix_cache.DEFAULT_MAX_BYTES)."""
        from engine.loading import load
        from engine.models import ModelSpec, resolve

        spec = spec_or_path if isinstance(spec_or_path, ModelSpec) else resolve(spec_or_path)
        loaded = load(spec, Path(cache_dir), options)
        window = loaded.report.context_window or spec.context_window
        if window is None:
            raise ModelLoadError(f"{spec.name}: its config declares no context window")
        prefix_cache = None
        if prefix_cache_dir is not None:
            from engine.prefix_cache import DEFAULT_MAX_BYTES, PrefixCache

            prefix_cache = PrefixCache(prefix_cache_dir, max_bytes=DEFAULT_MAX_BYTES
                                       if prefix_cache_bytes is None else prefix_cache_bytes)
        return cls(loaded.model, loaded.tokenizer, spec.name, window,
                   force_thinking=spec.thinking, report=loaded.report,
                   prefix_cache=prefix_cache, tier=spec.tier)

    def swap_model(self, change, adapter: str | None):
        """Run `change(hf_model) -> hf_model` between generations (an adapter attached or
        detached, engine/adapters.py); the name becomes "base+adapter" or the base again."""
        with self._lock:
            self.hf_model = change(self.hf_model)
            self.model = f"{self.base_name}+{adapter}" if adapter else self.base_name
            return self.hf_model

    def _thinking(self, params: GenerationParams) -> bool:
        wanted = params.thinking if self.force_thinking is None else self.force_thinking
        return wanted and self.supports_thinking

    def render(self, messages: list[Message], thinking: bool = False,
               tools: tuple[ToolSpec, ...] = ()) -> str:
        extra = {"thinking": thinking, "enable_thinking": thinking} if self.supports_thinking \
            else {}
        if self.native_tools:
            chat = render.native_chat(messages)
            if tools:
                extra["tools"] = render.tool_dicts(tools)
        else:
            chat = render.fallback_chat(messages, tools, self.tool_format)
        prefill = render.is_prefill(messages)  # the answer continues the assistant's text
        return self.tokenizer.apply_chat_template(chat, add_generation_prompt=not prefill,
                                                  continue_final_message=prefill,
                                                  tokenize=False, **extra)

    def prompt_ids(self, messages: list[Message], thinking: bool = False,
                   tools: tuple[ToolSpec, ...] = ()) -> list[int]:
        text = self.render(messages, thinking, tools)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, messages: list[Message], tools: tuple[ToolSpec, ...] = ()) -> int:
        return len(self.prompt_ids(messages, tools=tuple(tools)))

    def _constraint(self, params: GenerationParams, tools: tuple[ToolSpec, ...]):
        """A grammar mask for a forced call or structured output; None when the model is free."""
        from engine.tools import constrain

        if tools and params.tool_choice not in ("auto", "none"):
            grammar = constrain.forced_call_grammar(self.tool_format, tools, params.tool_choice)
        elif params.response_format is not None and not tools:
            grammar = constrain.json_grammar(params.response_format)
        else:
            return None
        if self._masks is None:
            self._masks = constrain.MaskFactory(self.tokenizer, self.eos_ids)
        return self._masks.mask(grammar)

    def stream(self, messages: list[Message], params: GenerationParams,
               cancel: threading.Event | None = None) -> Iterator[Event]:
        from engine.generation import THINK_OPEN, stream_tokens
        from engine.tools.extract import forced_call_events, tool_call_events

        tools = params.tools if params.tool_choice != "none" else ()
        constraint = self._constraint(params, tools)
        thinking = self._thinking(params) and constraint is None
        if constraint is not None:
            params = replace(params, stop=())  # a stop string must not cut a valid answer
        text = self.render(messages, thinking, tools)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) >= self.context_window:
            raise ContextOverflow(len(ids), params.max_new_tokens, self.context_window)
        with self._lock:
            if cancel is not None and cancel.is_set():
                yield Usage(len(ids), 0)
                yield Done("cancelled")
                return
            events = stream_tokens(
                self.hf_model, self.tokenizer, ids, params, eos_ids=self.eos_ids,
                window=self.context_window, cancel=cancel,
                starts_in_thinking=thinking and text.rstrip().endswith(THINK_OPEN),
                prefix_cache=self.prefix_cache, constraint=constraint)
            if tools and constraint is not None and self.tool_format.FORCED_HEAD is not None:
                events = forced_call_events(events, self.tool_format)
            elif tools and constraint is not None:  # forced, but markup: parsed when complete
                events = tool_call_events(events, self.tool_format, parallel=False)
            elif tools:
                events = tool_call_events(events, self.tool_format, params.parallel_tool_calls)
            yield from events


SMALL_PARAMS = 3_000_000_000  # below this a model does short synthesis steps best


def size_tier(model) -> str | None:
    """"small" or "strong" from the parameter count; None when the model does not say."""
    count = getattr(model, "num_parameters", None)
    try:
        n = count() if callable(count) else None
    except Exception:  # a wrapped or offloaded model may not count: the window decides then
        return None
    if not n:
        return None
    return "small" if n < SMALL_PARAMS else "strong"


def _eos_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    config = getattr(model, "generation_config", None)
    for value in (getattr(config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids
