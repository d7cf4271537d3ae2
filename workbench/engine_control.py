"""What the Engine tab does: choose, load and unload the app's model backend, describe it, and
stream a plain chat answer from it.

Why: the tab only lays out components; the choices it collects (embedded default, a local folder
or file, a remote server with its protocol, or a model added with `add-model`, plus placement
and quantization) become one
`EngineChoice`, checked here with messages the user can act on, turned into a Backend by
engine/backends/factory.py and installed in the AppContext so the other tabs and the HTTP API
use it too. Plain Python: usable from tests and notebooks without Gradio.

Does not know: Gradio, how a backend loads or generates (the engine does), the database.
"""
from __future__ import annotations

import gc
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from engine.allocator import give_back_freed_memory
from engine.events import Done, GenerationParams, Message, TextDelta, ThinkingDelta
from engine.errors import EngineError
from engine.models import EMBEDDED_NAME
from workbench.context import AppContext, parse_max_memory
from workbench.errors import WorkbenchError

SOURCES = ("embedded", "local", "remote", "added")
PROTOCOLS = ("openai", "anthropic")
# Mirrors engine/loading.py (QUANTIZATION_MODES + CPU_DECODE_MODES) without importing torch.
QUANTIZATIONS = ("none", "nf4", "fp4", "int8", "fp16-cpu", "int8-cpu", "fp32")
DEVICE_MAPS = ("default", "auto", "cpu", "balanced", "sequential")

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class EngineChoice:
    """Everything the Engine tab asks for; empty strings mean "not given"."""

    source: str = "embedded"  # "embedded" | "local" (path) | "remote" (base_url)
    path: str = ""  # local folder or GGUF file (source "local")
    base_url: str = ""  # remote server, e.g. http://127.0.0.1:8000/v1
    api_key: str = ""
    model: str = ""  # the name the remote server knows
    protocol: str = "openai"
    device_map: str = "default"
    max_memory: str = ""  # "cpu=8GiB,0=20GiB"
    offload_folder: str = ""
    quantization: str = "none"
    added: str = ""  # the name of a model added with add-model (source "added")


@dataclass(frozen=True)
class ChatTurn:
    user: str
    assistant: str


def load_choice(ctx: AppContext, choice: EngineChoice,
                progress: Progress | None = None):
    """Build the chosen backend and make it the app's one; returns it.

    A local load first drops the current backend so two sets of weights are never resident
    at once; a remote choice keeps the current one until the server has answered.
    """
    report = progress or (lambda fraction, text: None)
    report(0.0, "Checking the choice")
    if choice.source == "added":
        return _load_added(ctx, choice.added.strip(), report)
    kwargs = _factory_arguments(ctx, choice)
    if choice.source != "remote":
        report(0.1, "Unloading the current model")
        unload(ctx)
    report(0.2, f"Loading {kwargs['model']}" if choice.source != "remote"
           else f"Contacting {choice.base_url.strip()}")
    from engine.backends.factory import make_backend

    backend = make_backend(**kwargs)
    report(0.95, "Installing")
    previous = ctx.set_backend(backend)
    del previous
    gc.collect()
    give_back_freed_memory()
    report(1.0, "Loaded")
    return backend


def _load_added(ctx: AppContext, name: str, report: Progress):
    """A model added with add-model: its server answers first, then it becomes the app's."""
    if not name:
        raise WorkbenchError("Choose an added model (python -m workbench add-model NAME "
                             "--url URL adds one).")
    report(0.2, f"Contacting the server of {name}")
    backend = ctx.workbench.remotes.backend(name)
    report(0.95, "Installing")
    ctx.set_backend(backend)
    report(1.0, "Loaded")
    return backend


def model_names(wb, current: str | None = None) -> list[str]:
    """What a model dropdown offers: the registry's models, the added ones, and `current`."""
    from engine.models import known_models

    names = [m.name for m in known_models()] + wb.remotes.names()
    if current and current not in names:
        names.insert(0, current)
    return names


def unload(ctx: AppContext) -> bool:
    """Drop the app's backend and return its memory; False if nothing was loaded.

    The memory goes back to the system, not only to malloc: the engine raises glibc's trim
    threshold so that freed activations stay for the next forward pass (engine/allocator.py),
    which also kept every freed weight and generation buffer, and RSS grew with each cycle.
    """
    previous = ctx.unload_backend()
    if previous is None:
        return False
    del previous
    gc.collect()
    torch = sys.modules.get("torch")  # only free GPU caches when torch is already in use
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
    give_back_freed_memory()
    return True


def status_rows(backend) -> list[tuple[str, str]]:
    """(field, value) pairs for the status panel; an empty list when nothing is loaded."""
    if backend is None:
        return []
    rows = [("Backend", backend.name), ("Model", backend.model),
            ("Context window", f"{backend.context_window:,} tokens")]
    base_url = getattr(backend, "base_url", None)
    if base_url:
        rows.append(("Server", str(base_url)))
        if getattr(backend, "remote_model", backend.model) != backend.model:
            rows.append(("Model on the server", backend.remote_model))
        estimate = getattr(backend, "count_estimate", None)
        rows.append(("Token counts", f"{estimate}" if estimate else "exact"))
    report = getattr(backend, "report", None)
    if report is None:
        return rows
    placement = ", ".join(f"{device}: {_bytes(size)}"
                          for device, size in sorted(report.device_placement.items()))
    rows += [("Device placement", placement or "none"),
             ("Resident memory", _bytes(report.resident_bytes)),
             ("Process memory (RSS)", _bytes(report.rss_bytes) if report.rss_bytes else "?"),
             ("Load time", f"{report.load_s:.1f} s ({report.path_taken})"),
             ("Weights dtype", report.dtype),
             ("Quantization", report.quantization or "none"),
             ("Source", report.source)]
    rows += _engine_rows(backend, report)
    rows += [("Note", note) for note in report.notes]
    return rows


def _engine_rows(backend, report) -> list[tuple[str, str]]:
    """Kernels, per stored format how it is held, and where V4's routed experts sit."""
    from engine.backends.describe import kernels, precision

    model = getattr(backend, "hf_model", None)
    rows = [("Kernels", kernels(report, model) or "?")]
    rows += [(f"Precision ({fmt})", held) for fmt, held in (precision(report, model)
                                                             or {}).items()]
    plan = getattr(report, "expert_placement", None)
    if plan:
        c = plan["counts"]
        rows.append(("Routed experts", f"{c['device']} on {plan['device']}, {c['host']} in "
                                       f"host RAM, {c['disk']} on disk (memory-mapped)"))
    return rows


def status_markdown(backend) -> str:
    rows = status_rows(backend)
    if not rows:
        return ("**No model loaded.** The app loads its configured model on first use, "
                "or choose one above and press Load.")
    return "| | |\n|---|---|\n" + "\n".join(f"| {name} | {value} |" for name, value in rows)


def chat(backend, history: list[ChatTurn], text: str, *, max_new_tokens: int = 256,
         temperature: float = 0.0, cancel: threading.Event | None = None) -> Iterator[str]:
    """Stream the assistant's answer to `text` after `history`: yields the text so far."""
    if backend is None:
        raise WorkbenchError("Load a model first.")
    if not text.strip():
        raise WorkbenchError("Type a message first.")
    messages: list[Message] = []
    for turn in history:
        messages += [Message("user", turn.user), Message("assistant", turn.assistant)]
    messages.append(Message("user", text))
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=temperature)
    answer, thinking = "", ""
    for event in backend.stream(messages, params, cancel):
        if isinstance(event, TextDelta):
            answer += event.text
        elif isinstance(event, ThinkingDelta):
            thinking += event.text
        elif isinstance(event, Done) and event.finish_reason == "error":
            raise EngineError(event.error or "the model stopped with an error")
        else:
            continue
        yield _with_thinking(thinking, answer)


def _with_thinking(thinking: str, answer: str) -> str:
    if not thinking:
        return answer
    quoted = "\n".join(f"> {line}" for line in thinking.strip().splitlines())
    return f"{quoted}\n\n{answer}"


def _factory_arguments(ctx: AppContext, choice: EngineChoice) -> dict:
    cache_dir = Path(ctx.settings.cache_dir)
    if choice.source == "remote":
        url, name = choice.base_url.strip(), choice.model.strip()
        if not url.startswith(("http://", "https://")):
            raise WorkbenchError("A remote server needs its http(s) URL, "
                                 "e.g. http://127.0.0.1:8000/v1.")
        if not name:
            raise WorkbenchError("A remote server needs the model name it serves.")
        if choice.protocol not in PROTOCOLS:
            raise WorkbenchError(f"Protocol must be one of {', '.join(PROTOCOLS)}.")
        return dict(model=name, cache_dir=cache_dir, base_url=url,
                    api_key=choice.api_key.strip() or None, protocol=choice.protocol)
    if choice.source == "embedded":
        model = EMBEDDED_NAME
    elif choice.source == "local":
        model = choice.path.strip()
        if not model:
            raise WorkbenchError("Give the path of a model folder or GGUF file.")
    else:
        raise WorkbenchError(f"Choose one of {', '.join(SOURCES)}, not {choice.source!r}.")
    return dict(model=model, cache_dir=cache_dir, options=_load_options(choice),
                **ctx.settings.prefix_cache_options())


def _load_options(choice: EngineChoice):
    from engine.placement.options import LoadOptions

    if choice.quantization not in QUANTIZATIONS:
        raise WorkbenchError(f"Quantization must be one of {', '.join(QUANTIZATIONS)}.")
    device_map = choice.device_map.strip()
    offload = choice.offload_folder.strip()
    return LoadOptions(
        device_map=None if device_map in ("", "default") else device_map,
        max_memory=parse_max_memory(choice.max_memory.strip()),
        offload_folder=offload or None,
        quantization=None if choice.quantization == "none" else choice.quantization)


def _bytes(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
