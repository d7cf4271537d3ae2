"""`python -m engine.bench generate`: the embedded default on this machine, against llama.cpp.

Cases: `load-cold` (GGUF conversion + first load, in a child process with a fresh cache, so its
peak memory is its own), `load-cached` (the converted folder; max_abs_diff compares its logits
with the cold load's), `prefill` (a ~2,000-token prompt), `decode` (128 greedy tokens after it,
end-of-sequence ignored so every run decodes the same count). Timings are medians of --repeat
runs. When `llama_cpp` is importable, the same GGUF runs through llama.cpp in a child process
(2 threads, n_ctx 8192) and fills the reference_* fields.

Does not know: the other benches (engine/bench.py dispatches).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from engine.bench import emit, record

BENCH = "generate"
DECODE_TOKENS = 128
PROBE = "Mara lives in Lisbon. Her house is painted blue."


def peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def _prompt_ids(tokenizer, seq: int) -> list[int]:
    """A real ~seq-token prompt: this package's own source text, chat-templated."""
    root = Path(__file__).resolve().parent
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py")))
    body = tokenizer(text, add_special_tokens=False)["input_ids"]
    while len(body) < seq:
        body = body + body
    chat = [{"role": "user", "content": tokenizer.decode(body[: seq - 40])
             + "\n\nSummarize the code above."}]
    rendered = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    return tokenizer(rendered, add_special_tokens=False)["input_ids"]


def _cold_child(cache_dir: str, queue) -> None:
    import torch

    from engine.embedded import ensure_converted
    from engine.loading import LoadOptions, load

    started = time.perf_counter()
    ensure_converted(Path(cache_dir))
    loaded = load("smollm2-135m-instruct", Path(cache_dir), LoadOptions())
    seconds = time.perf_counter() - started
    with torch.inference_mode():
        ids = loaded.tokenizer(PROBE, return_tensors="pt")["input_ids"]
        logits = loaded.model(input_ids=ids).logits[0].tolist()
    queue.put({"seconds": seconds, "peak_gb": peak_gb(), "logits": logits})


def _llama_cpp_child(gguf: str, prompt_ids: list[int], repeat: int, queue) -> None:
    from llama_cpp import Llama

    started = time.perf_counter()
    llm = Llama(model_path=gguf, n_ctx=8192, n_threads=2, n_batch=512, verbose=False)
    load_s = time.perf_counter() - started
    prefill, decode = [], []
    for _ in range(repeat):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt_ids)
        prefill.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(DECODE_TOKENS):
            token = int(llm.scores[llm.n_tokens - 1].argmax())
            llm.eval([token])
        decode.append(time.perf_counter() - t0)
    queue.put({"load_s": load_s, "prefill_s": statistics.median(prefill),
               "decode_s": statistics.median(decode), "peak_gb": peak_gb()})


def _in_child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _ours_timings(model, prompt_ids: list[int], repeat: int) -> tuple[float, float]:
    import torch
    from transformers.cache_utils import DynamicCache

    from engine.generation import decode_step, prefill

    prefill_s, decode_s = [], []
    with torch.inference_mode():
        ids = torch.tensor([prompt_ids])
        for _ in range(repeat):
            cache = DynamicCache(config=model.config)
            t0 = time.perf_counter()
            logits = prefill(model, ids, cache)
            prefill_s.append(time.perf_counter() - t0)
            token = torch.empty((1, 1), dtype=torch.long)
            t0 = time.perf_counter()
            for _ in range(DECODE_TOKENS):
                token.fill_(int(torch.argmax(logits)))
                logits = decode_step(model, token, cache)
            decode_s.append(time.perf_counter() - t0)
    return statistics.median(prefill_s), statistics.median(decode_s)


def run(args: argparse.Namespace, rest: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache-dir", default=None, help="keep the converted model here")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the cores other processes leave idle)")
    extra = parser.parse_args(rest)
    seq = args.seq or 2000
    import importlib.util

    import torch

    from engine.embedded import embedded_gguf_path
    from engine.generation import choose_threads
    from engine.loading import LoadOptions, load

    has_reference = importlib.util.find_spec("llama_cpp") is not None
    if args.reference and not has_reference:
        raise SystemExit("--reference needs llama-cpp-python (pip install llama-cpp-python)")
    with tempfile.TemporaryDirectory(prefix="longhand-bench-") as tmp:
        cache_dir = Path(extra.cache_dir or tmp)
        cold = _in_child(_cold_child, str(cache_dir))
        loaded = load("smollm2-135m-instruct", cache_dir, LoadOptions())
        prompt_ids = _prompt_ids(loaded.tokenizer, seq)
        ref = (_in_child(_llama_cpp_child, str(embedded_gguf_path()), prompt_ids, extra.repeat)
               if has_reference else {})
        with torch.inference_mode():
            ids = loaded.tokenizer(PROBE, return_tensors="pt")["input_ids"]
            logits = loaded.model(input_ids=ids).logits[0]
        diff = float((logits - torch.tensor(cold["logits"])).abs().max())
        emit(record(BENCH, "load-cold", ours_s=round(cold["seconds"], 3),
                    reference_s=_r(ref.get("load_s")), ours_peak_gb=cold["peak_gb"],
                    reference_peak_gb=ref.get("peak_gb")))
        emit(record(BENCH, "load-cached", ours_s=loaded.report.load_s,
                    reference_s=_r(ref.get("load_s")), max_abs_diff=diff,
                    ours_peak_gb=peak_gb(), path_taken=loaded.report.path_taken))
        torch.set_num_threads(extra.threads or choose_threads())
        load_avg = round(os.getloadavg()[0], 2)
        prefill_s, decode_s = _ours_timings(loaded.model, prompt_ids, extra.repeat)
        n = len(prompt_ids)
        for case, ours, theirs, tokens in (("prefill", prefill_s, ref.get("prefill_s"), n),
                                           ("decode", decode_s, ref.get("decode_s"),
                                            DECODE_TOKENS)):
            emit(record(BENCH, case, ours_s=round(ours, 3), reference_s=_r(theirs),
                        ours_peak_gb=peak_gb(), reference_peak_gb=ref.get("peak_gb"),
                        tokens=tokens, tokens_per_s=round(tokens / ours, 2),
                        reference_tokens_per_s=round(tokens / theirs, 2) if theirs else None,
                        threads=torch.get_num_threads(), load_avg=load_avg, dtype="float32"))
    return 0


def _r(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
