"""Triton FP8 and W4A16 matmuls at V4-Flash shapes vs a bf16 matmul of the same shape (CUDA only).

Run on a GPU machine from the repo root: `python bench/gpu_native_matmul.py [--peak-gbs 4800]`.
For each shape and batch it prints one JSON line: kernel time, weight bytes read, achieved
bytes/s and its share of the GPU's peak bandwidth, the bf16 `F.linear` time of the same shape
(2 bytes per weight), and the max error against dequantize-then-bf16. Not run in CI: the dev
machine has no GPU (the kernels are checked there under TRITON_INTERPRET=1 instead).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# V4-Flash: (name, N, K) in transformers' (out, in) layout.
FP8_SHAPES = [("attn.wq_a", 1024, 4096), ("attn.wq_b", 32768, 1024), ("attn.wkv", 512, 4096),
              ("attn.wo_b", 4096, 8192), ("shared.w1", 2048, 4096), ("shared.w2", 4096, 2048)]
FP4_SHAPES = [("expert.gate_up", 4096, 4096), ("expert.down", 4096, 2048)]
BATCHES = (1, 16, 128)


def main() -> int:
    import torch
    import torch.nn.functional as F
    from triton.testing import do_bench

    from engine.deepseek_v4 import format as v4_format
    from engine.kernels import triton_matmul

    parser = argparse.ArgumentParser()
    parser.add_argument("--peak-gbs", type=float, default=4800.0, help="GPU bandwidth, GB/s")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("needs a CUDA GPU", file=sys.stderr)
        return 2
    dev = "cuda"
    gen = torch.Generator(device="cpu").manual_seed(0)
    print(json.dumps({"gpu": torch.cuda.get_device_name(), "peak_gbs": args.peak_gbs}))
    for kind, shapes in (("fp8", FP8_SHAPES), ("w4a16", FP4_SHAPES)):
        for name, n, k in shapes:
            w = torch.randn(n, k, generator=gen) * 0.02
            if kind == "fp8":
                q, s = v4_format.quantize_fp8(w)
                ref_w = v4_format.dequantize_fp8(q, s, torch.bfloat16).to(dev)
                q, s = q.view(torch.uint8).to(dev), s.view(torch.uint8).to(dev)
                fn = triton_matmul.fp8_linear
            else:
                q, s = v4_format.quantize_fp4(w)
                ref_w = v4_format.dequantize_fp4(q, s, torch.bfloat16).to(dev)
                q, s = q.view(torch.uint8).to(dev), s.view(torch.uint8).to(dev)
                fn = triton_matmul.fp4_linear
            weight_bytes = q.numel() + s.numel()
            for m in BATCHES:
                x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
                got = fn(x, q, s)
                want = F.linear(x, ref_w)
                err = (got.float() - want.float()).abs().max().item()
                ours = do_bench(lambda: fn(x, q, s), warmup=25, rep=200) / 1e3
                bf16 = do_bench(lambda: F.linear(x, ref_w), warmup=25, rep=200) / 1e3
                print(json.dumps({
                    "kernel": kind, "shape": name, "n": n, "k": k, "m": m,
                    "ours_s": ours, "bf16_s": bf16, "speedup": round(bf16 / ours, 3),
                    "weight_bytes": weight_bytes, "bf16_bytes": 2 * n * k,
                    "ours_gbs": round(weight_bytes / ours / 1e9, 1),
                    "bf16_gbs": round(2 * n * k / bf16 / 1e9, 1),
                    "ours_peak_share": round(weight_bytes / ours / 1e9 / args.peak_gbs, 3),
                    "bf16_peak_share": round(2 * n * k / bf16 / 1e9 / args.peak_gbs, 3),
                    "max_abs_diff": err, "ref_max": want.abs().max().item()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
