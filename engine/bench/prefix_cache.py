"""`python -m engine.bench prefix-cache`: time to first token for a follow-up question over a long
library prefix, cold (prefill everything, store the prefix) vs warm (prefix KV read from disk).

The embedded default's window is 8K tokens, so its library is the largest prefix of a real text
(../shared/testdocs prose) that fits with the question and 256 tokens of answer, not 32K. It
runs on the runner the product picks (`open_runner`: the fast Llama forward for the embedded
default) with `--path product`, or on transformers' forward with `--path transformers`.
The `product-cli` case is the product path itself, so bench and product cannot drift: two
`python -m workbench synthesize --json` processes over the same imported document (the same
text as the embedded case, cut to fit) with two questions and the default settings (prefix
cache under the data dir); it reports each run's `ttft_s` and `usage.cached_tokens`. It runs
the CLI as a subprocess: engine/ imports nothing from workbench/.
bench-v4-small (engine/deepseek_v4/tiny.py, random weights, fp32, our fused kernels via
`apply_fast_v4`): a library of `--v4-tokens` random ids (no tokenizer exists for it) plus two
32-token questions; its `V4Cache` state is what is stored and restored.
Prints one JSON line per case (DESIGN.md section 4 fields plus `prefix_tokens`,
`cached_tokens`, `load_s`, `store_s`, `ttft_ratio`).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from engine.bench.dispatch import emit, record

QUESTIONS = ("\n\nQuestion: who is the first person Holmes meets in this text?",
             "\n\nQuestion: name two places where the story happens.")
LIBRARY_TEXT = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdocs" / "prose" / \
    "jsvine__markovify" / "sherlock.txt"


def _ttft(model, cache, ids, path: str = "transformers") -> tuple[float, int]:
    """Seconds until the first token is chosen (prefill through the cache, then argmax)."""
    import torch

    from engine.generation import GenericRunner, open_runner

    started = time.perf_counter()
    with torch.inference_mode():
        runner = open_runner(model, len(ids) + 1) if path == "product" else \
            GenericRunner(model)
        logits = runner.prefill(ids, None, cache)
        first = int(torch.argmax(logits))
        elapsed = time.perf_counter() - started
        runner.close()  # the product stores the prefix after the answer (here: now)
    return elapsed, first


def _library_text() -> str:
    return LIBRARY_TEXT.read_text(encoding="utf-8", errors="replace")


def bench_embedded(cache_dir: Path, window: int, threads: int, path: str) -> dict:
    import torch

    from engine.loading import load
    from engine.prefix_cache import PrefixCache

    if threads:
        torch.set_num_threads(threads)
    loaded = load("smollm2-135m-instruct", cache_dir)
    tok = loaded.tokenizer
    text = _library_text()
    questions = [tok(q)["input_ids"] for q in QUESTIONS]
    budget = window - max(map(len, questions)) - 256
    library = tok(text[: budget * 6])["input_ids"][:budget]
    with tempfile.TemporaryDirectory() as tmp:
        cache = PrefixCache(Path(tmp) / "kv")
        cold_s, _ = _ttft(loaded.model, cache, library + questions[0], path)
        cold = dict(cache.last)
        warm_s, _ = _ttft(loaded.model, cache, library + questions[1], path)
        warm = dict(cache.last)
    return record("prefix-cache", f"embedded-{window // 1024}k-{path}", ours_s=round(warm_s, 3),
                  reference_s=round(cold_s, 3), prefix_tokens=len(library),
                  prompt_tokens=warm["prompt_tokens"], cached_tokens=warm["cached_tokens"],
                  load_s=warm["load_s"], store_s=cold["store_s"],
                  ttft_ratio=round(warm_s / cold_s, 4), threads=torch.get_num_threads())


def bench_v4_small(tokens: int, threads: int) -> dict:
    import torch
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    from engine.deepseek_v4.model import apply_fast_v4
    from engine.prefix_cache import PrefixCache
    from engine.deepseek_v4.tiny import BENCH_V4_SMALL

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


def bench_product_cli(cache_dir: Path, chars: int) -> dict:
    """Two `synthesize` processes over one document; ttft and cached tokens as they report.
    Threads are the product's own choice (`choose_threads`), not `--threads`."""
    import json
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "LONGHAND_CACHE_DIR": str(cache_dir)}

    def cli(data: Path, *args: str):
        done = subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data),
                               *args, "--json"], cwd=root, env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise RuntimeError(f"workbench {args[0]} failed: {done.stderr.strip()[-500:]}")
        return json.loads(done.stdout)

    with tempfile.TemporaryDirectory() as tmp:
        data, doc = Path(tmp) / "data", Path(tmp) / "sherlock.txt"
        doc.write_text(_library_text()[:chars], encoding="utf-8")
        cli(data, "new-project", "bench")
        cli(data, "import", "bench", str(doc))
        runs = []
        for question in QUESTIONS:
            started = time.perf_counter()
            out = cli(data, "synthesize", "bench", "--prompt", question.strip(),
                      "--max-new-tokens", "8")
            runs.append((out, time.perf_counter() - started))
    (cold, cold_wall), (warm, warm_wall) = runs
    return record("prefix-cache", "product-cli", ours_s=warm["ttft_s"],
                  reference_s=cold["ttft_s"], prompt_tokens=warm["usage"]["prompt_tokens"],
                  cached_tokens=warm["usage"]["cached_tokens"],
                  cold_cached_tokens=cold["usage"]["cached_tokens"],
                  ttft_ratio=round(warm["ttft_s"] / cold["ttft_s"], 4),
                  process_s=[round(cold_wall, 2), round(warm_wall, 2)])


def run(args: argparse.Namespace, rest: list[str]) -> int:
    extra = argparse.ArgumentParser(prog="python -m engine.bench prefix-cache")
    extra.add_argument("--cache-dir", type=Path,
                       default=Path(tempfile.gettempdir()) / "longhand-bench-cache")
    extra.add_argument("--threads", type=int, default=0)
    extra.add_argument("--v4-tokens", type=int, default=8192, help="bench-v4-small library")
    extra.add_argument("--only", choices=("embedded", "v4", "product"), default=None)
    extra.add_argument("--path", choices=("product", "transformers"), default="product",
                       help="the embedded case's forward (default: the one the product picks)")
    extra.add_argument("--product-chars", type=int, default=24000,
                       help="characters of the product-cli case's document (fits 8K tokens)")
    opts = extra.parse_args(rest)
    if opts.only in (None, "embedded"):
        emit(bench_embedded(opts.cache_dir, args.seq or 8192, opts.threads, opts.path))
    if opts.only in (None, "v4"):
        emit(bench_v4_small(opts.v4_tokens, opts.threads))
    if opts.only in (None, "product"):
        emit(bench_product_cli(opts.cache_dir, opts.product_chars))
    return 0
