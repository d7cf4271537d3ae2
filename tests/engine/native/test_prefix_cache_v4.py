"""Persistent prefix cache on the fast DeepSeek-V4 path: a stored `V4Cache` state (window,
compressed entries, indexer keys, pending windows, CSA overlap) restores to the cold logits."""
from __future__ import annotations

import pytest
import torch

from engine.prefix_cache import PrefixCache
from engine.deepseek_v4.tiny import WINDOW_TEST_V4

V4_SMALL = WINDOW_TEST_V4  # the real window (128) and compression rates (4, 128)
TOL = 1e-5


@pytest.fixture(scope="module")
def model():
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    from engine.deepseek_v4.model import apply_fast_v4

    torch.manual_seed(0)
    reference = DeepseekV4ForCausalLM(DeepseekV4Config(**V4_SMALL)).eval()
    with torch.no_grad():
        for name, param in reference.named_parameters():
            if name.endswith(("sinks", "position_bias")):
                param.normal_(0, 0.5)
    return apply_fast_v4(reference)


def _cold(model, ids, splits):
    from engine.generation import prefill
    from engine.deepseek_v4.cache import V4Cache

    cache, logits = V4Cache(model.config), None
    bounds = [0, *splits, len(ids)]
    with torch.inference_mode():
        for a, b in zip(bounds, bounds[1:]):
            logits = prefill(model, torch.tensor([ids[a:b]]), cache)
    return logits


def _prompt(seed, n):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 256, (n,), generator=g).tolist()


@pytest.mark.parametrize("block", [256, 100])  # 100: pending windows of both rates are stored
def test_v4_warm_prefill_gives_the_cold_logits(model, tmp_path, block):
    library = _prompt(1, 2 * block + 37)
    first, second = library + _prompt(2, 9), library + _prompt(3, 11)
    cache = PrefixCache(tmp_path / "kv", block=block)
    with torch.inference_mode():
        _, cold = cache.prefill(model, first)
    boundary = 2 * block
    assert cache.last["stored_tokens"] == boundary and cache.last["note"] is None
    assert (cold - _cold(model, first, [boundary])).abs().max().item() <= TOL
    entry = next((tmp_path / "kv").glob("*/entries/*.safetensors"))
    with torch.inference_mode():
        fresh = PrefixCache(tmp_path / "kv", block=block)  # a new process: the cache is on disk
        state, warm = fresh.prefill(model, second)
    assert fresh.last["cached_tokens"] == boundary
    assert state.get_seq_length() == len(second)
    assert (warm - _cold(model, second, [boundary])).abs().max().item() <= TOL
    assert entry.is_file()

    other = PrefixCache(tmp_path / "kv", block=block)
    with torch.inference_mode():
        other.prefill(model, second)
    assert other.last["cached_tokens"] == boundary
    changed = list(second)
    changed[block + 5] = changed[block + 5] % 255 + 1  # one token of the second block
    with torch.inference_mode():
        _, logits = other.prefill(model, changed)
    assert other.last["cached_tokens"] == 0  # the only stored state covered the changed token
    assert (logits - _cold(model, changed, [boundary])).abs().max().item() <= TOL
    assert (logits - warm).abs().max().item() > 1e-3


def test_v4_state_round_trip_continues_decoding(model):
    from engine.generation import decode_step, prefill
    from engine.deepseek_v4.cache import V4Cache

    ids = _prompt(4, 301)  # mid-window for every compressor
    with torch.inference_mode():
        cache = V4Cache(model.config)
        prefill(model, torch.tensor([ids]), cache)
        tensors, meta = cache.state_dict()
        restored = V4Cache.from_state(model.config, tensors, meta)
        assert restored.get_seq_length() == 301 and meta["tokens"] == 301
        token = torch.tensor([[7]])
        for _ in range(3):
            a, b = decode_step(model, token, cache), decode_step(model, token, restored)
            assert (a - b).abs().max().item() <= TOL
            token = a.argmax().view(1, 1)
    with pytest.raises(ValueError):
        V4Cache.from_state(model.config, tensors, {**meta, "layers": meta["layers"][::-1]})


def test_generic_runner_decodes_from_a_restored_v4_prefix(model, tmp_path):
    from engine.generation import GenericRunner

    ids = _prompt(5, 300)
    cache = PrefixCache(tmp_path, block=128)
    runs = []
    with torch.inference_mode():
        for _ in range(2):
            runner = GenericRunner(model)
            steps = [runner.prefill(ids, None, cache)]
            for _ in range(3):
                steps.append(runner.decode(int(steps[-1].argmax())))
            runs.append(torch.stack(steps))
    assert cache.last["cached_tokens"] == 256
    assert (runs[0] - runs[1]).abs().max().item() <= TOL
