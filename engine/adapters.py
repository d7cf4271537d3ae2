"""Attach and detach a LoRA adapter on a loaded model, without reloading or restarting.

Why: a house-style adapter is a few MB beside a base of hundreds of MB to hundreds of GB, so
switching adapters must not reload the base. PEFT wraps the base in place (it injects LoRA
layers into the existing modules, PEFT's explicit module replacement) and `unload()` takes them
out again, giving back the untouched base. One adapter is active at a time.

A model name `base+adapter` asks for a base with an adapter on it; `split_model_name` parses it
(the caller, which knows where adapters live, turns the adapter name into a folder).
Works on a LocalBackend (swapped under its generation lock, so a running generation finishes
on the weights it started with) or on a bare transformers model.

Does not know: the workbench's adapter registry, projects, or training.
"""
from __future__ import annotations

from pathlib import Path

from engine.errors import ModelLoadError

SEPARATOR = "+"
ADAPTER_CONFIG = "adapter_config.json"


def split_model_name(name: str) -> tuple[str, str | None]:
    """'smollm2-135m-instruct+house' -> ('smollm2-135m-instruct', 'house'); no '+' -> (name, None).

    The last '+' separates, so a base path may itself contain '+'."""
    base, sep, adapter = str(name).rpartition(SEPARATOR)
    if not sep or not base or not adapter:
        return str(name), None
    return base, adapter


def _model_of(target):
    return target.hf_model if hasattr(target, "hf_model") else target


def active_adapter(target) -> str | None:
    """The attached adapter's name, or None."""
    model = _model_of(target)
    return getattr(model, "longhand_adapter", None) if _is_peft(model) else None


def attach_adapter(target, path: str | Path, name: str | None = None):
    """Put the PEFT adapter at `path` on `target` (LocalBackend or model); returns the model.

    An adapter already attached is detached first."""
    path = Path(path)
    if not (path / ADAPTER_CONFIG).is_file():
        raise ModelLoadError(f"{path} is not a PEFT adapter folder (no {ADAPTER_CONFIG})")
    name = name or path.name

    def change(model):
        from peft import PeftModel

        base = _unwrapped(model)
        try:
            wrapped = PeftModel.from_pretrained(base, str(path), is_trainable=False)
        except (ValueError, KeyError, RuntimeError, OSError) as exc:
            raise ModelLoadError(f"adapter {name!r} does not fit this model: {exc}") from exc
        wrapped.eval()
        wrapped.longhand_adapter = name
        return wrapped

    return _apply(target, change, name)


def detach_adapter(target):
    """Remove the attached adapter (if any); returns the plain base model."""
    return _apply(target, _unwrapped, None)


def _is_peft(model) -> bool:
    return hasattr(model, "peft_config") and hasattr(model, "unload")


def _unwrapped(model):
    return model.unload() if _is_peft(model) else model


def _apply(target, change, adapter: str | None):
    if hasattr(target, "swap_model"):  # a LocalBackend: swapped under its generation lock
        return target.swap_model(change, adapter)
    return change(target)
