"""Each V4 kernel's fast paths against its pure-torch reference on random inputs."""
from __future__ import annotations

import pytest
import torch

from engine.kernels import dispatch, indexer, moe, sparse_attention

TOL = {torch.float32: 1e-5, torch.bfloat16: 3e-2}


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _attention_case(seq, n_cached, heads, dim, n_comp, kind, seed, dtype=torch.float32):
    g = _gen(seed)
    q_start = n_cached
    kv = torch.randn(n_cached + seq, dim, generator=g).to(dtype)
    kv_start = 0
    if n_cached > 127:  # a cache keeps only the last window - 1 rows
        kv, kv_start = kv[n_cached - 127 :], n_cached - 127
    q = torch.randn(seq, heads, dim, generator=g).to(dtype)
    sinks = torch.randn(heads, generator=g)
    comp = torch.randn(n_comp, dim, generator=g).to(dtype) if kind != "swa" else None
    extra = {}
    if kind == "csa":
        k = 6
        idx = torch.randint(0, max(n_comp, 1), (seq, k), generator=g)
        idx[torch.rand(seq, k, generator=g) < 0.3] = -1
        if seq:
            idx[0] = -1  # one query with every slot invalid
        extra["comp_idx"] = idx if n_comp else torch.full((seq, k), -1)
    elif kind == "hca":
        extra["comp_ratio"] = 4
    return (q, kv, sinks, dim**-0.5, 128, q_start, kv_start), dict(comp=comp, **extra)


@pytest.mark.parametrize("kind", ["swa", "csa", "hca"])
@pytest.mark.parametrize("seq,n_cached", [(0, 0), (1, 0), (1, 300), (7, 0), (129, 0),
                                          (300, 0), (5, 140)])
def test_sparse_attention_torch_matches_reference(kind, seq, n_cached):
    args, kw = _attention_case(seq, n_cached, 4, 32, (seq + n_cached) // 4, kind, seed=seq)
    ref = sparse_attention.reference(*args, **kw)
    fast = sparse_attention.torch_chunked(*args, **kw, block=64)
    assert fast.shape == (seq, 4, 32)
    assert (ref - fast).abs().max().item() <= TOL[torch.float32] if seq else True


def test_sparse_attention_bf16_within_table():
    args, kw = _attention_case(200, 0, 4, 64, 50, "csa", seed=9, dtype=torch.bfloat16)
    ref = sparse_attention.reference(*args, **kw).float()
    fast = sparse_attention.torch_chunked(*args, **kw).float()
    assert (ref - fast).abs().max().item() <= TOL[torch.bfloat16]


def test_all_invalid_slots_give_window_only():
    args, kw = _attention_case(20, 0, 2, 16, 5, "csa", seed=3)
    kw["comp_idx"] = torch.full_like(kw["comp_idx"], -1)
    swa = sparse_attention.reference(*args)
    assert torch.allclose(sparse_attention.torch_chunked(*args, **kw), swa, atol=1e-6)


def _indexer_case(seq, q_start, n_keys, seed, heads=3, dim=16):
    g = _gen(seed)
    return (torch.randn(seq, heads, dim, generator=g), torch.randn(seq, heads, generator=g),
            torch.randn(n_keys, dim, generator=g), q_start, 4, 8, dim**-0.5)


@pytest.mark.parametrize("seq,q_start,n_keys", [(0, 0, 0), (1, 0, 0), (1, 399, 100), (3, 0, 0),
                                                 (100, 0, 25), (50, 200, 62), (600, 0, 150)])
def test_indexer_chunked_matches_reference(seq, q_start, n_keys):
    args = _indexer_case(seq, q_start, n_keys, seed=seq + n_keys)
    ref = indexer.reference(*args)
    fast = indexer.torch_chunked(*args, budget=3 * n_keys * 7 + 1)  # several blocks
    assert fast.shape == ref.shape == (seq, min(8, n_keys))
    assert torch.equal(ref.sort(dim=-1).values, fast.sort(dim=-1).values)
    if seq and n_keys:
        assert (ref[0] == -1).sum() >= min(8, n_keys) - (q_start + 1) // 4  # causality


def _moe_case(n, seed, experts=6, hidden=32, inter=16, k=3, dtype=torch.float32):
    g = _gen(seed)
    x = torch.randn(n, hidden, generator=g).to(dtype)
    idx = torch.randint(0, experts, (n, k), generator=g)
    if n:
        idx[0] = idx[0, 0]  # duplicates, like an all-zero hash table
    w = torch.rand(n, k, generator=g)
    gate_up = (torch.randn(experts, 2 * inter, hidden, generator=g) * 0.3).to(dtype)
    down = (torch.randn(experts, hidden, inter, generator=g) * 0.3).to(dtype)
    return x, idx, w, gate_up, down, 1.5


@pytest.mark.parametrize("n", [0, 1, 2, 37, 256])
def test_moe_grouped_matches_reference(n):
    args = _moe_case(n, seed=n)
    ref = moe.reference(*args)
    fast = moe.torch_grouped(*args)
    assert fast.shape == (n, 32)
    assert (ref - fast).abs().max().item() <= TOL[torch.float32] if n else True


def test_moe_matches_transformers_experts_implementations():
    from transformers import DeepseekV4Config
    from transformers.models.deepseek_v4.modeling_deepseek_v4 import DeepseekV4Experts

    config = DeepseekV4Config(hidden_size=32, moe_intermediate_size=16, n_routed_experts=6,
                              num_experts_per_tok=3, num_hidden_layers=1)
    x, idx, w, gate_up, down, _ = _moe_case(40, seed=5)
    for impl in ("eager", "grouped_mm", "batched_mm"):
        config._experts_implementation = impl
        experts = DeepseekV4Experts(config)
        with torch.no_grad():
            experts.gate_up_proj.copy_(gate_up)
            experts.down_proj.copy_(down)
            want = experts(x, idx, w)
        got = dispatch.moe_experts(x, idx, w, gate_up, down, config.swiglu_limit)
        assert (want - got).abs().max().item() <= 1e-5, impl


def test_dispatch_picks_torch_on_cpu_and_rejects_unknown():
    assert dispatch.backend_for(torch.device("cpu")) == "torch"
    with pytest.raises(ValueError):
        dispatch.backend_for(torch.device("cpu"), "cuda-magic")


@pytest.mark.parametrize("seq,q_start,n_keys", [(100, 0, 25), (600, 0, 150), (40, 500, 300)])
def test_indexer_picks_equal_the_reference_in_order(seq, q_start, n_keys):
    """Same picks in the same order as ranking the full row (the order feeds attention's sums)."""
    args = _indexer_case(seq, q_start, n_keys, seed=7 * seq + n_keys)
    assert torch.equal(indexer.torch_chunked(*args, budget=3 * n_keys * 7 + 1),
                       indexer.reference(*args))


def test_indexer_zero_ties_at_the_cut_fall_back_to_the_full_row():
    """Negative head weights make every score <= 0 and the many exact zeros tie at the top:
    torch.topk's choice among them depends on the whole row, so the chunked path must rank the
    same full row as the reference and pick the same entries in the same order."""
    q, weights, keys, q_start, ratio, topk, scale = _indexer_case(300, 0, 75, seed=3)
    weights = -weights.abs()
    ref = indexer.reference(q, weights, keys, q_start, ratio, topk, scale)
    scores = (torch.relu(q @ keys.T) * weights[..., None]).sum(1)
    assert (scores == 0).sum(-1).max() > topk  # the tie this test is about is there
    fast = indexer.torch_chunked(q, weights, keys, q_start, ratio, topk, scale, budget=3 * 75 * 9)
    assert torch.equal(fast, ref)
