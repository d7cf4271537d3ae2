"""`logits_to_keep`: the fast V4 model runs its last layer only for the wanted positions.

Promises held here: the kept logits are the full forward's last rows (to GEMM rounding, the
products run on fewer rows), the cache after such a call is the full call's (so decoding on
from it is bitwise the same), the work really shrinks (the last layer's experts see only the
kept rows), and any other request (no logits_to_keep, indices) gets every row.
"""
from __future__ import annotations

import pytest
import torch

from engine.deepseek_v4 import layer as v4_layer
from engine.deepseek_v4.cache import V4Cache

from v4_pairs import build_reference, fast_copy

ROUNDING = 1e-6  # the same products over fewer rows may round differently in the last ulp


def _ids(seq, vocab, seed):
    return torch.randint(0, vocab, (1, seq), generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def fast():
    return fast_copy(build_reference())


def _rows_seen_by_last_experts(model):
    seen = []
    hook = model.model.layers[-1].mlp.experts.register_forward_hook(
        lambda module, args, out: seen.append(args[0].shape[0]))
    return seen, hook


@pytest.mark.parametrize("keep", [1, 64])
def test_kept_logits_are_the_full_forwards_last_rows(fast, keep):
    ids = _ids(700, fast.config.vocab_size, seed=11)
    with torch.no_grad():
        full = fast(ids).logits
        seen, hook = _rows_seen_by_last_experts(fast)
        part = fast(ids, logits_to_keep=keep).logits
        hook.remove()
    assert part.shape == (1, keep, fast.config.vocab_size)
    assert (part - full[:, -keep:]).abs().max().item() <= ROUNDING
    assert seen == [keep]  # the last layer's MoE ran on the kept rows only


def test_cache_after_a_kept_prefill_decodes_like_the_full_one(fast):
    ids = _ids(600, fast.config.vocab_size, seed=12)
    step = torch.tensor([[7]])
    with torch.no_grad():
        full_cache, kept_cache = V4Cache(fast.config), V4Cache(fast.config)
        fast(ids, past_key_values=full_cache)
        fast(ids, past_key_values=kept_cache, logits_to_keep=1)
        assert kept_cache.get_seq_length() == full_cache.get_seq_length() == 600
        for _ in range(3):
            want = fast(step, past_key_values=full_cache).logits
            got = fast(step, past_key_values=kept_cache).logits
            assert torch.equal(want, got)
            step = want[:, -1:].argmax(-1)


def test_pieces_before_the_wanted_rows_only_fill_the_cache():
    """Chunked prefill: pieces with no wanted row skip the last layer's queries and MoE."""
    reference = build_reference()
    chunked = fast_copy(reference, prefill_chunk=200)
    ids = _ids(650, reference.config.vocab_size, seed=13)
    with torch.no_grad():
        full_cache, kept_cache = V4Cache(reference.config), V4Cache(reference.config)
        full = chunked(ids, past_key_values=full_cache).logits
        seen, hook = _rows_seen_by_last_experts(chunked)
        part = chunked(ids, past_key_values=kept_cache, logits_to_keep=60).logits
        hook.remove()
        step = torch.tensor([[3]])
        assert torch.equal(chunked(step, past_key_values=full_cache).logits,
                           chunked(step, past_key_values=kept_cache).logits)
    assert (part - full[:, -60:]).abs().max().item() <= ROUNDING
    # pieces 0-199 and 200-399 have no wanted row (no MoE call), 400-599 has 10, 600-649 all
    assert seen == [10, 50]


def test_every_row_when_the_caller_wants_them(fast):
    ids = _ids(300, fast.config.vocab_size, seed=14)
    with torch.no_grad():
        full = fast(ids).logits
        assert fast(ids, logits_to_keep=0).logits.shape == full.shape
        assert fast(ids, logits_to_keep=300).logits.shape == full.shape
        assert fast(ids, logits_to_keep=5000).logits.shape == full.shape
        picked = fast(ids, logits_to_keep=torch.tensor([0, 299])).logits
        assert (picked - full[:, [0, 299]]).abs().max().item() <= ROUNDING  # the head's GEMM
        assert torch.equal(fast(ids).logits, full)  # one call's request does not stick


def test_hc_weights_for_kept_rows_are_the_tail_of_all_rows():
    model = build_reference({"num_hidden_layers": 1, "layer_types": ["sliding_attention"]})
    hc = model.model.layers[0].attn_hc
    streams = torch.randn(1, 40, model.config.hc_mult, model.config.hidden_size,
                          generator=torch.Generator().manual_seed(15))
    with torch.no_grad():
        post, comb, collapsed = v4_layer.hc_weights(hc, streams)
        kept_post, kept_comb, kept_collapsed = v4_layer.hc_weights(hc, streams, keep=6)
    assert torch.equal(kept_post, post[:, -6:])
    assert torch.equal(kept_comb, comb[:, -6:])
    assert torch.equal(kept_collapsed, collapsed)  # every row: it feeds the cached keys
