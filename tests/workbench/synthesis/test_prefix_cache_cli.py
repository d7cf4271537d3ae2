"""The prefix cache as a writer meets it: `python -m workbench synthesize` run again over the same
documents, in another process, with the default settings, reads the library from the cache.

Real subprocesses of the CLI over one data dir, the embedded default model, a real screenplay.
A changed document and another model (a tiny Llama with the same tokenizer, so the prompt ids
are the very same) must not be served the stored KV. Timing is reported (`ttft_s`), not
asserted: the bench (`python -m engine.bench prefix-cache --only product`) measures it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir

from workbench.ui.tab_synthesize import cache_line

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
SCREENPLAY = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"


def _cli(data_dir: Path, *args: str, **env: str) -> dict:
    environ = {**os.environ, "LONGHAND_CACHE_DIR": str(shared_cache_dir()), **env}
    done = subprocess.run([sys.executable, "-m", "workbench", "--data-dir", str(data_dir),
                           *args, "--json"], cwd=ROOT, env=environ, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _synthesize(data_dir: Path, question: str, *extra: str, **env: str) -> dict:
    return _cli(data_dir, "synthesize", "cyber", "--prompt", question,
                "--max-new-tokens", "6", *extra, **env)


def _saved(data_dir: Path, artifact_id: int):
    from workbench.config import Settings
    from workbench.workbench import Workbench

    return Workbench(Settings(data_dir=data_dir)).artifact(artifact_id)


def _tiny_model(folder: Path) -> Path:
    """A two-layer Llama with random weights and the embedded default's tokenizer files."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    embedded = next(p.parent for p in (shared_cache_dir() / "models").glob("*/tokenizer.json"))
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        if (embedded / name).is_file():
            shutil.copy(embedded / name, folder / name)
    config = json.loads((embedded / "config.json").read_text())
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=config["vocab_size"], hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=config["max_position_embeddings"], tie_word_embeddings=True,
        bos_token_id=config.get("bos_token_id"), eos_token_id=config.get("eos_token_id"),
    )).save_pretrained(folder)
    return folder


def test_second_run_reads_the_library_from_the_cache(tmp_path, testdocs):
    data = tmp_path / "data"
    script = tmp_path / "cyber_bob.fountain"
    shutil.copy(testdocs / SCREENPLAY, script)
    _cli(data, "new-project", "cyber")
    _cli(data, "import", "cyber", str(script))

    first = _synthesize(data, "Who is Cyber Bob?")
    assert first["usage"]["cached_tokens"] == 0
    assert isinstance(first["ttft_s"], float) and first["ttft_s"] > 0
    assert list((data / "prefix-cache").glob("*/entries/*.safetensors"))  # the default place

    second = _synthesize(data, "Where does the first scene take place?")
    prompt = second["usage"]["prompt_tokens"]
    assert prompt > 1000 and second["usage"]["cached_tokens"] >= 0.7 * prompt
    assert isinstance(second["ttft_s"], float) and second["ttft_s"] > 0
    saved = _saved(data, second["artifact_id"])  # the artifact, as the Synthesize tab shows it
    assert saved.extra["cached_tokens"] == second["usage"]["cached_tokens"]
    assert cache_line(saved) == (f"{second['usage']['cached_tokens']:,} of {prompt:,} prompt "
                                 f"tokens from cache · first token after "
                                 f"{second['ttft_s']:.1f} s")

    text = script.read_text(encoding="utf-8")
    scene = text.index("EXT. PARK")
    script.write_text(text[:scene] + "EXT. CITY PARK" + text[scene + len("EXT. PARK"):],
                      encoding="utf-8")  # the first scene heading, early in the library
    _cli(data, "import", "cyber", str(script))  # a new version of the same document
    changed = _synthesize(data, "Where does the first scene take place?")
    assert changed["usage"]["cached_tokens"] < 0.3 * changed["usage"]["prompt_tokens"]

    tiny = _tiny_model(tmp_path / "tiny")
    other = _synthesize(data, "Where does the first scene take place?", "--model", str(tiny))
    assert other["usage"]["prompt_tokens"] == changed["usage"]["prompt_tokens"]  # same ids
    assert other["usage"]["cached_tokens"] == 0  # ...but another model's KV is never served
    assert len(list((data / "prefix-cache").glob("*/model.json"))) == 2

    off = _synthesize(data, "Where does the first scene take place?", "--model", str(tiny),
                      LONGHAND_PREFIX_CACHE="0")
    assert off["usage"]["cached_tokens"] == 0  # switched off: nothing read
