"""A house-style LoRA on a DeepSeek-V4 checkpoint (the tiny one in the official layout, with the
embedded default's tokenizer): the LoRA tab's loader gives transformers' own modules, because
the engine's fused kernels are inference-only, and training there moves the loss. The fused
path refuses autograd with a message that says what to do instead of a deep autograd error."""
from __future__ import annotations

import warnings

import pytest
import torch

from embedded_cache import shared_cache_dir
from engine.deepseek_v4.model import FastV4Model
from engine.loading import load
from engine.placement.options import LoadOptions
from engine.deepseek_v4.reference import PrecisionWarning
from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4

TEXT = ("INT. KITCHEN - NIGHT. Mara reads the letter twice, folds it, and sets it under the "
        "sugar bowl. MARA: He always did write like a man leaving a room. ") * 4


@pytest.fixture(scope="module")
def v4_folder(tmp_path_factory):
    from engine.embedded import ensure_converted

    tokenizer = ensure_converted(shared_cache_dir())
    return build_tiny_v4(tmp_path_factory.mktemp("v4lora"), TEST_V4, tokenizer_dir=tokenizer)


def test_training_loader_gives_reference_modules_and_lora_learns(v4_folder, tmp_path):
    from workbench.adapters.service import load_for_training
    from workbench.adapters.targets import targets_for
    from workbench.adapters.training import TrainSettings, make_lora_model
    from workbench.config import Settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        model, tokenizer = load_for_training(Settings(model=str(v4_folder), cache_dir=tmp_path))
    assert not isinstance(model.model, FastV4Model)
    target = targets_for(model)
    peft_model = make_lora_model(model, TrainSettings(rank=4, alpha=8), target)
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert not any(".experts." in n for n in trainable)  # routed experts stay frozen

    ids = tokenizer(TEXT, return_tensors="pt").input_ids[:, :96]
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad],
                                  lr=5e-3)
    torch.manual_seed(0)
    losses = []
    for _ in range(6):
        loss = peft_model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.05, losses


def test_fused_kernels_refuse_autograd_with_a_clear_message(v4_folder, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        loaded = load(str(v4_folder), tmp_path, LoadOptions(dtype="float32"))
    assert isinstance(loaded.model.model, FastV4Model)
    ids = torch.tensor([[1, 2, 3, 4]])
    # the native load holds frozen FP8/FP4 weights; a trainer makes parameters trainable
    loaded.model.model.embed_tokens.weight.requires_grad_(True)
    with pytest.raises(RuntimeError, match=r"inference-only.*kernels=False"):
        loaded.model(ids)
    with torch.no_grad():
        assert loaded.model(ids).logits.shape == (1, 4, TEST_V4["vocab_size"])
