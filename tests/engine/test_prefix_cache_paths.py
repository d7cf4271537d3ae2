"""The prefix cache on the paths a user runs: the fast Llama forward (the embedded default's),
entries shared with transformers' path, least-recently-used eviction, readers that survive an
entry vanishing under them, and several processes writing one folder at once."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from engine.generation import FastRunner, GenericRunner, open_runner
from engine.prefix_cache import PrefixCache

TOL = 1e-4  # fp32 logits of a suffix prefilled after restored KV vs one whole prefill
LIBRARY = [(7 * i + 3) % 90 + 3 for i in range(70)]  # 70 shared tokens: boundary 64 at block 16
FIRST, SECOND = LIBRARY + [5, 9, 11, 40], LIBRARY + [61, 2, 33]


def _tiny(seed: int = 0):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)).eval()


def _greedy(model, ids, steps=12, prefixes=None, generic=False):
    """(tokens, logits per step) through the runner `open_runner` picks (or transformers')."""
    with torch.inference_mode():
        runner = GenericRunner(model) if generic else open_runner(model, len(ids) + steps)
        logits = runner.prefill(ids, None, prefixes)
        tokens, seen = [], [logits.clone()]
        for _ in range(steps):
            tokens.append(int(logits.argmax()))
            logits = runner.decode(tokens[-1])
            seen.append(logits.clone())
        runner.close()
    return tokens, seen, runner


def _close(a, b) -> float:
    return max((x - y).abs().max().item() for x, y in zip(a, b))


def test_fast_path_reads_the_shared_library_and_keeps_the_greedy_answer(tmp_path):
    model = _tiny()
    cold_tokens, cold_logits, runner = _greedy(model, SECOND)
    assert isinstance(runner, FastRunner)
    prefixes = PrefixCache(tmp_path / "kv", block=16)
    _greedy(model, FIRST, prefixes=prefixes)
    assert prefixes.last["stored_tokens"] == 64 and prefixes.last["cached_tokens"] == 0
    tokens, logits, runner = _greedy(model, SECOND, prefixes=prefixes)
    assert prefixes.last["cached_tokens"] == 64 and runner.cached_tokens == 64
    assert tokens == cold_tokens
    assert _close(logits, cold_logits) < TOL

    other = PrefixCache(tmp_path / "kv", block=16)  # a later process, transformers' path
    tokens, logits, runner = _greedy(model, SECOND, prefixes=other, generic=True)
    assert isinstance(runner, GenericRunner) and other.last["cached_tokens"] == 64
    assert tokens == cold_tokens and _close(logits, cold_logits) < TOL


def test_another_model_and_a_changed_token_miss(tmp_path):
    prefixes = PrefixCache(tmp_path, block=16)
    _greedy(_tiny(0), FIRST, prefixes=prefixes)
    _greedy(_tiny(1), SECOND, prefixes=prefixes)  # same shapes, other weights
    assert prefixes.last["cached_tokens"] == 0
    changed = list(SECOND)
    changed[20] = changed[20] % 90 + 4
    _greedy(_tiny(0), changed, prefixes=prefixes)
    assert prefixes.last["cached_tokens"] == 16  # only the block before the changed token


def test_least_recently_used_entry_goes_first(tmp_path):
    model = _tiny()
    prompts = [[k + 3] * 40 for k in range(3)]
    prefixes = PrefixCache(tmp_path, block=16)
    _greedy(model, prompts[0], 1, prefixes)
    size = next(tmp_path.glob("*/entries/*.safetensors")).stat().st_size
    prefixes.max_bytes = 2 * size
    _greedy(model, prompts[1], 1, prefixes)
    _greedy(model, prompts[0], 1, prefixes)  # read: now the most recently used
    assert prefixes.last["cached_tokens"] == 32
    _greedy(model, prompts[2], 1, prefixes)  # over the cap: prompts[1]'s entry goes
    for prompt, hit in ((prompts[1], 0), (prompts[0], 32), (prompts[2], 32)):
        reader = PrefixCache(tmp_path, block=16, max_bytes=1 << 30)
        _greedy(model, prompt, 1, reader)
        assert reader.last["cached_tokens"] == hit
    refs = list(tmp_path.glob("*/refs/*"))
    entries = {p.stem for p in tmp_path.glob("*/entries/*.safetensors")}
    assert all(r.read_text() in entries for r in refs)  # evicted entries took their refs along


def test_an_entry_gone_or_damaged_under_a_reader_is_a_miss(tmp_path):
    model = _tiny()
    prefixes = PrefixCache(tmp_path, block=16)
    _greedy(model, FIRST, 1, prefixes)
    entry = next(tmp_path.glob("*/entries/*.safetensors"))
    entry.write_bytes(entry.read_bytes()[:100])  # cut short (a disk error, a foreign writer)
    cold_tokens, cold_logits, _ = _greedy(model, SECOND)
    tokens, logits, _ = _greedy(model, SECOND, prefixes=prefixes)
    assert prefixes.last["cached_tokens"] == 0 and tokens == cold_tokens
    assert prefixes.last["stored_tokens"] == 64  # and the prefix is stored again, whole
    next(tmp_path.glob("*/entries/*.safetensors")).unlink()  # evicted by another process
    tokens, _, _ = _greedy(model, SECOND, prefixes=prefixes)
    assert prefixes.last["cached_tokens"] == 0 and tokens == cold_tokens


WORKER = textwrap.dedent("""
    import sys, torch
    sys.path[:0] = [{root!r}, {tests!r}]
    from test_prefix_cache_paths import _tiny, _greedy
    from engine.prefix_cache import PrefixCache
    seed, root, cap = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    model = _tiny()
    g = torch.Generator().manual_seed(seed)
    hits = 0
    for round in range(6):
        prompt = torch.randint(3, 90, (40 + round * 7,), generator=g).tolist()
        for _ in range(2):
            cache = PrefixCache(root, block=16, max_bytes=cap)
            _greedy(model, prompt, 1, cache)
            assert cache.last["note"] is None, cache.last
        hits += cache.last["cached_tokens"] > 0
    print("hits", hits)
""")


@pytest.mark.slow  # three interpreters importing torch
def test_processes_store_evict_and_read_one_folder_at_once(tmp_path):
    script = tmp_path / "worker.py"
    here = Path(__file__).resolve().parent
    script.write_text(WORKER.format(root=str(here.parents[1]), tests=str(here)))
    _greedy(_tiny(), FIRST, 1, PrefixCache(tmp_path / "kv", block=16))
    cap = 3 * next((tmp_path / "kv").glob("*/entries/*")).stat().st_size  # forces evictions
    workers = [subprocess.Popen([sys.executable, str(script), str(seed), str(tmp_path / "kv"),
                                 str(cap)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for seed in (1, 2, 3)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err
        assert out.split()[-1] != "0"  # most second reads hit, despite the others' evictions
    entries = list((tmp_path / "kv").glob("*/entries/*"))
    assert sum(p.stat().st_size for p in entries) <= cap
    assert not [p for p in entries if p.name.endswith(".tmp")]


@pytest.mark.slow  # the fast V4 path on the real window (128) and compression rates (4, 128)
def test_v4_second_question_after_the_library_hits_a_coarser_snapshot(tmp_path):
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    from engine.deepseek_v4.model import apply_fast_v4
    from engine.generation import prefill
    from engine.deepseek_v4.tiny import WINDOW_TEST_V4
    from engine.deepseek_v4.cache import V4Cache

    torch.manual_seed(0)
    model = apply_fast_v4(DeepseekV4ForCausalLM(DeepseekV4Config(**WINDOW_TEST_V4)).eval())
    g = torch.Generator().manual_seed(1)
    library = torch.randint(1, 256, (300,), generator=g).tolist()
    first = library + torch.randint(1, 256, (9,), generator=g).tolist()
    second = library + torch.randint(1, 256, (11,), generator=g).tolist()
    prefixes = PrefixCache(tmp_path, block=16)
    with torch.inference_mode():
        prefixes.prefill(model, first)
        assert prefixes.last["stored_tokens"] == 304  # states at 256 and at 304
        _, warm = prefixes.prefill(model, second)
        assert prefixes.last["cached_tokens"] == 256  # 304 holds first's own question
        cache = V4Cache(model.config)
        prefill(model, torch.tensor([second[:256]]), cache)
        cold = prefill(model, torch.tensor([second[256:]]), cache)
    assert (warm - cold).abs().max().item() <= 1e-5
    assert int(warm.argmax()) == int(cold.argmax())
