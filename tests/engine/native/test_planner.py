"""The memory planner on the real V4-Flash config and on a tiny folder's headers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.__main__ import main
from engine.deepseek_v4.planner import (
    Machine, inventory_from_config, inventory_from_folder, plan, plan_path,
)

FLASH = (Path(__file__).resolve().parents[3] / "engine" / "deepseek_v4" / "configs"
         / "deepseek-v4-flash.json")
GB = 1e9


@pytest.fixture(scope="module")
def flash():
    return inventory_from_config(FLASH)


def test_flash_inventory_matches_the_published_sizes(flash):
    assert 150 * GB < flash.total < 160 * GB  # ~156 GB on disk (MTP not counted)
    assert 146 * GB < flash.experts_total < 149 * GB  # 147 GB of routed experts
    assert (flash.n_experts, flash.moe_layers, flash.top_k) == (256, 43, 6)
    routed = flash.top_k * flash.moe_layers * flash.expert_bytes
    assert 3.4 * GB < routed < 3.5 * GB  # 3.45 GB of FP4 experts per token
    assert 6.5e3 < flash.kv_bytes_per_token < 7.2e3  # ~6.9 KB per token in bf16


@pytest.mark.parametrize("gpu,ram,low,high", [(24, 256, 20, 35), (80, 192, 40, 70),
                                               (141, 128, 140, 300)])
def test_three_machines(flash, gpu, ram, low, high):
    p = plan(flash, Machine(gpu_gb=gpu, ram_gb=ram))
    assert p.fits and p.mode == "host"
    assert p.resident_bytes["gpu"] <= gpu * GB
    assert p.resident_bytes["host"] <= ram * GB
    pl = p.placement
    assert pl["gpu_experts"] + pl["host_experts"] == pl["experts_total"] == 256 * 43
    assert low <= p.tokens_per_s["serial"] <= p.tokens_per_s["overlapped"] <= high


def test_small_machines_spill_to_disk_and_say_so(flash):
    p = plan(flash, Machine(gpu_gb=24, ram_gb=64))
    assert p.placement["disk_experts"] > 0 and any("disk" in n for n in p.notes)
    assert p.tokens_per_s["overlapped"] < plan(flash, Machine(24, 256)).tokens_per_s["serial"]
    tiny_gpu = plan(flash, Machine(gpu_gb=4, ram_gb=512))
    assert tiny_gpu.placement["gpu"] == [] and any("dense part" in n for n in tiny_gpu.notes)


def test_folder_headers_agree_with_the_config(tmp_path):
    from engine.deepseek_v4.tiny import TEST_V4, build_tiny_v4

    folder = build_tiny_v4(tmp_path / "t", TEST_V4, seed=0)
    from_headers = inventory_from_folder(folder)
    from_config = inventory_from_config(folder / "config.json")
    assert from_headers.total == from_config.total
    assert from_headers.expert_bytes == from_config.expert_bytes
    from engine.deepseek_v4.native.loader import file_bytes

    assert from_headers.total == file_bytes(folder)
    assert plan_path(folder, Machine()).fits


def test_cli(capsys, tmp_path):
    assert main(["plan", str(FLASH), "--gpu-gb", "24", "--ram-gb", "256", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["placement"]["host_experts"] > 0 and out["tokens_per_s"]["overlapped"] > 20
    assert main(["plan", str(FLASH)]) == 0
    assert "tok/s" in capsys.readouterr().out
    assert main(["plan", str(tmp_path / "nothing")]) == 2
