"""`python -m engine.bench generate`: the embedded default on this machine, against llama.cpp.

Cases: `load-cold` (GGUF conversion + first load, in a child process with a fresh cache, so its
peak memory is its own), `load-cached` (the converted folder; max_abs_diff compares its logits
with the cold load's; `decode_default` names the decode mode this CPU got), `prefill` (a
~2,000-token prompt, fp32 as always), `decode` (128 greedy tokens after it, end-of-sequence
ignored so every run decodes the same count) in the default configuration a user gets
(`LoadOptions()`: this CPU's decode mode, engine/placement/cpu_decode.py); `decode-fp32` (the exact
reference) and the other packed modes, all teacher-forced on the fp32 tokens from the same
prefilled cache (max_abs_diff, top1_agree). Each packed row carries its acceptance figures
(engine/bench/decode_accuracy.py): `greedy_match` per bench prompt out of `greedy_tokens`,
`perplexity` vs `perplexity_fp32` on held-out text, and `acceptable`. `prefill-transformers` /
`decode-transformers`: transformers' own forward with a DynamicCache, the before/after ratio.

The machine these run on is shared, so the comparison is made in --repeat rounds, each llama.cpp
(a fresh child process on the same GGUF and token ids, n_ctx 8192, as many threads as ours:
`choose_threads`, or --threads) then ours, back to back: ours_s and reference_s are medians,
`ratios` are per round (reference_s / ours_s, i.e. our tokens/s over llama.cpp's) and
`ratio_median` their median. When `llama_cpp` is missing or
its child dies (a build whose CPU path faults here), every row still prints, with reference_s
null and `reference_error` saying why.

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
import sys
import tempfile
import time
from pathlib import Path

from engine.bench.decode_accuracy import GREEDY_TOKENS
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


def _in_child(target, *args, **kwargs) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue), kwargs=kwargs)
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


def reference_in_child(child, *args, **kwargs) -> dict:
    """The reference child's figures, or {"error": why} when it died.

    A crash of the reference (a llama.cpp build whose CPU path faults on this machine) must
    not cost our own figures: every row is still printed, with reference_s null and the reason.
    """
    try:
        return _in_child(child, *args, **kwargs)
    except ChildFailed as exc:
        return {"error": f"the reference crashed: {exc}"}


def reference_timings(gguf: str, prompt_ids: list[int], repeat: int, threads: int = 2) -> dict:
    """llama.cpp on the same GGUF, or {"error": why} when it is missing or crashed.

    On its best CPU variant first; if that child dies, once more without the AMX variant (see
    engine/bench/llama_cpp.py), with the first crash kept as `note`."""
    import importlib.util

    from engine.bench.llama_cpp import AMX_VARIANTS, llama_cpp_child

    if importlib.util.find_spec("llama_cpp") is None:
        return {"error": "llama-cpp-python is not installed (make bench-deps)"}
    ref = reference_in_child(llama_cpp_child, gguf, prompt_ids, repeat, DECODE_TOKENS, (),
                             threads=threads)
    if "error" not in ref:
        return ref
    retry = reference_in_child(llama_cpp_child, gguf, prompt_ids, repeat, DECODE_TOKENS,
                               AMX_VARIANTS, threads=threads)
    return {**retry, "note": f"{ref['error']} on its best CPU variant; run without "
                             f"{', '.join(AMX_VARIANTS)}"}


def _fast_round(fast, variants: dict, prompt_ids: list[int]) -> dict:
    """One round: prefill on the fast path, then DECODE_TOKENS greedy tokens in fp32 (key None)
    and again (teacher-forced on the fp32 tokens, from the same prefilled cache) per mode.

    Returns {"prefill": s, None: s, "fp16-cpu": s, ...} plus "<mode>-diff"/"<mode>-agree": the
    largest logit difference from fp32 and how many steps kept the same top-1 token."""
    import torch

    from engine.generation import PREFILL_CHUNK

    out: dict = {}
    ids = torch.tensor(prompt_ids)
    token = torch.empty(1, dtype=torch.long)
    with torch.inference_mode():
        cache = fast.new_cache(len(prompt_ids) + DECODE_TOKENS)
        t0 = time.perf_counter()
        first = fast.prefill(ids, cache, PREFILL_CHUNK)
        out["prefill"] = time.perf_counter() - t0
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
            out[mode] = time.perf_counter() - t0
            out[f"{mode}-diff"], out[f"{mode}-agree"] = diff, agree
        fast.release(cache)
    return out


def _rounds(model, gguf: str, prompt_ids: list[int], repeat: int,
            threads: int) -> tuple[dict, list[dict]]:
    """`repeat` rounds, each llama.cpp (a fresh child, one run) then ours, back to back, with the
    same thread count, so both see the same load on a shared machine; (llama.cpp's last
    answer, our rounds). Progress goes to stderr."""
    from engine.llama.fast import DECODE_MODES, fast_model

    fast = fast_model(model)
    variants = {mode: fast.repacked(mode) for mode in (None, *DECODE_MODES)}
    ref, ours = {}, []
    for n in range(repeat):
        ref = {**reference_timings(gguf, prompt_ids, 1, threads),
               "rounds": ref.get("rounds", [])}
        ref["rounds"].append({k: ref.get(k) for k in ("prefill_s", "decode_s")})
        ours.append(_fast_round(fast, variants, prompt_ids))
        print(f"round {n + 1}/{repeat}: llama.cpp decode {ref.get('decode_s')} s, ours "
              f"{ {str(k): round(v, 2) for k, v in ours[-1].items() if k in variants} }",
              file=sys.stderr, flush=True)
    return ref, ours


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
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds, each llama.cpp then ours (medians, per-round ratios)")
    parser.add_argument("--cache-dir", default=None, help="keep the converted model here")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: the cores other processes leave idle)")
    parser.add_argument("--skip-transformers", action="store_true",
                        help="do not time transformers' own forward (the before/after ratio)")
    parser.add_argument("--heldout", default=None, help="held-out text for the perplexity "
                        "figures (default: ../shared/testdocs' Sherlock Holmes, when present)")
    extra = parser.parse_args(rest)
    seq = args.seq or 2000
    import importlib.util

    import torch

    from engine.bench import decode_accuracy as accuracy
    from engine.embedded import embedded_gguf_path
    from engine.generation import choose_threads
    from engine.llama.fast import DECODE_MODES, fast_model
    from engine.loading import load
    from engine.placement.options import LoadOptions

    if args.reference and importlib.util.find_spec("llama_cpp") is None:
        raise SystemExit("--reference needs llama-cpp-python (make bench-deps)")
    with tempfile.TemporaryDirectory(prefix="longhand-bench-") as tmp:
        cache_dir = Path(extra.cache_dir or tmp)
        cold = _in_child(_cold_child, str(cache_dir))
        loaded = load("smollm2-135m-instruct", cache_dir, LoadOptions())  # the product default
        default = loaded.report.quantization  # the decode mode this CPU got (None: fp32)
        prompt_ids = _prompt_ids(loaded.tokenizer, seq)
        with torch.inference_mode():
            ids = loaded.tokenizer(PROBE, return_tensors="pt")["input_ids"]
            logits = loaded.model(input_ids=ids).logits[0]
        diff = float((logits - torch.tensor(cold["logits"])).abs().max())
        torch.set_num_threads(extra.threads or choose_threads())
        load_avg = round(os.getloadavg()[0], 2)
        ref, rounds = _rounds(loaded.model, str(embedded_gguf_path()), prompt_ids, extra.repeat,
                              torch.get_num_threads())
        why = {"reference_error": ref.get("error"), "reference_note": ref.get("note"),
               "reference_cpu_variant": ref.get("cpu_variant")}
        emit(record(BENCH, "load-cold", ours_s=round(cold["seconds"], 3),
                    reference_s=_r(ref.get("load_s")), ours_peak_gb=cold["peak_gb"],
                    reference_peak_gb=ref.get("peak_gb"), **why))
        emit(record(BENCH, "load-cached", ours_s=loaded.report.load_s,
                    reference_s=_r(ref.get("load_s")), max_abs_diff=diff,
                    ours_peak_gb=peak_gb(), path_taken=loaded.report.path_taken,
                    decode_default=default or "fp32", **why))
        fast = fast_model(loaded.model)
        runners = {mode: fast.repacked(mode) for mode in (None, *DECODE_MODES)}
        chat = accuracy.greedy_matches(fast, runners, [prompt_ids, _probe_ids(loaded.tokenizer)])
        heldout = accuracy.heldout_ids(loaded.tokenizer, extra.heldout)
        ppl = accuracy.perplexities(fast, runners, heldout) if heldout else {}
        hf_prefill, hf_decode = (_transformers_timings(loaded.model, prompt_ids, extra.repeat)
                                 if not extra.skip_transformers else (None, None))
        n = len(prompt_ids)
        common = dict(ours_peak_gb=peak_gb(), reference_peak_gb=ref.get("peak_gb"),
                      threads=torch.get_num_threads(), rounds=len(rounds), load_avg=load_avg,
                      load_avg_after=round(os.getloadavg()[0], 2), **why)
        theirs = ref.get("rounds", [])
        rows = [("prefill", "float32", "prefill", "prefill_s", n, None)]
        rows += [("decode", default or "float32", default, "decode_s", DECODE_TOKENS, default)]
        rows += [(f"decode-{mode or 'fp32'}", mode or "float32", mode, "decode_s",
                  DECODE_TOKENS, mode) for mode in (None, *DECODE_MODES) if mode != default]
        for case, weights, key, ref_key, tokens, mode in rows:
            ours = statistics.median(r[key] for r in rounds)
            ratios = [t[ref_key] / r[key] for r, t in zip(rounds, theirs) if t.get(ref_key)]
            ref_s = _median([t.get(ref_key) for t in theirs])
            figures = {}
            if case.startswith("decode"):
                figures = _accuracy_figures(mode, rounds, chat, ppl)
            emit(record(BENCH, case, ours_s=round(ours, 3), reference_s=_r(ref_s),
                        tokens=tokens, tokens_per_s=round(tokens / ours, 2),
                        reference_tokens_per_s=round(tokens / ref_s, 2) if ref_s else None,
                        ratio_median=_r(statistics.median(ratios)) if ratios else None,
                        ratios=[round(x, 3) for x in ratios], path="fast", weights=weights,
                        default=case == "decode", **figures, **common))
        if hf_prefill is not None:
            for case, ours, ref_key, tokens in (
                    ("prefill-transformers", hf_prefill, "prefill_s", n),
                    ("decode-transformers", hf_decode, "decode_s", DECODE_TOKENS)):
                ref_s = _median([t.get(ref_key) for t in theirs])
                emit(record(BENCH, case, ours_s=round(ours, 3), reference_s=_r(ref_s),
                            tokens=tokens, tokens_per_s=round(tokens / ours, 2),
                            path="transformers", weights="float32", **common))
    return 0


def _probe_ids(tokenizer) -> list[int]:
    chat = [{"role": "user", "content": f"Read this passage: '{PROBE}' What colour is Mara's "
                                        "house? Then write a poem about it."}]
    text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _accuracy_figures(mode, rounds: list[dict], chat: dict, ppl: dict) -> dict:
    """A decode row's closeness to fp32 and whether it meets the default's acceptance rule."""
    if mode is None:
        return {"perplexity": _r(ppl.get(None))}
    matches = chat.get(mode, [])
    change = (100 * (ppl[mode] / ppl[None] - 1)) if mode in ppl and None in ppl else None
    return {"max_abs_diff": _r(max(r[f"{mode}-diff"] for r in rounds)),
            "top1_agree": min(r[f"{mode}-agree"] for r in rounds),
            "greedy_match": matches, "greedy_tokens": GREEDY_TOKENS,
            "perplexity": _r(ppl.get(mode)), "perplexity_fp32": _r(ppl.get(None)),
            "perplexity_change_pct": _r(change),
            "acceptable": bool(matches and min(matches) >= GREEDY_TOKENS
                               or change is not None and abs(change) <= 1.0)}


def _median(values) -> float | None:
    values = [v for v in values if v]
    return statistics.median(values) if values else None


def _r(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None
