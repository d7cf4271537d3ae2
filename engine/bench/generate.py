"""`python -m engine.bench generate`: the embedded default on this machine, against llama.cpp.

Cases: `load-cold` (GGUF conversion + first load, in a child process with a fresh cache, so its
peak memory is its own), `load-cached` (the converted folder; max_abs_diff compares its logits
with the cold load's), `prefill` (a ~2,000-token prompt), `decode` (128 greedy tokens after it,
end-of-sequence ignored so every run decodes the same count), both on the path generation takes
(engine/llama/fast.py, fp32, exact); `decode-fp16-cpu` / `decode-int8-cpu` (the packed decode
weights, teacher-forced on the fp32 tokens from the same prefilled cache: max_abs_diff and
top1_agree say how far their logits are from fp32); `prefill-transformers` /
`decode-transformers` (transformers' own forward with a DynamicCache, the before/after ratio).
Timings are medians of --repeat runs. When `llama_cpp` is importable, the same GGUF runs through
llama.cpp in a child process (2 threads, n_ctx 8192) and fills the reference_* fields; when it is
missing or its child dies (a build whose CPU path faults here), every row still prints, with
reference_s null and `reference_error` saying why.

Does not know: the other benches (engine/bench/dispatch.py dispatches).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue as queue_module
import resource
import signal
import statistics
import tempfile
import time
from pathlib import Path

from engine.bench.dispatch import emit, record

BENCH = "generate"
DECODE_TOKENS = 128
PROBE = "Mara lives in Lisbon. Her house is painted blue."


def peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def _prompt_ids(tokenizer, seq: int) -> list[int]:
    """A real ~seq-token prompt: this package's own source text, chat-templated."""
    root = Path(__file__).resolve().parents[1]  # engine/
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
    from engine.loading import load
    from engine.placement.options import LoadOptions

    started = time.perf_counter()
    ensure_converted(Path(cache_dir))
    loaded = load("smollm2-135m-instruct", Path(cache_dir), LoadOptions())
    seconds = time.perf_counter() - started
    with torch.inference_mode():
        ids = loaded.tokenizer(PROBE, return_tensors="pt")["input_ids"]
        logits = loaded.model(input_ids=ids).logits[0].tolist()
    queue.put({"seconds": seconds, "peak_gb": peak_gb(), "logits": logits})


class ChildFailed(RuntimeError):
    """A bench child died without answering (a crash in native code, an OOM kill)."""


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {-code} ({signal.Signals(-code).name})"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _in_child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    while True:  # a child that dies without answering must not hang the bench
        try:
            result = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                raise ChildFailed(f"{target.__name__} died: {_exit_reason(proc.exitcode)}")
    proc.join()
    return result


def reference_in_child(child, *args) -> dict:
    """The reference child's figures, or {"error": why} when it died.

    A crash of the reference (a llama.cpp build whose CPU path faults on this machine) must
    not cost our own figures: every row is still printed, with reference_s null and the reason.
    """
    try:
        return _in_child(child, *args)
    except ChildFailed as exc:
        return {"error": f"the reference crashed: {exc}"}


def reference_timings(gguf: str, prompt_ids: list[int], repeat: int) -> dict:
    """llama.cpp on the same GGUF, or {"error": why} when it is missing or crashed.

    On its best CPU variant first; if that child dies, once more without the AMX variant (see
    engine/bench/llama_cpp.py), with the first crash kept as `note`."""
    import importlib.util

    from engine.bench.llama_cpp import AMX_VARIANTS, llama_cpp_child

    if importlib.util.find_spec("llama_cpp") is None:
        return {"error": "llama-cpp-python is not installed (make bench-deps)"}
    ref = reference_in_child(llama_cpp_child, gguf, prompt_ids, repeat, DECODE_TOKENS, ())
    if "error" not in ref:
        return ref
    retry = reference_in_child(llama_cpp_child, gguf, prompt_ids, repeat, DECODE_TOKENS,
                               AMX_VARIANTS)
    return {**retry, "note": f"{ref['error']} on its best CPU variant; run without "
                             f"{', '.join(AMX_VARIANTS)}"}


def _fast_timings(model, prompt_ids: list[int], repeat: int) -> dict:
    """Prefill once per repeat on the fast path, then decode DECODE_TOKENS greedy tokens in fp32
    and again (teacher-forced on the fp32 tokens, from the same prefilled cache) per decode mode.

    Returns {"prefill": s, None: s, "fp16-cpu": s, ...} plus "<mode>-diff"/"<mode>-agree": the
    largest logit difference from fp32 and how many steps kept the same top-1 token."""
    import torch

    from engine.generation import PREFILL_CHUNK
    from engine.llama.fast import DECODE_MODES, apply_fast_decode

    fast = apply_fast_decode(model, None)
    variants = {mode: fast.repacked(mode) for mode in (None, *DECODE_MODES)}
    times: dict = {key: [] for key in ("prefill", *variants)}
    figures: dict = {}
    ids = torch.tensor(prompt_ids)
    token = torch.empty(1, dtype=torch.long)
    with torch.inference_mode():
        cache = fast.new_cache(len(prompt_ids) + DECODE_TOKENS)
        for _ in range(repeat):
            cache.length = 0
            t0 = time.perf_counter()
            first = fast.prefill(ids, cache, PREFILL_CHUNK)
            times["prefill"].append(time.perf_counter() - t0)
            tokens, ref = [], []
            for mode, runner in variants.items():
                cache.length, logits, diff, agree = len(prompt_ids), first, 0.0, 0
                t0 = time.perf_counter()
                for step in range(DECODE_TOKENS):
                    if mode is None:
                        tokens.append(int(torch.argmax(logits)))
                        ref.append(logits)
                    else:
                        diff = max(diff, float((logits - ref[step]).abs().max()))
                        agree += int(torch.argmax(logits)) == tokens[step]
                    token.fill_(tokens[step])
                    logits = runner.decode(token, cache)
                times[mode].append(time.perf_counter() - t0)
                figures[f"{mode}-diff"], figures[f"{mode}-agree"] = diff, agree
        fast.release(cache)
    return {**{k: statistics.median(v) for k, v in times.items()}, **figures}


def _transformers_timings(model, prompt_ids: list[int], repeat: int) -> tuple[float, float]:
    """transformers' own forward with a DynamicCache: the generic path, for the ratio."""
    import torch

    from engine.generation import GenericRunner

    prefill_s, decode_s = [], []
    with torch.inference_mode():
        for _ in range(repeat):
            runner = GenericRunner(model)
            t0 = time.perf_counter()
            logits = runner.prefill(prompt_ids)
            prefill_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            for _ in range(DECODE_TOKENS):
                logits = runner.decode(int(torch.argmax(logits)))
            decode_s.append(time.perf_counter() - t0)
    return statistics.median(prefill_s), statistics.median(decode_s)


def run(args: argparse.Namespace, rest: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench generate")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache-dir", default=None, help="keep the converted model here")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the cores other processes leave idle)")
    parser.add_argument("--skip-transformers", action="store_true",
                        help="do not time transformers' own forward (the before/after ratio)")
    extra = parser.parse_args(rest)
    seq = args.seq or 2000
    import importlib.util

    import torch

    from engine.embedded import embedded_gguf_path
    from engine.generation import choose_threads
    from engine.llama.fast import DECODE_MODES
    from engine.loading import load
    from engine.placement.options import LoadOptions

    if args.reference and importlib.util.find_spec("llama_cpp") is None:
        raise SystemExit("--reference needs llama-cpp-python (make bench-deps)")
    with tempfile.TemporaryDirectory(prefix="longhand-bench-") as tmp:
        cache_dir = Path(extra.cache_dir or tmp)
        cold = _in_child(_cold_child, str(cache_dir))
        loaded = load("smollm2-135m-instruct", cache_dir, LoadOptions())
        prompt_ids = _prompt_ids(loaded.tokenizer, seq)
        ref = reference_timings(str(embedded_gguf_path()), prompt_ids, extra.repeat)
        with torch.inference_mode():
            ids = loaded.tokenizer(PROBE, return_tensors="pt")["input_ids"]
            logits = loaded.model(input_ids=ids).logits[0]
        diff = float((logits - torch.tensor(cold["logits"])).abs().max())
        why = {"reference_error": ref.get("error"), "reference_note": ref.get("note"),
               "reference_cpu_variant": ref.get("cpu_variant")}
        emit(record(BENCH, "load-cold", ours_s=round(cold["seconds"], 3),
                    reference_s=_r(ref.get("load_s")), ours_peak_gb=cold["peak_gb"],
                    reference_peak_gb=ref.get("peak_gb"), **why))
        emit(record(BENCH, "load-cached", ours_s=loaded.report.load_s,
                    reference_s=_r(ref.get("load_s")), max_abs_diff=diff,
                    ours_peak_gb=peak_gb(), path_taken=loaded.report.path_taken, **why))
        torch.set_num_threads(extra.threads or choose_threads())
        load_avg = round(os.getloadavg()[0], 2)
        fast = _fast_timings(loaded.model, prompt_ids, extra.repeat)
        hf_prefill, hf_decode = (_transformers_timings(loaded.model, prompt_ids, extra.repeat)
                                 if not extra.skip_transformers else (None, None))
        n = len(prompt_ids)
        common = dict(ours_peak_gb=peak_gb(), reference_peak_gb=ref.get("peak_gb"),
                      threads=torch.get_num_threads(), load_avg=load_avg,
                      load_avg_after=round(os.getloadavg()[0], 2), **why)
        rows = [("prefill", "fast", "float32", fast["prefill"], ref.get("prefill_s"), n, None),
                ("decode", "fast", "float32", fast[None], ref.get("decode_s"), DECODE_TOKENS,
                 None)]
        rows += [(f"decode-{mode}", "fast", mode, fast[mode], ref.get("decode_s"),
                  DECODE_TOKENS, mode) for mode in DECODE_MODES]
        if hf_prefill is not None:
            rows += [("prefill-transformers", "transformers", "float32", hf_prefill,
                      ref.get("prefill_s"), n, None),
                     ("decode-transformers", "transformers", "float32", hf_decode,
                      ref.get("decode_s"), DECODE_TOKENS, None)]
        for case, path, weights, ours, theirs, tokens, mode in rows:
            emit(record(BENCH, case, ours_s=round(ours, 3), reference_s=_r(theirs),
                        tokens=tokens, tokens_per_s=round(tokens / ours, 2),
                        reference_tokens_per_s=round(tokens / theirs, 2) if theirs else None,
                        path=path, weights=weights,
                        max_abs_diff=_r(fast.get(f"{mode}-diff")) if mode else None,
                        top1_agree=fast.get(f"{mode}-agree") if mode else None, **common))
    return 0


def _r(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
