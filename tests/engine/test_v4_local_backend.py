"""A DeepSeek-V4 checkpoint in the official layout, loaded the way a user loads V4-Flash, runs on
our fused kernels and streams the same greedy tokens as transformers' reference path."""
from __future__ import annotations

import warnings

import pytest
import torch

from engine.events import GenerationParams, Message, collect
from engine.backends.local import LocalBackend
from engine.deepseek_v4.model import FastV4Model
from engine.placement.options import LoadOptions
from engine.deepseek_v4.reference import PrecisionWarning, load_v4
from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4

from embedded_cache import shared_cache_dir


@pytest.fixture(scope="module")
def v4_folder(tmp_path_factory):
    from engine.embedded import ensure_converted

    tokenizer = ensure_converted(shared_cache_dir())
    return build_tiny_v4(tmp_path_factory.mktemp("v4"), TEST_V4, tokenizer_dir=tokenizer)


@pytest.mark.slow
def test_v4_streams_on_the_fused_kernels_with_reference_tokens(v4_folder, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        backend = LocalBackend.load(str(v4_folder), tmp_path, LoadOptions(dtype="float32"))
        reference, tokenizer, _ = load_v4(v4_folder, LoadOptions(dtype="float32"))
    assert isinstance(backend.hf_model.model, FastV4Model)
    assert any("fused" in note for note in backend.report.notes)

    messages = [Message("user", "INT. KITCHEN - NIGHT. Mara reads the letter.")]
    got = collect(backend.stream(messages, GenerationParams(max_new_tokens=12)))
    assert got.usage.completion_tokens > 0

    prompt = backend.tokenizer.apply_chat_template(
        [{"role": "user", "content": messages[0].content}], add_generation_prompt=True,
        tokenize=False)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    with torch.inference_mode():
        out = reference.generate(ids, max_new_tokens=got.usage.completion_tokens,
                                 do_sample=False)
    expected = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert got.text == expected.strip() or got.text == expected
