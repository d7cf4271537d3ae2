"""accelerate placement: settings -> from_pretrained arguments, and disk offload equivalence."""
from __future__ import annotations

import warnings

import pytest
import torch

from engine.errors import ModelLoadError
from engine.placement.options import LoadOptions
from engine.deepseek_v4.reference import PrecisionWarning, load_v4
from engine.placement.offload import layer_device_map, normalize_max_memory, placement_kwargs
from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4, make_config


def test_max_memory_keys_are_normalized_and_imply_auto(tmp_path):
    assert normalize_max_memory({"0": "20GiB", "cuda:1": 5, "CPU": "64GiB"}) == {
        0: "20GiB", 1: 5, "cpu": "64GiB"}
    kwargs = placement_kwargs(max_memory={"cpu": "1GiB"}, offload_folder=tmp_path / "off")
    assert kwargs == {"device_map": "auto", "max_memory": {"cpu": "1GiB"},
                      "offload_folder": str(tmp_path / "off")}
    assert (tmp_path / "off").is_dir()
    assert placement_kwargs() == {}
    with pytest.raises(ModelLoadError, match="unknown device"):
        normalize_max_memory({"gpu0": "1GiB"})
    with pytest.raises(ModelLoadError, match="offload folder"):
        placement_kwargs(device_map={"model.layers.0": "disk"})
    with pytest.raises(ModelLoadError, match="device_map"):
        placement_kwargs(device_map="everywhere")


def test_layer_device_map_covers_every_top_module():
    device_map = layer_device_map(make_config(TEST_V4), {2: "disk", 3: "disk"})
    assert device_map["model.layers.2"] == device_map["model.layers.3"] == "disk"
    assert device_map["model.layers.0"] == "cpu" and device_map["lm_head"] == "cpu"
    assert {"model.embed_tokens", "model.norm", "model.hc_head"} <= set(device_map)


def _greedy(model, ids, steps=16):
    out = model.generate(ids, max_new_tokens=steps, min_new_tokens=steps, do_sample=False)
    return out[0, ids.shape[1]:].tolist()


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["bfloat16", "float32"])
def test_disk_offload_generates_the_same_greedy_tokens(tmp_path, dtype):
    folder = build_tiny_v4(tmp_path / "v4", TEST_V4, seed=0)
    # 140 tokens: past the sliding window (16) and the first HCA window (128) as well
    ids = torch.randint(3, TEST_V4["vocab_size"], (1, 140),
                        generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PrecisionWarning)
        full, _, _ = load_v4(folder, LoadOptions(dtype=dtype))
        reference = _greedy(full, ids)
        del full
        device_map = layer_device_map(make_config(TEST_V4), {2: "disk", 3: "disk"})
        offloaded, _, report = load_v4(folder, LoadOptions(
            dtype=dtype, device_map=device_map, offload_folder=str(tmp_path / "off")))
        assert report.offloaded["disk"] == ["model.layers.2", "model.layers.3"]
        assert report.device_placement["disk"] > 0
        assert any((tmp_path / "off").iterdir())
        assert _greedy(offloaded, ids) == reference
        del offloaded
        budget = int(report.device_placement["cpu"] * 1.1)  # room for about half the layers
        auto, _, auto_report = load_v4(folder, LoadOptions(
            dtype=dtype, max_memory={"cpu": budget}, offload_folder=str(tmp_path / "auto")))
        assert "disk" in auto_report.offloaded
        assert _greedy(auto, ids) == reference
    assert len(set(reference)) > 2  # the random model does not just repeat one token
