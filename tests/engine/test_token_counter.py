"""TokenCounter: same counts as the tokenizer that runs the model, without importing torch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from embedded_cache import shared_cache_dir

from engine.events import Message
from engine.embedded import ensure_converted
from engine.tokens import TokenCounter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def folder() -> Path:
    return ensure_converted(shared_cache_dir())


@pytest.fixture(scope="module")
def reference(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def real_texts(testdocs: Path) -> list[str]:
    files = [p for p in sorted(testdocs.rglob("*")) if p.suffix in {".md", ".txt", ".fountain",
                                                                    ".srt", ".vtt"}]
    assert files, "expected text documents in testdocs"
    return [p.read_text(encoding="utf-8", errors="replace") for p in files[:8]]


def test_counts_match_the_model_tokenizer_on_real_documents(folder, reference, testdocs):
    counter = TokenCounter.from_folder(folder)
    texts = real_texts(testdocs)
    for text in texts:
        assert counter.count(text) == len(reference(text, add_special_tokens=False)["input_ids"])
    assert counter.count_many(texts) == [counter.count(t) for t in texts]
    assert counter.count("") == 0


def test_chat_counts_match_the_chat_template(folder, reference):
    counter = TokenCounter.for_embedded(shared_cache_dir())
    conversations = [
        [Message("user", "What colour is the sky in 2024?")],
        [Message("system", "Answer briefly."), Message("user", "Café, naïve, 日本語\n\n12")],
        [Message("user", "hi"), Message("assistant", "Hello!"), Message("user", "Again")],
    ]
    for messages in conversations:
        chat = [{"role": m.role, "content": m.content} for m in messages]
        expected = reference.apply_chat_template(chat, add_generation_prompt=True,
                                                 tokenize=True)["input_ids"]
        assert counter.count_messages(messages) == len(expected)
        assert counter.render(messages) == reference.apply_chat_template(
            chat, add_generation_prompt=True, tokenize=False)


def test_digits_split_like_llama_cpp(folder):
    counter = TokenCounter.from_folder(folder)
    # llama.cpp keeps "\n\n" as one token before a digit (SMALL_MODEL_CPU.md, tokenizer parity).
    assert counter.encode("\n\n1") == [1116, counter.encode("1")[0]]
    assert len(counter.encode("2024")) == 4


def test_counting_does_not_import_torch(folder):
    code = ("import sys; from engine.tokens import TokenCounter; "
            f"c = TokenCounter.from_folder({str(folder)!r}); "
            "n = c.count_messages([{'role': 'user', 'content': 'hello there'}]); "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules; print(n)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 10
