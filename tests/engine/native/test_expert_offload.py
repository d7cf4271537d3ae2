"""Expert-granular offload on CPU ("host" = "device" = cpu): counters, outputs, vs accelerate."""
from __future__ import annotations

import warnings

import pytest
import torch

from engine.deepseek_v4 import expert_offload
from engine.placement.options import LoadOptions
from engine.deepseek_v4.reference import PrecisionWarning, load_v4
from engine.deepseek_v4.native import load_v4_native
from engine.placement.offload import layer_device_map
from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4, make_config

K = TEST_V4["num_experts_per_tok"]
LAYERS = TEST_V4["num_hidden_layers"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_v4(tmp_path_factory.mktemp("offload") / "tiny", TEST_V4, seed=0)


def _prompt():
    return torch.randint(3, TEST_V4["vocab_size"], (1, 24),
                         generator=torch.Generator().manual_seed(5))


def _decode(model, ids, steps):
    """Greedy decode; yields (token, logits) per step after the prompt."""
    with torch.no_grad():
        out = model(ids, use_cache=True)
        cache, logits = out.past_key_values, out.logits[:, -1]
        for _ in range(steps):
            token = logits.argmax(-1, keepdim=True)
            yield token, logits
            out = model(token, past_key_values=cache)
            logits = out.logits[:, -1]


@pytest.mark.slow
def test_decode_traffic_is_the_routed_experts_bytes_and_10x_below_accelerate(tiny, tmp_path):
    ids = _prompt()
    reference = [t.item() for t, _ in _decode(load_v4_native(tiny), ids, 6)]
    model = load_v4_native(tiny)
    off = expert_offload.apply_expert_offload(model, device="cpu", host="cpu", hot={})
    per_token, tokens = [], []
    with torch.no_grad():
        out = model(ids, use_cache=True)
        cache, logits = out.past_key_values, out.logits[:, -1]
        for _ in range(6):
            token = logits.argmax(-1, keepdim=True)
            tokens.append(token.item())
            off.counters.reset()
            logits = model(token, past_key_values=cache).logits[:, -1]
            assert off.counters.tokens == 1
            hits = off.counters.host_hits
            assert hits <= K * LAYERS
            # exactly the bytes of the experts this token routed to, none of the others
            assert off.counters.bytes_h2d == hits * off.expert_bytes
            per_token.append(off.counters.bytes_h2d)
    assert tokens == reference  # offload changes where weights live, not the outputs
    routed = K * LAYERS * off.expert_bytes  # a token's routed experts (no duplicates in top-k)
    mean = sum(per_token) / len(per_token)
    assert abs(mean - routed) <= 0.10 * routed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        device_map = layer_device_map(make_config(TEST_V4), {i: "disk" for i in range(LAYERS)})
        accel, _, _ = load_v4(tiny, LoadOptions(dtype="bfloat16", device_map=device_map,
                                                offload_folder=str(tmp_path / "off")))
    tally = expert_offload.count_accelerate_traffic(accel)
    accel_tokens, accel_bytes = [], []
    for token, _ in _decode(accel, ids, 6):
        accel_tokens.append(token.item())
        accel_bytes.append(tally["bytes"])
    assert accel_tokens == reference
    accel_per_token = (accel_bytes[-1] - accel_bytes[0]) / 5
    assert accel_per_token >= 10 * mean, (accel_per_token, mean)


def test_hot_experts_and_host_compute_move_no_weights(tiny):
    ids = _prompt()
    base = load_v4_native(tiny)
    with torch.no_grad():
        want = base(ids).logits
    counts = expert_offload.profile_expert_counts(base, ids)
    assert sum(sum(c) for c in counts.values()) == K * ids.numel() * LAYERS
    layer_bytes = next(iter(expert_offload.expert_layers(base).values())).expert_bytes()

    model = load_v4_native(tiny)
    everything = expert_offload.choose_hot(model, device_budget=10**12, counts=counts)
    off = expert_offload.apply_expert_offload(model, hot=everything)
    with torch.no_grad():
        assert torch.equal(model(ids).logits, want)
    assert off.counters.bytes_h2d == 0 and off.counters.host_hits == 0
    assert off.counters.device_hits > 0

    hosted = load_v4_native(tiny)
    off = expert_offload.apply_expert_offload(hosted, mode="host")
    with torch.no_grad():
        assert torch.equal(hosted(ids).logits, want)
    assert off.counters.bytes_h2d == 0 and off.counters.activation_bytes > 0
    assert off.counters.host_hits == sum(sum(1 for c in layer if c) for layer in counts.values())

    some = load_v4_native(tiny)
    budget = expert_offload.choose_hot(some, device_budget=None)  # no budget: everything
    assert sum(map(len, budget.values())) == 8 * LAYERS
    from engine.deepseek_v4.native import resident_bytes

    dense = resident_bytes(some) - 8 * LAYERS * layer_bytes
    hot = expert_offload.choose_hot(some, dense + 5 * layer_bytes, counts)
    assert sum(map(len, hot.values())) == 5
    top = sorted(((c, i, e) for i, layer in counts.items() for e, c in enumerate(layer)),
                 reverse=True)[:5]
    assert min(counts[i][e] for i, es in hot.items() for e in es) >= top[-1][0]
