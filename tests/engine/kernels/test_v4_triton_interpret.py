"""Triton kernels against the torch references, on CPU through Triton's interpreter.

TRITON_INTERPRET=1 must be set before the kernels are decorated, so it is set here, before the
Triton modules are imported (lazily, inside the tests).
"""
from __future__ import annotations

import importlib.util
import os

import pytest
import torch

pytestmark = pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                                reason="triton is not installed (requirements.txt pins it)")
os.environ["TRITON_INTERPRET"] = "1"

from engine.kernels import indexer, moe, sparse_attention  # noqa: E402
from test_v4_kernel_ops import _attention_case, _indexer_case, _moe_case  # noqa: E402


@pytest.mark.parametrize("kind", ["swa", "csa", "hca"])
@pytest.mark.parametrize("seq,n_cached,dim", [(0, 0, 32), (1, 0, 32), (1, 200, 64), (9, 0, 32),
                                              (40, 130, 32), (3, 20, 512)])
def test_sparse_attention_triton(kind, seq, n_cached, dim):
    from engine.kernels import sparse_attention_triton

    args, kw = _attention_case(seq, n_cached, 18, dim, (seq + n_cached) // 4, kind, seed=seq)
    ref = sparse_attention.reference(*args, **kw)
    got = sparse_attention_triton.sparse_attention(*args, **kw)
    assert got.shape == ref.shape
    if seq:
        assert (ref - got).abs().max().item() <= 1e-5


@pytest.mark.parametrize("seq,q_start,n_keys", [(0, 0, 0), (1, 0, 0), (1, 99, 25),
                                                 (20, 0, 5), (33, 60, 23)])
def test_indexer_triton(seq, q_start, n_keys):
    from engine.kernels import indexer_triton

    args = _indexer_case(seq, q_start, n_keys, seed=seq + 1)
    ref = indexer.reference(*args)
    got = indexer_triton.indexer_topk(*args)
    assert got.shape == ref.shape
    assert torch.equal(ref.sort(dim=-1).values, got.sort(dim=-1).values)


@pytest.mark.parametrize("n", [0, 1, 5, 40])
def test_moe_triton(n):
    from engine.kernels import moe_triton

    args = _moe_case(n, seed=n + 2)
    ref = moe.reference(*args)
    got = moe_triton.moe_experts(*args)
    assert got.shape == ref.shape
    if n:
        assert (ref - got).abs().max().item() <= 1e-5


def test_fast_model_on_triton_matches_reference(v4_pair):
    """The whole fast model with every kernel forced to Triton (interpreted), prefill + decode."""
    from transformers import DynamicCache
    from v4_pairs import fast_copy

    from engine.deepseek_v4.cache import V4Cache

    reference, _ = v4_pair
    fast = fast_copy(reference, backend="triton")
    ids = torch.randint(0, reference.config.vocab_size, (1, 43),
                        generator=torch.Generator().manual_seed(8))
    ref_cache, fast_cache = DynamicCache(config=reference.config), V4Cache(reference.config)
    with torch.no_grad():
        worst = (reference(ids[:, :40], past_key_values=ref_cache).logits
                 - fast(ids[:, :40], past_key_values=fast_cache).logits).abs().max().item()
        for t in range(40, 43):
            step = ids[:, t : t + 1]
            worst = max(worst, (reference(step, past_key_values=ref_cache).logits
                                - fast(step, past_key_values=fast_cache).logits).abs().max().item())
    assert worst <= 1e-4
