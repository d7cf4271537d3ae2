"""A lean streaming decode loop over a transformers causal LM: prefill, then one token per step.

Why not `model.generate()` in a thread: cancellation must be immediate (checked before every
step), the per-step overhead must be small on a 2-core CPU, and the stream must be ours (text and
thinking deltas that never split a UTF-8 character, stop strings held back until they cannot
match). Shape of the loop follows gpt-fast: `prefill` and `decode_step` are small functions;
the KV cache holds the past: a preallocated one on engine/llama/fast.py's forward for
Llama-family models on CPU, transformers' `DynamicCache` otherwise (`open_runner` picks).

Does not know: chat templates or messages (backends/local.py renders them), devices or loading.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator

from engine.events import (Done, Event, GenerationParams, PrefillProgress, TextDelta,
                           ThinkingDelta, Usage, run_to_end)
from engine.loop_guard import filter_events, guard_for

PREFILL_CHUNK = 1024  # tokens per prefill forward: bounds eager attention's S x S scores
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


@dataclass
class StepSampler:
    """Greedy when temperature is 0, else temperature + nucleus sampling with a seeded generator.

    `penalty` > 1 is the CTRL repetition penalty (Keskar et al. 2019, as transformers applies
    it) over the tokens generated so far, not the prompt: an answer must stay free to copy
    anchors and quotes from its documents."""

    temperature: float
    top_p: float
    generator: object | None
    penalty: float = 1.0
    seen: list = field(default_factory=list)  # generated token ids, once each
    seen_set: set = field(default_factory=set)

    @classmethod
    def from_params(cls, params: GenerationParams, device) -> "StepSampler":
        import torch

        gen = None
        if params.temperature > 0:
            gen = torch.Generator(device=device)
            gen.manual_seed(params.seed if params.seed is not None else torch.seed())
        return cls(params.temperature, params.top_p, gen, params.repetition_penalty)

    def __call__(self, logits) -> int:  # logits: (V,)
        import torch

        if self.penalty != 1.0 and self.seen:
            ids = torch.tensor(self.seen, dtype=torch.long, device=logits.device)  # (K,)
            picked = logits[ids]
            logits[ids] = torch.where(picked > 0, picked / self.penalty, picked * self.penalty)
        if self.temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            keep = torch.cumsum(sorted_p, dim=-1) - sorted_p < self.top_p  # (V,)
            sorted_p = sorted_p * keep
            pick = torch.multinomial(sorted_p, 1, generator=self.generator)
            return int(order[pick])
        return int(torch.multinomial(probs, 1, generator=self.generator))

    def note(self, token_id: int) -> None:
        """Remember a generated token (for the penalty)."""
        if self.penalty != 1.0 and token_id not in self.seen_set:
            self.seen_set.add(token_id)
            self.seen.append(token_id)


def choose_threads(load_average: float | None = None) -> int:
    """Torch threads for a CPU decode: the cores other processes leave idle, at least one.

    OpenMP threads that must wait for a core make every step wait at a barrier: on the shared
    2-core test machine under load 10, 2 threads decoded at 1.3-1.9 s/token and 1 thread at
    0.2-0.3 s/token, while on an idle machine 2 threads are faster. Our own recent CPU use is
    taken out of the load average so an idle machine is not mistaken for a busy one.
    """
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    if load_average is None:
        load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
        load_average = max(0.0, load_average - _own_cpu_share())
    return max(1, min(cores, cores - int(load_average)))


_SELF = None


def _own_cpu_share() -> float:
    """Cores this process used on average since the previous call (0 without psutil)."""
    global _SELF
    try:
        import psutil
    except ImportError:
        return 0.0
    if _SELF is None:
        _SELF = psutil.Process()
        _SELF.cpu_percent(None)
        return 0.0
    return _SELF.cpu_percent(None) / 100.0


def prefill_steps(model, input_ids, cache, cancel: threading.Event | None = None):
    """Run the prompt through the model in chunks, yielding the tokens read after each;
    returns last-position logits (V,) or None when cancelled."""
    logits = None
    total = input_ids.shape[1]
    for start in range(0, total, PREFILL_CHUNK):
        if cancel is not None and cancel.is_set():
            return None
        chunk = input_ids[:, start:start + PREFILL_CHUNK]  # (1, C)
        out = model(input_ids=chunk, past_key_values=cache, use_cache=True, logits_to_keep=1)
        logits = out.logits[0, -1]
        yield min(start + PREFILL_CHUNK, total)
    return logits


def prefill(model, input_ids, cache, cancel: threading.Event | None = None):
    """Run the prompt through the model in chunks; returns last-position logits (V,) or None."""
    return run_to_end(prefill_steps(model, input_ids, cache, cancel))


def decode_step(model, token, cache):
    """One token in, next-token logits (V,) out; `token` is a reused (1, 1) tensor."""
    out = model(input_ids=token, past_key_values=cache, use_cache=True, logits_to_keep=1)
    return out.logits[0, -1]


class GenericRunner:
    """transformers' own forward over a DynamicCache: any causal LM, V4 included."""

    def __init__(self, model):
        import torch

        self.model = model
        self.cache = None
        self.cached_tokens = 0  # prompt tokens the last prefill read from the prefix cache
        self.prefix_cache = None
        self.token = torch.empty((1, 1), dtype=torch.long, device=model.device)  # reused

    def prefill(self, prompt_ids: list[int], cancel=None, prefix_cache=None):
        return run_to_end(self.prefill_steps(prompt_ids, cancel, prefix_cache))

    def prefill_steps(self, prompt_ids: list[int], cancel=None, prefix_cache=None):
        """Yields prompt tokens read so far (first what the prefix cache gave); returns logits."""
        import torch
        from transformers.cache_utils import DynamicCache

        if prefix_cache is not None:  # its store waits for close(): not before the first token
            self.cache, logits = yield from prefix_cache.prefill_steps(
                self.model, prompt_ids, cancel, defer=True)
            self.cached_tokens = prefix_cache.last.get("cached_tokens", 0)
            self.prefix_cache = prefix_cache
            return logits
        self.cache = DynamicCache(config=self.model.config)
        ids = torch.tensor([prompt_ids], dtype=torch.long, device=self.model.device)  # (1, P)
        yield 0
        return (yield from prefill_steps(self.model, ids, self.cache, cancel))

    def decode(self, token_id: int):
        self.token.fill_(token_id)
        return decode_step(self.model, self.token, self.cache)

    def close(self) -> None:
        if self.prefix_cache is not None:
            self.prefix_cache.flush()
        self.cache = None


class FastRunner:
    """engine/llama/fast.py's forward over a preallocated cache (Llama-family models on CPU)."""

    def __init__(self, fast, tokens: int):
        import torch

        self.fast = fast
        self.cache = fast.new_cache(tokens)
        self.cached_tokens = 0
        self.prefix_cache = None
        self.token = torch.empty((1,), dtype=torch.long)  # reused every step

    def prefill(self, prompt_ids: list[int], cancel=None, prefix_cache=None):
        return run_to_end(self.prefill_steps(prompt_ids, cancel, prefix_cache))

    def prefill_steps(self, prompt_ids: list[int], cancel=None, prefix_cache=None):
        """Yields prompt tokens read so far (first what the prefix cache gave); returns logits."""
        import torch

        if prefix_cache is not None:  # stored KV is copied into the preallocated cache
            logits = yield from prefix_cache.prefill_fast_steps(
                self.fast, self.cache, prompt_ids, PREFILL_CHUNK, cancel, defer=True)
            self.cached_tokens = prefix_cache.last.get("cached_tokens", 0)
            self.prefix_cache = prefix_cache
            return logits
        ids = torch.tensor(prompt_ids, dtype=torch.long)  # (P,)
        yield 0
        return (yield from self.fast.prefill_steps(ids, self.cache, PREFILL_CHUNK, cancel))

    def decode(self, token_id: int):
        self.token.fill_(token_id)
        return self.fast.decode(self.token, self.cache)

    def close(self) -> None:
        if self.prefix_cache is not None:  # the prompt's KV is still in place: store it now
            self.prefix_cache.flush()
        self.fast.release(self.cache)


def open_runner(model, tokens: int):
    """The one dispatch point: the fast Llama forward when `model` takes it, else transformers'.

    `tokens`: prompt plus generated tokens this generation may hold in its cache."""
    from engine.llama.fast import fast_model

    fast = fast_model(model)
    return FastRunner(fast, tokens) if fast is not None else GenericRunner(model)


class Detokenizer:
    """Incremental decoding that only emits complete characters (no split UTF-8 sequences)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.prefix = 0  # ids before this index are already fully emitted
        self.read = 0

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        before = self.tokenizer.decode(self.ids[self.prefix:self.read], skip_special_tokens=False)
        after = self.tokenizer.decode(self.ids[self.prefix:], skip_special_tokens=False)
        if after.endswith("\ufffd") or len(after) <= len(before):
            return ""  # an incomplete byte sequence (or nothing new): wait for more tokens
        self.prefix, self.read = self.read, len(self.ids)
        return after[len(before):]


class StreamSplitter:
    """Routes text into thinking/answer deltas and finds stop strings across delta boundaries.

    Text that might be the beginning of a stop string or a think tag is held back until the
    next delta decides it.
    """

    def __init__(self, stop: tuple[str, ...], thinking: bool):
        self.stop = tuple(s for s in stop if s)
        self.in_thinking = thinking
        self.pending = ""
        self.stopped = False
        self.stop_sequence: str | None = None  # the stop string that matched

    def feed(self, text: str, final: bool = False) -> list[Event]:
        self.pending += text
        events: list[Event] = []
        while self.pending and not self.stopped:
            tags = (THINK_CLOSE,) if self.in_thinking else (THINK_OPEN,)
            markers = self.stop + tags
            hit = _first_hit(self.pending, markers)
            if hit is not None:
                index, marker = hit
                self._emit(events, self.pending[:index])
                self.pending = self.pending[index + len(marker):]
                if marker in tags and marker not in self.stop:
                    self.in_thinking = marker == THINK_OPEN
                    continue
                self.stopped = True
                self.stop_sequence = marker
                break
            keep = 0 if final else partial_suffix(self.pending, markers)
            self._emit(events, self.pending[:len(self.pending) - keep])
            self.pending = self.pending[len(self.pending) - keep:]
            break
        return events

    def _emit(self, events: list[Event], text: str) -> None:
        if text:
            events.append(ThinkingDelta(text) if self.in_thinking else TextDelta(text))


def _first_hit(text: str, markers: tuple[str, ...]) -> tuple[int, str] | None:
    best = None
    for marker in markers:
        index = text.find(marker)
        if index >= 0 and (best is None or index < best[0]):
            best = (index, marker)
    return best


def partial_suffix(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of some marker."""
    longest = 0
    for marker in markers:
        for n in range(min(len(marker) - 1, len(text)), longest, -1):
            if text.endswith(marker[:n]):
                longest = n
                break
    return longest


def stream_tokens(model, tokenizer, prompt_ids: list[int], params: GenerationParams,
                  *, eos_ids: set[int], window: int, starts_in_thinking: bool = False,
                  cancel: threading.Event | None = None,
                  threads: int | None = None, prefix_cache=None,
                  constraint=None) -> Iterator[Event]:
    """Generate from `prompt_ids`; yields PrefillProgress while it reads the prompt (once with
    what the prefix cache gave, then after each chunk), then deltas, then Usage, then Done
    (never raises mid-way).

    `threads`: torch CPU threads for this generation (None: `choose_threads()` at the start).
    `prefix_cache`: an engine.prefix_cache.PrefixCache; its `prefill` (or `prefill_fast` on the
    fast Llama path) replaces the plain one, and Usage.cached_tokens says what it read.
    `constraint`: an engine.tools.constrain.GrammarMask: masks the logits before each sample;
    the answer ends when its grammar is complete.
    """
    import torch

    device = model.device
    if device.type == "cpu":
        torch.set_num_threads(threads or choose_threads())
    completion = 0
    finish = "length"
    splitter = StreamSplitter(params.stop, starts_in_thinking)
    guard = guard_for(params)
    detok = Detokenizer(tokenizer)
    budget = min(params.max_new_tokens, window - len(prompt_ids))
    runner, cached = None, 0
    try:
        with torch.inference_mode():
            runner = open_runner(model, len(prompt_ids) + budget)
            steps, total = runner.prefill_steps(prompt_ids, cancel, prefix_cache), len(prompt_ids)
            first = True
            while True:  # the prompt is read in chunks: say how far after each
                try:
                    done = next(steps)
                except StopIteration as stop:
                    logits = stop.value
                    break
                if first:  # the first figure is what the prefix cache gave
                    cached, first = done, False
                yield PrefillProgress(done, total, cached)
            cached = runner.cached_tokens
            sample = StepSampler.from_params(params, device)
            while True:
                if cancel is not None and cancel.is_set() or logits is None:
                    finish = "cancelled"
                    break
                if completion >= budget:
                    break
                if constraint is not None:
                    constraint.apply(logits)
                next_id = sample(logits)
                if next_id in eos_ids:
                    finish = "stop"
                    break
                completion += 1
                sample.note(next_id)
                if constraint is not None:
                    constraint.advance(next_id)
                yield from filter_events(guard, splitter.feed(detok.push(next_id)))
                if splitter.stopped or constraint is not None and constraint.finished \
                        or guard is not None and guard.tripped:
                    finish = "stop"
                    break
                logits = runner.decode(next_id)
        if not splitter.stopped and not (guard is not None and guard.tripped):
            yield from filter_events(guard, splitter.feed("", final=True), final=True)
    except Exception as exc:  # report, do not crash the consumer's loop
        yield Usage(len(prompt_ids), completion, cached_tokens=cached)
        yield Done("error", error=f"{type(exc).__name__}: {exc}")
        return
    finally:
        if runner is not None:
            runner.close()
    yield Usage(len(prompt_ids), completion, cached_tokens=cached)
    yield Done(finish, stop_sequence=splitter.stop_sequence if splitter.stopped else None,
               guard=guard.tripped if guard is not None else None)
