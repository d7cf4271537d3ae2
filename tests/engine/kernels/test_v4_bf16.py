"""bf16 tolerance table for the fast V4 path: against the fp32 reference (the truth), our bf16
logits may be off by no more than transformers' own bf16 path is, with a small margin.

A fixed absolute bound would either hide real bugs at short lengths or fail on bf16 rounding at
long ones; measuring against the reference's own bf16 error keeps the bound honest per case.
"""
from __future__ import annotations

import copy

import pytest
import torch
from transformers import DynamicCache

from engine.deepseek_v4.cache import V4Cache

from v4_pairs import fast_copy

# case -> (allowed ratio of our bf16 error to the reference's, absolute floor). Measured: max
# logit error vs fp32 at 1 / 7 / 129 / 1000 tokens, reference 0.0040 / 0.0064 / 0.0418 / 0.0778,
# ours 0.0038 / 0.0067 / 0.0413 / 0.0885.
TOLERANCE = {"prefill": (1.5, 0.01), "decode": (1.5, 0.01)}


def _err(a, b):
    return (a.float() - b.float()).abs().max().item()


@pytest.fixture(scope="module")
def bf16_trio(v4_pair):
    reference, _ = v4_pair
    ref_bf16 = copy.deepcopy(reference).to(torch.bfloat16)
    return reference, ref_bf16, fast_copy(ref_bf16)


@pytest.mark.parametrize("seq", [1, 7, 129, 1000])
def test_bf16_prefill_within_the_reference_bf16_error(bf16_trio, seq):
    truth, ref_bf16, fast_bf16 = bf16_trio
    ids = torch.randint(0, truth.config.vocab_size, (1, seq),
                        generator=torch.Generator().manual_seed(seq))
    with torch.no_grad():
        exact = truth(ids).logits
        ref_err = _err(ref_bf16(ids).logits, exact)
        ours_err = _err(fast_bf16(ids).logits, exact)
    ratio, floor = TOLERANCE["prefill"]
    assert ours_err <= max(ratio * ref_err, floor), (ours_err, ref_err)


def test_bf16_decode_within_the_reference_bf16_error(bf16_trio):
    truth, ref_bf16, fast_bf16 = bf16_trio
    prompt, steps = 129, 6
    ids = torch.randint(0, truth.config.vocab_size, (1, prompt + steps),
                        generator=torch.Generator().manual_seed(7))
    caches = (DynamicCache(config=truth.config), DynamicCache(config=truth.config),
              V4Cache(truth.config))
    ref_worst = ours_worst = 0.0
    with torch.no_grad():
        for a, b in [(0, prompt)] + [(t, t + 1) for t in range(prompt, prompt + steps)]:
            exact = truth(ids[:, a:b], past_key_values=caches[0]).logits
            ref_worst = max(ref_worst, _err(ref_bf16(ids[:, a:b], past_key_values=caches[1])
                                            .logits, exact))
            ours_worst = max(ours_worst, _err(fast_bf16(ids[:, a:b], past_key_values=caches[2])
                                              .logits, exact))
    ratio, floor = TOLERANCE["decode"]
    assert ours_worst <= max(ratio * ref_worst, floor), (ours_worst, ref_worst)
