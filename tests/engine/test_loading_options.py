"""The generic loader's checks and the from_pretrained arguments its options become."""
from __future__ import annotations

import pytest

from engine.errors import ModelLoadError
from engine.loading import from_pretrained_kwargs, load
from engine.placement.options import LoadOptions


def test_bad_options_are_refused_before_anything_loads(tmp_path):
    with pytest.raises(ModelLoadError, match="dtype must be one of"):
        load("smollm2-135m-instruct", tmp_path, LoadOptions(dtype="float8"))
    with pytest.raises(ModelLoadError, match="quantization must be one of"):
        load("smollm2-135m-instruct", tmp_path, LoadOptions(quantization="q3"))
    assert not (tmp_path / "models").exists()  # nothing was converted


def test_v4_by_name_needs_a_folder_or_a_server(tmp_path):
    with pytest.raises(ModelLoadError, match="checkpoint folder.*base_url"):
        load("deepseek-v4-flash", tmp_path)


def test_options_become_from_pretrained_arguments(tmp_path):
    import torch

    plain = from_pretrained_kwargs(LoadOptions())
    assert plain == {"dtype": torch.float32}
    offload = from_pretrained_kwargs(LoadOptions(device_map={"": "cpu"}, max_memory={"cpu": "1GiB"},
                                                 offload_folder=str(tmp_path / "off")))
    assert offload["device_map"] == {"": "cpu"} and offload["max_memory"] == {"cpu": "1GiB"}
    assert (tmp_path / "off").is_dir()
    quant = from_pretrained_kwargs(LoadOptions(quantization="nf4"))
    config = quant["quantization_config"]
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
