"""DeepSeek-V4 kernel benches: `python -m engine.bench prefill|decode|moe` on bench-v4-small.

- prefill --seq N [--reference] [--repeat R] [--tuned-reference]: our fast path vs transformers'
  eager model, each measured in a fresh subprocess (so peak RSS is that run's own) after the
  same untimed 512-token warm-up, R timed calls per side (median reported, runs listed), logits
  of the last 64 positions compared;
- decode --context N: prefill N tokens with the fast path (its time is `prefill_s`), then time
  greedy one-token steps;
- moe: the routed experts alone at 4096 tokens and at 1 token, ours vs every transformers
  `experts_implementation` (eager, grouped_mm, batched_mm); `reference_s` is the best of them.
Weights come from `torch.manual_seed(0)` and transformers' own init, fp32, batch 1 (DESIGN.md §4).
Does not know the dispatcher's CLI beyond `run(args, rest)` (engine/bench/dispatch.py).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from engine.bench.dispatch import emit, record
from engine.deepseek_v4.tiny import BENCH_V4_SMALL

KEEP = 64  # logits positions compared
WARMUP = 512  # tokens of the untimed first call


def _model(fast: bool):
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    from engine.deepseek_v4.model import apply_fast_v4

    torch.manual_seed(0)
    model = DeepseekV4ForCausalLM(DeepseekV4Config(**BENCH_V4_SMALL)).eval()
    return apply_fast_v4(model) if fast else model


def _ids(seq: int) -> torch.Tensor:
    return torch.randint(0, BENCH_V4_SMALL["vocab_size"], (1, seq),
                         generator=torch.Generator().manual_seed(1))


def _peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)


def _worker(kind: str, which: str, size: int, out: str, threads: int = 0,
            repeat: int = 1) -> None:
    """Runs in a fresh process: one measured case, result as JSON (+ logits) into `out`.

    Prefill is timed `repeat` times after the warm-up and reported as the median (all runs
    kept in `runs`): the first full-size call also pays for growing the heap.
    """
    if threads > 0:  # under CPU contention 1 thread beats 2 (OpenMP barrier waits)
        torch.set_num_threads(threads)
    if which == "reference-tuned":  # the engine's malloc thresholds, given to transformers too
        from engine.allocator import retain_freed_memory

        retain_freed_memory()
    model = _model(fast=which == "ours")
    with torch.no_grad():
        if kind == "prefill":
            # Warm-up, the same for both sides: a short call loads the GEMM kernels and thread
            # pool, so the timed call measures prefill, not first-call set-up.
            model(_ids(WARMUP), logits_to_keep=KEEP)
            runs = []
            for _ in range(max(1, repeat)):
                start = time.perf_counter()
                logits = model(_ids(size), logits_to_keep=KEEP).logits
                runs.append(round(time.perf_counter() - start, 3))
            result = {"seconds": statistics.median(runs), "runs": runs}
            torch.save(logits, out + ".pt")
        else:
            from engine.deepseek_v4.cache import V4Cache

            cache = V4Cache(model.config, max_length=size + 64)
            start = time.perf_counter()
            logits = model(_ids(size), past_key_values=cache, logits_to_keep=1).logits
            prefill_s = time.perf_counter() - start
            token, steps = logits[:, -1:].argmax(-1), 16
            start = time.perf_counter()
            for _ in range(steps):
                token = model(token, past_key_values=cache).logits[:, -1:].argmax(-1)
            result = {"seconds": time.perf_counter() - start, "steps": steps,
                      "prefill_s": prefill_s}
    result["peak_gb"] = _peak_gb()
    Path(out).write_text(json.dumps(result))


def _spawn(kind: str, which: str, size: int, tmp: str, threads: int,
           repeat: int = 1) -> dict | None:
    out = str(Path(tmp) / f"{kind}-{which}-{size}.json")
    cmd = [sys.executable, "-m", "engine.bench.v4", kind, which, str(size), out,
           str(threads), str(repeat)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-2000:], file=sys.stderr)
        return None
    result = json.loads(Path(out).read_text())
    if Path(out + ".pt").exists():
        result["logits"] = torch.load(out + ".pt")
    return result


def bench_prefill(seq: int, reference: bool, threads: int = 0,
                  tuned_reference: bool = False, repeat: int = 1) -> dict:
    """`tuned_reference`: the reference process gets the malloc thresholds our engine sets
    (engine/allocator.py); by default it runs as transformers users run it. `repeat`: timed
    calls per side (same for both), the median reported and every run listed."""
    which = "reference-tuned" if tuned_reference else "reference"
    with tempfile.TemporaryDirectory() as tmp:
        ours = _spawn("prefill", "ours", seq, tmp, threads, repeat)
        ref = _spawn("prefill", which, seq, tmp, threads, repeat) if reference else None
    figures = dict(ours_s=ours and round(ours["seconds"], 3),
                   ours_peak_gb=ours and ours["peak_gb"], ours_runs=ours and ours["runs"])
    if ref:
        figures.update(reference_s=round(ref["seconds"], 3), reference_peak_gb=ref["peak_gb"],
                       reference_runs=ref["runs"],
                       reference_allocator="tuned" if tuned_reference else "default")
        if ours:
            figures["max_abs_diff"] = (ours["logits"] - ref["logits"]).abs().max().item()
    if ours:
        figures["tokens_per_s"] = round(seq / ours["seconds"], 1)
    return record("prefill", f"seq={seq}", **figures)


def bench_decode(context: int, threads: int = 0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ours = _spawn("decode", "ours", context, tmp, threads)
    if ours is None:
        return record("decode", f"context={context}")
    return record("decode", f"context={context}", ours_s=round(ours["seconds"] / ours["steps"], 4),
                  ours_peak_gb=ours["peak_gb"], prefill_s=round(ours["prefill_s"], 3),
                  tokens_per_s=round(ours["steps"] / ours["seconds"], 2))


def _timed(fn, repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def bench_moe(tokens: int) -> dict:
    from transformers import DeepseekV4Config
    from transformers.models.deepseek_v4.modeling_deepseek_v4 import DeepseekV4Experts

    from engine.kernels import dispatch

    config = DeepseekV4Config(**BENCH_V4_SMALL)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(tokens, config.hidden_size, generator=g)
    scores = torch.rand(tokens, config.n_routed_experts, generator=g)
    weights, idx = scores.topk(config.num_experts_per_tok, dim=-1)
    repeat = 3 if tokens > 64 else 50
    times, outs = {}, {}
    for impl in ("eager", "grouped_mm", "batched_mm"):
        per_pair = 3 * config.moe_intermediate_size * config.hidden_size * 4
        if impl == "batched_mm" and tokens * config.num_experts_per_tok * per_pair > 2**31:
            times[impl] = None  # gathers a weight copy per (token, slot): > 2 GB here
            continue
        config._experts_implementation = impl
        experts = DeepseekV4Experts(config)
        if not outs:
            gate_up = torch.randn(experts.gate_up_proj.shape, generator=g) * 0.02
            down = torch.randn(experts.down_proj.shape, generator=g) * 0.02
        with torch.no_grad():
            experts.gate_up_proj.copy_(gate_up)
            experts.down_proj.copy_(down)
            times[impl] = _timed(lambda: experts(x, idx, weights), repeat)
            outs[impl] = experts(x, idx, weights)
    with torch.no_grad():
        ours_s = _timed(lambda: dispatch.moe_experts(x, idx, weights, gate_up, down,
                                                     config.swiglu_limit), repeat)
        ours = dispatch.moe_experts(x, idx, weights, gate_up, down, config.swiglu_limit)
    best = min((k for k in times if times[k] is not None), key=times.get)
    return record("moe", f"tokens={tokens}", ours_s=round(ours_s, 6),
                  reference_s=round(times[best], 6), best_reference=best,
                  max_abs_diff=(ours - outs["eager"]).abs().max().item(),
                  **{f"{k}_s": v and round(v, 6) for k, v in times.items()})


def run(args: argparse.Namespace, rest: list[str]) -> int:
    extra = argparse.ArgumentParser(prog=f"python -m engine.bench {args.bench}")
    extra.add_argument("--context", type=int, default=1024)
    extra.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    extra.add_argument("--repeat", type=int, default=1,
                       help="prefill: timed calls per side after the warm-up (median reported)")
    extra.add_argument("--tuned-reference", action="store_true",
                       help="give the reference process our malloc thresholds too")
    opts = extra.parse_args(rest)
    if opts.threads > 0:
        torch.set_num_threads(opts.threads)
    if args.bench == "prefill":
        emit(bench_prefill(args.seq or 2048, args.reference, opts.threads, opts.tuned_reference,
                           opts.repeat))
    elif args.bench == "decode":
        emit(bench_decode(opts.context, opts.threads))
    else:
        for tokens in (args.seq,) if args.seq else (4096, 1):
            emit(bench_moe(tokens))
    return 0


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]),
            int(sys.argv[6]) if len(sys.argv) > 6 else 1)
