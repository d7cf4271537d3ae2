"""One V4-Flash-shaped layer's kernels on CUDA: Triton vs the torch paths, correctness and bytes/s.

Shapes (default, `--shape flash`): hidden 4096, 64 heads, head_dim 512, 256 experts top-6,
moe_intermediate 2048, indexer 64 heads x 128, index top-k 512, window 128; random bf16 weights.
Cases: prefill at 8K and 32K (indexer -> CSA sparse attention -> MoE over all tokens) and decode
at 128K of context (one query against window + top-512 + the 32K indexer keys, 6 experts).
Correctness: Triton against the pure-torch reference ops (engine/kernels/*.reference) on the
last 64 queries (the dense reference cannot hold 32K x 8K scores), and against the torch fast
path on everything. Bytes/s: the bytes each kernel must read (weights, KV, indices) over time,
against `--peak-gbs` (H200: 4800).

Also runs on CPU with `--shape tiny` (torch paths; add TRITON_INTERPRET=1 to run Triton through
its interpreter). Prints one JSON object per line.
    python bench/gpu_v4_layer.py --shape flash            # on the GPU machine
    TRITON_INTERPRET=1 python bench/gpu_v4_layer.py --shape tiny --device cpu
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.kernels import dispatch, indexer, sparse_attention  # noqa: E402

SHAPES = {
    "flash": dict(hidden=4096, heads=64, head_dim=512, experts=256, top_k=6, inter=2048,
                  idx_heads=64, idx_dim=128, index_topk=512, window=128,
                  prefill=(8192, 32768), decode_context=131072),
    "tiny": dict(hidden=64, heads=4, head_dim=64, experts=8, top_k=2, inter=32, idx_heads=2,
                 idx_dim=32, index_topk=16, window=16, prefill=(128, 256), decode_context=512),
}


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _time(fn, device, repeat=3):
    fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        out = fn()
    _sync(device)
    return (time.perf_counter() - start) / repeat, out


def _case(s, seq, context, device, dtype, g):
    """Random layer inputs for `seq` queries at the end of a `context`-token prefix."""
    n_comp = context // 4
    q = torch.randn(seq, s["heads"], s["head_dim"], generator=g).to(device, dtype)
    kv = torch.randn(min(context, seq + s["window"] - 1), s["head_dim"], generator=g)
    comp = torch.randn(n_comp, s["head_dim"], generator=g).to(device, dtype)
    iq = torch.randn(seq, s["idx_heads"], s["idx_dim"], generator=g).to(device, dtype)
    iw = torch.randn(seq, s["idx_heads"], generator=g).to(device, torch.float32)
    ik = torch.randn(n_comp, s["idx_dim"], generator=g).to(device, dtype)
    return q, kv.to(device, dtype), comp, iq, iw, ik


def run_case(s, name, seq, context, device, dtype, peak_gbs, backend):
    g = torch.Generator().manual_seed(0)
    q, kv, comp, iq, iw, ik = _case(s, seq, context, device, dtype, g)
    q_start, kv_start = context - seq, context - kv.shape[0]
    sinks = torch.randn(s["heads"], generator=g).to(device)
    scale = s["head_dim"] ** -0.5
    rows = {}
    idx_args = (iq, iw, ik, q_start, 4, s["index_topk"], s["idx_dim"] ** -0.5)
    t_idx, picks = _time(lambda: dispatch.indexer_topk(*idx_args, backend=backend), device)
    def att():
        return dispatch.sparse_attention(q, kv, sinks, scale, s["window"], q_start, kv_start,
                                         comp=comp, comp_idx=picks, backend=backend)

    t_att, out = _time(att, device)
    tail = slice(max(0, seq - 64), seq)
    ref_picks = indexer.reference(iq[tail], iw[tail], ik, q_start + tail.start, 4,
                                  s["index_topk"], s["idx_dim"] ** -0.5)
    ref_out = sparse_attention.reference(q[tail], kv, sinks, scale, s["window"],
                                         q_start + tail.start, kv_start, comp=comp,
                                         comp_idx=picks[tail])
    el = torch.tensor([], dtype=dtype).element_size()
    kv_bytes = seq * (s["window"] + s["index_topk"]) * s["head_dim"] * el
    rows["indexer"] = dict(seconds=t_idx, picks_equal_fraction=(
        ref_picks.sort(-1).values == picks[tail].sort(-1).values).float().mean().item(),
        gbs=ik.numel() * el * max(1, seq // 256) / t_idx / 1e9)
    rows["sparse_attention"] = dict(seconds=t_att, gbs=kv_bytes / t_att / 1e9,
                                    max_abs_diff=(ref_out.float() - out[tail].float()).abs().max()
                                    .item())
    experts = dict(gate_up=torch.randn(s["experts"], 2 * s["inter"], s["hidden"], generator=g),
                   down=torch.randn(s["experts"], s["hidden"], s["inter"], generator=g))
    gate_up = (experts["gate_up"] * 0.02).to(device, dtype)
    down = (experts["down"] * 0.02).to(device, dtype)
    x = torch.randn(seq, s["hidden"], generator=g).to(device, dtype)
    top_w, top_i = torch.rand(seq, s["experts"], generator=g).to(device).topk(s["top_k"], dim=-1)
    def moe(name):
        return dispatch.moe_experts(x, top_i, top_w, gate_up, down, 10.0, backend=name)

    t_moe, y = _time(lambda: moe(backend), device)
    y_ref = moe("torch") if backend != "torch" else y
    touched = torch.unique(top_i).numel()
    moe_bytes = touched * 3 * s["hidden"] * s["inter"] * el
    rows["moe"] = dict(seconds=t_moe, gbs=moe_bytes / t_moe / 1e9,
                       max_abs_diff=(y.float() - y_ref.float()).abs().max().item())
    for kernel, row in rows.items():
        row.update(case=name, kernel=kernel, backend=backend or dispatch.backend_for(device),
                   seq=seq, context=context, peak_fraction=row["gbs"] / peak_gbs)
        print(json.dumps(row), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", choices=sorted(SHAPES), default="flash")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--backend", choices=dispatch.BACKENDS, default=None)
    parser.add_argument("--peak-gbs", type=float, default=4800.0)
    parser.add_argument("--cases", default="prefill,decode")
    args = parser.parse_args(argv)
    s, device = SHAPES[args.shape], torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    cases = args.cases.split(",")
    if "prefill" in cases:
        for seq in s["prefill"]:
            run_case(s, f"prefill-{seq}", seq, seq, device, dtype, args.peak_gbs, args.backend)
    if "decode" in cases:
        ctx = s["decode_context"]
        run_case(s, f"decode-{ctx}", 1, ctx, device, dtype, args.peak_gbs, args.backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
