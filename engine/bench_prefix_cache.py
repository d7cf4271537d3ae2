"""`python -m engine.bench prefix-cache`: time to first token for a follow-up question over a long
library prefix, cold (prefill everything, store the prefix) vs warm (prefix KV read from disk).

The embedded default's window is 8K tokens, so its library is the largest prefix of a real text
(../shared/testdocs prose) that fits with the question and 256 tokens of answer, not 32K.
bench-v4-small (engine/tiny.py, random weights, fp32, our fused kernels via `apply_fast_v4`): a
library of `--v4-tokens` random ids (no tokenizer exists for it) plus two 32-token questions; its
`V4Cache` state is what is stored and restored.
Prints one JSON line per case (DESIGN.md section 4 fields plus `prefix_tokens`,
`cached_tokens`, `load_s`, `store_s`, `ttft_ratio`).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from engine.bench import emit, record

QUESTIONS = ("\n\nQuestion: who is the first person Holmes meets in this text?",
             "\n\nQuestion: name two places where the story happens.")
LIBRARY_TEXT = Path(__file__).resolve().parents[1] / ".." / "shared" / "testdocs" / "prose" / \
    "jsvine__markovify" / "sherlock.txt"


def _ttft(model, cache, ids) -> tuple[float, int]:
    """Seconds until the first token is chosen (prefill through the cache, then argmax)."""
    import torch

    started = time.perf_counter()
    with torch.inference_mode():
        _, logits = cache.prefill(model, ids)
        first = int(torch.argmax(logits))
    return time.perf_counter() - started, first


def bench_embedded(cache_dir: Path, window: int, threads: int) -> dict:
    import torch

    from engine.loading import load
    from engine.prefix_cache import PrefixCache

    if threads:
        torch.set_num_threads(threads)
    loaded = load("smollm2-135m-instruct", cache_dir)
    tok = loaded.tokenizer
    text = LIBRARY_TEXT.read_text(encoding="utf-8", errors="replace")
    questions = [tok(q)["input_ids"] for q in QUESTIONS]
    budget = window - max(map(len, questions)) - 256
    library = tok(text[: budget * 6])["input_ids"][:budget]
    with tempfile.TemporaryDirectory() as tmp:
        cache = PrefixCache(Path(tmp) / "kv")
        cold_s, _ = _ttft(loaded.model, cache, library + questions[0])
        cold = dict(cache.last)
        warm_s, _ = _ttft(loaded.model, cache, library + questions[1])
        warm = dict(cache.last)
    return record("prefix-cache", f"embedded-{window // 1024}k", ours_s=round(warm_s, 3),
                  reference_s=round(cold_s, 3), prefix_tokens=len(library),
                  prompt_tokens=warm["prompt_tokens"], cached_tokens=warm["cached_tokens"],
                  load_s=warm["load_s"], store_s=cold["store_s"],
                  ttft_ratio=round(warm_s / cold_s, 4), threads=torch.get_num_threads())


def bench_v4_small(tokens: int, threads: int) -> dict:
    import torch
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    from engine.deepseek_v4 import apply_fast_v4
    from engine.prefix_cache import PrefixCache
    from engine.tiny import BENCH_V4_SMALL

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = apply_fast_v4(DeepseekV4ForCausalLM(DeepseekV4Config(**BENCH_V4_SMALL)).eval())
    g = torch.Generator().manual_seed(1)
    vocab = BENCH_V4_SMALL["vocab_size"]
    library = torch.randint(0, vocab, (tokens,), generator=g).tolist()
    questions = [torch.randint(0, vocab, (32,), generator=g).tolist() for _ in range(2)]
    with tempfile.TemporaryDirectory() as tmp:
        cache = PrefixCache(Path(tmp) / "kv")
        cold_s, _ = _ttft(model, cache, library + questions[0])
        cold = dict(cache.last)
        warm_s, _ = _ttft(model, cache, library + questions[1])
        warm = dict(cache.last)
    return record("prefix-cache", "bench-v4-small", ours_s=round(warm_s, 3),
                  reference_s=round(cold_s, 3), prefix_tokens=len(library),
                  prompt_tokens=warm["prompt_tokens"], cached_tokens=warm["cached_tokens"],
                  load_s=warm["load_s"], store_s=cold["store_s"],
                  ttft_ratio=round(warm_s / cold_s, 4), threads=torch.get_num_threads())


def run(args: argparse.Namespace, rest: list[str]) -> int:
    extra = argparse.ArgumentParser(prog="python -m engine.bench prefix-cache")
    extra.add_argument("--cache-dir", type=Path,
                       default=Path(tempfile.gettempdir()) / "longhand-bench-cache")
    extra.add_argument("--threads", type=int, default=0)
    extra.add_argument("--v4-tokens", type=int, default=8192, help="bench-v4-small library")
    extra.add_argument("--only", choices=("embedded", "v4"), default=None)
    opts = extra.parse_args(rest)
    if opts.only != "v4":
        emit(bench_embedded(opts.cache_dir, args.seq or 8192, opts.threads))
    if opts.only != "embedded":
        emit(bench_v4_small(opts.v4_tokens, opts.threads))
    return 0
