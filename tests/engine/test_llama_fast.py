"""The fast Llama-family forward: exact against transformers, fp16/int8 decode close, dispatch."""
from __future__ import annotations

import threading

import pytest
from embedded_cache import shared_cache_dir

from engine.events import Done, GenerationParams, Message, TextDelta, collect

PASSAGE = Message("user", "Read this passage: 'Mara lives in Lisbon. Her house is painted blue.' "
                          "What colour is Mara's house?")


def _tiny(kind: str):
    import torch
    from transformers import (LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                              Qwen2Config, Qwen2ForCausalLM)

    dims = dict(vocab_size=96, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)
    torch.manual_seed(0)
    if kind == "llama":
        model = LlamaForCausalLM(LlamaConfig(**dims, tie_word_embeddings=True))
    elif kind == "llama-bias":
        model = LlamaForCausalLM(LlamaConfig(**dims, attention_bias=True, mlp_bias=True,
                                             rope_parameters={"rope_type": "linear",
                                                              "factor": 2.0,
                                                              "rope_theta": 5000.0}))
    elif kind == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(**dims))
    else:
        model = MistralForCausalLM(MistralConfig(**dims, sliding_window=None))
    with torch.no_grad():  # random biases, so a dropped bias cannot pass unnoticed
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_(0, 0.5)
    return model.eval()


def _hf_greedy(model, ids: list[int], steps: int):
    """transformers' own prefill + DynamicCache decode: (tokens, logits per step)."""
    import torch

    from engine.generation import GenericRunner

    with torch.inference_mode():
        runner = GenericRunner(model)
        logits = runner.prefill(ids)
        tokens, seen = [], [logits.clone()]
        for _ in range(steps):
            tokens.append(int(logits.argmax()))
            logits = runner.decode(tokens[-1])
            seen.append(logits.clone())
    return tokens, seen


def _fast_greedy(fast, ids: list[int], steps: int, chunk: int = 1024, forced=None):
    import torch

    cache = fast.new_cache(len(ids) + steps)
    logits = fast.prefill(torch.tensor(ids), cache, chunk)
    tokens, seen, token = [], [logits.clone()], torch.empty(1, dtype=torch.long)
    for i in range(steps):
        tokens.append(int(logits.argmax()))
        token.fill_(forced[i] if forced is not None else tokens[-1])
        logits = fast.decode(token, cache)
        seen.append(logits.clone())
    fast.release(cache)
    return tokens, seen


def _max_diff(a, b) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


@pytest.mark.parametrize("kind", ["llama", "llama-bias", "qwen2", "mistral"])
def test_tiny_models_match_transformers_exactly(kind):
    import torch

    from engine.llama.fast import fast_model

    model = _tiny(kind)
    ids = [int(i) for i in torch.randint(3, 96, (23,), generator=torch.Generator().manual_seed(1))]
    ref_tokens, ref_logits = _hf_greedy(model, ids, 24)
    fast = fast_model(model)
    assert fast is not None and fast is fast_model(model)  # built once, then reused
    tokens, logits = _fast_greedy(fast, ids, 24, chunk=5)  # chunks > 0 use the explicit mask
    assert tokens == ref_tokens
    assert _max_diff(logits, ref_logits) < 1e-5
    again_tokens, again_logits = _hf_greedy(model, ids, 24)  # the views kept transformers' path
    assert again_tokens == ref_tokens and _max_diff(again_logits, ref_logits) == 0.0


def test_spare_cache_is_reused_and_replaced_weights_rebuild():
    import torch

    from engine.llama.fast import fast_model

    model = _tiny("llama")
    fast = fast_model(model)
    first = fast.new_cache(100)
    fast.release(first)
    assert fast.new_cache(50) is first  # same buffers, no new allocation per generation
    assert fast.new_cache(50) is not first  # the spare is out: a second one is allocated
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight = torch.nn.Parameter(
            torch.randn_like(model.model.layers[0].mlp.down_proj.weight))
    rebuilt = fast_model(model)
    assert rebuilt is not fast
    ids = list(range(3, 20))
    assert _fast_greedy(rebuilt, ids, 6)[0] == _hf_greedy(model, ids, 6)[0]


def test_models_the_fast_path_cannot_run_take_the_generic_one():
    from transformers import GPT2Config, GPT2LMHeadModel, MistralConfig, MistralForCausalLM

    from engine.generation import GenericRunner, open_runner
    from engine.llama.fast import apply_fast_decode, fast_model, unsupported_reason

    gpt2 = GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64))
    assert "model_type 'gpt2'" in unsupported_reason(gpt2)
    assert fast_model(gpt2) is None and isinstance(open_runner(gpt2, 10), GenericRunner)
    sliding = MistralForCausalLM(MistralConfig(
        vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, sliding_window=16))
    assert unsupported_reason(sliding) == "sliding-window attention"
    with pytest.raises(ValueError, match="Llama-family model on CPU: sliding-window"):
        apply_fast_decode(sliding, "int8-cpu")
    with pytest.raises(ValueError, match="decode mode must be one of"):
        apply_fast_decode(_tiny("llama"), "int3")


def test_prefix_cache_entries_continue_on_the_fast_path(tmp_path):
    import torch

    from engine.generation import FastRunner, open_runner
    from engine.prefix_cache import PrefixCache

    model = _tiny("llama")
    ids = list(range(3, 60))
    ref_tokens, _ = _hf_greedy(model, ids, 8)
    prefixes = PrefixCache(tmp_path, block=16)
    for expected_hit in (0, 48):  # stored on the first run, restored on the second
        with torch.inference_mode():
            runner = open_runner(model, len(ids) + 8)
            assert isinstance(runner, FastRunner)
            logits = runner.prefill(ids, None, prefixes)
            tokens = []
            for _ in range(8):
                tokens.append(int(logits.argmax()))
                logits = runner.decode(tokens[-1])
            runner.close()
        assert prefixes.last["cached_tokens"] == expected_hit
        assert tokens == ref_tokens


def test_cancel_set_before_a_prefill_chunk_stops_it():
    import torch

    from engine.llama.fast import fast_model

    fast = fast_model(_tiny("llama"))
    cancel = threading.Event()
    cancel.set()
    cache = fast.new_cache(40)
    assert fast.prefill(torch.arange(3, 40), cache, 8, cancel) is None
    assert cache.length == 0


@pytest.fixture(scope="module")
def embedded():
    from engine.loading import load

    return load("smollm2-135m-instruct", shared_cache_dir())


def _passage_ids(loaded) -> list[int]:
    chat = [{"role": "user", "content": PASSAGE.content + " Then write a poem about it."}]
    text = loaded.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    return loaded.tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.slow
def test_embedded_default_greedy_equals_transformers_over_64_tokens(embedded):
    import torch

    from engine.llama.fast import apply_fast_decode
    from engine.placement.cpu_decode import default_decode_mode

    torch.set_num_threads(1)
    ids = _passage_ids(embedded)
    ref_tokens, ref_logits = _hf_greedy(embedded.model, ids, 64)
    assert embedded.report.quantization == default_decode_mode()  # LoadOptions() on this CPU
    default = apply_fast_decode(embedded.model, embedded.report.quantization)
    tokens, logits = _fast_greedy(default, ids, 64)  # the default's own greedy text
    assert tokens == ref_tokens
    assert _max_diff(logits, ref_logits) < (1e-4 if default.decode_mode is None else 0.1)
    fast = apply_fast_decode(embedded.model, None)  # the exact reference mode
    tokens, logits = _fast_greedy(fast, ids, 64)
    assert tokens == ref_tokens
    assert _max_diff(logits, ref_logits) < 1e-4
    assert "blue" in embedded.tokenizer.decode(tokens).lower()
    for mode, worst, agree in (("fp16-cpu", 0.1, 32), ("int8-cpu", 8.0, 26)):
        packed = apply_fast_decode(embedded.model, mode)
        _, close = _fast_greedy(packed, ids, 32, forced=ref_tokens)  # teacher-forced
        same = sum(int(a.argmax() == b.argmax()) for a, b in zip(close, ref_logits))
        print(mode, "max logit diff", _max_diff(close, ref_logits), "top-1 agree", same, "/ 33")
        assert _max_diff(close, ref_logits) < worst and same >= agree
    apply_fast_decode(embedded.model, None)


@pytest.mark.slow
def test_int8_decode_answers_and_cancels_through_the_backend(embedded):
    import time

    from engine.backends.local import LocalBackend
    from engine.generation import FastRunner, open_runner
    from engine.llama.fast import apply_fast_decode

    apply_fast_decode(embedded.model, "int8-cpu")
    try:
        assert isinstance(open_runner(embedded.model, 10), FastRunner)
        backend = LocalBackend(embedded.model, embedded.tokenizer, "smollm2-int8", 8192)
        done = collect(backend.stream([PASSAGE], GenerationParams(max_new_tokens=40)))
        assert "blue" in done.text.lower() and done.finish_reason == "stop"
        cancel, started, after = threading.Event(), threading.Event(), []

        def consume():
            for ev in backend.stream([Message("user", "Write a long story about a dragon.")],
                                     GenerationParams(max_new_tokens=300), cancel):
                if cancel.is_set():
                    after.append(ev)
                elif isinstance(ev, TextDelta):
                    started.set()

        worker = threading.Thread(target=consume)
        worker.start()
        assert started.wait(120)
        cancel.set()
        t0 = time.perf_counter()
        worker.join(60)
        assert not worker.is_alive() and time.perf_counter() - t0 < 10
        assert sum(isinstance(e, TextDelta) for e in after) <= 1
        assert isinstance(after[-1], Done) and after[-1].finish_reason == "cancelled"
    finally:
        apply_fast_decode(embedded.model, None)


@pytest.mark.slow
def test_loader_option_packs_decode_weights(tmp_path):
    from engine.errors import ModelLoadError
    from engine.llama.fast import fast_model
    from engine.loading import load
    from engine.placement.options import LoadOptions
    from engine.models import ModelSpec

    loaded = load("smollm2-135m-instruct", shared_cache_dir(), LoadOptions(quantization="int8-cpu"))
    assert loaded.report.quantization == "int8-cpu"
    assert fast_model(loaded.model).decode_mode == "int8-cpu"
    exact = load("smollm2-135m-instruct", shared_cache_dir(), LoadOptions(quantization="fp32"))
    assert exact.report.quantization is None and fast_model(exact.model).decode_mode is None
    del loaded, exact
    with pytest.raises(ModelLoadError, match="Llama-family models on CPU"):
        load(ModelSpec("v4", "deepseek_v4", None, path=tmp_path), tmp_path,
             LoadOptions(quantization="int8-cpu"))
