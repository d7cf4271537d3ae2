"""The model registry: names, retired aliases, paths, and clear errors."""
from __future__ import annotations

import json

import pytest

from engine.embedded import embedded_gguf_path
from engine.errors import ModelLoadError, ModelNotFound
from engine.models import EMBEDDED_NAME, RetiredModelName, resolve


def test_known_names():
    spec = resolve("SmolLM2-135M-Instruct")
    assert (spec.name, spec.kind, spec.context_window) == (EMBEDDED_NAME, "embedded", 8192)
    for name in ("deepseek-v4-flash", "deepseek-v4-pro"):
        spec = resolve(name)
        assert spec.kind == "deepseek_v4" and spec.context_window == 1_048_576
        assert spec.path is None and spec.notice is None


@pytest.mark.parametrize("alias,thinking", [("deepseek-chat", False),
                                            ("deepseek-reasoner", True)])
def test_retired_aliases_warn_and_map_to_v4_flash(alias, thinking):
    with pytest.warns(RetiredModelName, match=alias):
        spec = resolve(alias)
    assert spec.name == "deepseek-v4-flash" and spec.thinking is thinking
    assert "retired" in spec.notice and "deepseek-v4-flash" in spec.notice


def test_unknown_name_says_what_is_known():
    with pytest.raises(ModelNotFound) as err:
        resolve("gpt-17")
    assert "gpt-17" in str(err.value) and "deepseek-v4-flash" in str(err.value)


def test_paths(tmp_path):
    gguf = resolve(str(embedded_gguf_path()))
    assert gguf.kind == "gguf" and gguf.context_window == 8192
    v4 = tmp_path / "v4"
    v4.mkdir()
    (v4 / "config.json").write_text(json.dumps({"model_type": "deepseek_v4",
                                                "max_position_embeddings": 1 << 20}))
    assert resolve(v4).kind == "deepseek_v4" and resolve(v4).path == v4.resolve()
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text(json.dumps({"model_type": "llama",
                                                "max_position_embeddings": 4096}))
    assert (resolve(hf).kind, resolve(hf).context_window) == ("hf_folder", 4096)
    with pytest.raises(ModelLoadError, match="config.json"):
        resolve(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a model")
    with pytest.raises(ModelLoadError, match="gguf"):
        resolve(notes)
