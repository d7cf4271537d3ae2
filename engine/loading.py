"""Load a causal LM: the embedded default, a GGUF file, a Hugging Face folder or a V4 folder.

Why: every local backend starts here, and the UI's status panel shows what happened (cold or
cached path, where the weights went, how much memory they hold, the window, the dtype).
GGUF files are converted once into a cached safetensors folder (engine/embedded.py) because
reading a GGUF through transformers is slow; DeepSeek-V4 folders go to `engine.loading_v4`.

Placement and quantization are seams: `engine.quantization.apply_quantization(kwargs, options)`
and `engine.offload.apply_offload(kwargs, options)` each take the `from_pretrained` keyword
arguments being built and return them extended. When those modules are absent, the plain
transformers/accelerate arguments (BitsAndBytesConfig, device_map, max_memory, offload_folder)
are passed straight through. "fp16-cpu" / "int8-cpu" are not bitsandbytes: the model loads in
fp32 and engine/llama_fast.py packs reduced-precision copies for its one-token decode steps.
With no quantization named, a Llama-family fp32 model on CPU gets the decode mode
engine/cpu_decode.py picks for this CPU (the embedded default's speed); "fp32" asks for the exact
reference instead.

Does not know: generation (generation.py), the registry's names (models.py resolves them).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.allocator import retain_freed_memory
from engine.cpu_decode import EXACT  # "fp32": no packed decode weights, the exact reference
from engine.errors import ModelLoadError
from engine.models import ModelSpec, resolve

QUANTIZATION_MODES = ("nf4", "fp4", "int8")  # bitsandbytes
CPU_DECODE_MODES = ("fp16-cpu", "int8-cpu")  # fbgemm decode weights, engine/llama_fast.py
DTYPES = ("float32", "bfloat16", "float16", "auto")


@dataclass(frozen=True)
class LoadOptions:
    device_map: str | dict | None = None  # None: one device (cuda:0 if present, else cpu)
    max_memory: dict | None = None  # e.g. {"cpu": "2GiB", 0: "20GiB"}
    offload_folder: str | None = None  # disk offload for modules mapped to "disk"
    quantization: str | None = None  # None | "nf4" | "fp4" | "int8" (bitsandbytes)
    #                                  | "fp16-cpu" | "int8-cpu" (Llama-family decode on CPU)
    #                                  | "fp32" (exact decode); None: this CPU's default decode
    dtype: str = "float32"
    # Longhand's fused DeepSeek-V4 kernels (inference only: they write into reused buffers,
    # which autograd cannot follow). Training loads transformers' own modules (False).
    kernels: bool = True


@dataclass
class LoadReport:
    source: str
    kind: str
    path_taken: str  # "cold" (converted/first read) | "cached" | "direct"
    load_s: float
    dtype: str
    context_window: int | None
    device_placement: dict[str, int]  # device -> parameter bytes ("disk" for offloaded)
    resident_bytes: int  # parameter + buffer bytes held in RAM/VRAM (not on disk)
    rss_bytes: int | None = None  # whole-process resident set after load
    quantization: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    spec: ModelSpec
    report: LoadReport


def load(spec_or_path: ModelSpec | str | Path, cache_dir: Path,
         options: LoadOptions | None = None) -> LoadedModel:
    """Load weights and tokenizer; raises ModelNotFound / ModelLoadError with a clear message."""
    options = options or LoadOptions()
    _check_options(options)
    retain_freed_memory()
    spec = spec_or_path if isinstance(spec_or_path, ModelSpec) else resolve(spec_or_path)
    started = time.perf_counter()
    if spec.kind == "deepseek_v4":
        if options.quantization == EXACT:
            options = replace(options, quantization=None)
        if options.quantization in CPU_DECODE_MODES:
            raise ModelLoadError(f"{options.quantization} is for Llama-family models on CPU; "
                                 "use nf4 or int8 (bitsandbytes) for DeepSeek-V4")
        if spec.path is None:
            raise ModelLoadError(
                f"{spec.name} is not on this machine: give the path of its checkpoint folder, "
                "or a base_url for a server that hosts it")
        from engine.loading_v4 import load_v4

        model, tokenizer, report = load_v4(spec.path, options)
        if fast_v4_applies(options):
            from engine.deepseek_v4 import apply_fast_v4

            apply_fast_v4(model)
            report.notes.append("DeepSeek-V4 runs on Longhand's fused sparse-attention and MoE "
                                "kernels (engine/kernels)")
        elif not options.kernels:
            report.notes.append("DeepSeek-V4 runs on transformers' reference path (asked for: "
                                "the fused kernels are inference-only)")
        else:
            report.notes.append("DeepSeek-V4 runs on transformers' reference path: the fused "
                                "kernels are not combined with offload or bitsandbytes")
        return LoadedModel(model, tokenizer, spec, report)
    folder, path_taken = _weights_folder(spec, Path(cache_dir))
    model, tokenizer = _from_pretrained(folder, options)
    mode, why = options.quantization, None
    if mode in CPU_DECODE_MODES:
        _apply_cpu_decode(model, mode)
    elif mode is None:
        mode, why = _default_cpu_decode(model, options)
    report = _report(model, spec, path_taken, time.perf_counter() - started, options)
    report.quantization = None if mode == EXACT else mode
    if why:
        report.notes.append(why)
    return LoadedModel(model, tokenizer, spec, report)


def _weights_folder(spec: ModelSpec, cache_dir: Path) -> tuple[Path, str]:
    from engine import embedded

    if spec.kind in ("embedded", "gguf"):
        gguf = spec.path if spec.kind == "gguf" else embedded.embedded_gguf_path()
        cached = embedded.is_converted(embedded.converted_dir(cache_dir, gguf))
        folder = embedded.ensure_converted(cache_dir, gguf)
        return folder, "cached" if cached else "cold"
    if spec.path is None:
        raise ModelLoadError(f"{spec.name} has no local weights")
    return spec.path, "direct"


def from_pretrained_kwargs(options: LoadOptions) -> dict:
    """Keyword arguments for `AutoModelForCausalLM.from_pretrained`, through the hook seams."""
    import torch

    kwargs: dict[str, Any] = {"dtype": options.dtype if options.dtype == "auto"
                              else getattr(torch, options.dtype)}
    from engine.offload import apply_offload
    from engine.quantization import apply_quantization

    kwargs = apply_offload(kwargs, options)
    if options.quantization not in (*CPU_DECODE_MODES, EXACT):
        kwargs = apply_quantization(kwargs, options)
    return kwargs


def _from_pretrained(folder: Path, options: LoadOptions):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = from_pretrained_kwargs(options)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"could not load {folder}: {exc}") from exc
    model.eval()
    if options.device_map is None and "quantization_config" not in kwargs:
        device = _default_device()
        if device != "cpu":
            model.to(device)
    return model, tokenizer


def _apply_cpu_decode(model, mode: str) -> None:
    try:
        apply_fast_decode(model, mode)
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from exc


def _default_cpu_decode(model, options: LoadOptions) -> tuple[str | None, str | None]:
    """This CPU's default decode mode for a fast-path model (engine/cpu_decode.py), applied;
    (mode, note), or (None, None) where the model keeps its own precision."""
    from engine import cpu_decode
    from engine.llama_fast import apply_fast_decode, unsupported_reason

    if options.device_map is not None or options.dtype != "float32" \
            or unsupported_reason(model) is not None:
        return None, None
    features = cpu_decode.probe()
    mode = cpu_decode.default_decode_mode(features)
    if mode is None:
        return None, (f"exact fp32 decode: this CPU ({features.capability}) has no fbgemm "
                      "kernels for packed decode weights")
    try:
        apply_fast_decode(model, mode)
    except (ValueError, RuntimeError) as exc:  # a default must not cost the load: stay exact
        return None, f"exact fp32 decode: {mode} could not be packed here ({exc})"
    return mode, (f"{mode} decode weights, this CPU's default ({features.capability}, fbgemm); "
                  f"--quantization {EXACT} decodes exactly in fp32")


def fast_v4_applies(options: LoadOptions) -> bool:
    """Our V4 kernels replace module instances; accelerate's offload hooks and bitsandbytes
    layers expect transformers' own modules, so those placements keep the reference path."""
    return (options.kernels and options.device_map is None and options.max_memory is None
            and options.offload_folder is None and options.quantization is None)


def _check_options(options: LoadOptions) -> None:
    if options.dtype not in DTYPES:
        raise ModelLoadError(f"dtype must be one of {', '.join(DTYPES)}, not {options.dtype!r}")
    if options.quantization not in (None, *QUANTIZATION_MODES, *CPU_DECODE_MODES, EXACT):
        modes = (*QUANTIZATION_MODES, *CPU_DECODE_MODES, EXACT)
        raise ModelLoadError(f"quantization must be one of {', '.join(modes)} "
                             f"or none, not {options.quantization!r}")


def _default_device() -> str:
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def placement(model) -> tuple[dict[str, int], int]:
    """Parameter bytes per device ("disk" for offloaded modules), and the bytes held in memory."""
    device_map = getattr(model, "hf_device_map", None) or {}
    prefixes = sorted(device_map, key=len, reverse=True)
    per_device: dict[str, int] = {}
    resident = 0
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, tensor in tensors:
        where = str(tensor.device)
        for prefix in prefixes:
            if prefix == "" or name == prefix or name.startswith(prefix + "."):
                mapped = device_map[prefix]
                where = "disk" if mapped == "disk" else (
                    f"cuda:{mapped}" if isinstance(mapped, int) else str(mapped))
                break
        size = tensor.numel() * tensor.element_size()
        per_device[where] = per_device.get(where, 0) + size
        if where != "disk" and tensor.device.type != "meta":
            resident += size
    return per_device, resident


def process_rss() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process().memory_info().rss


def _report(model, spec: ModelSpec, path_taken: str, seconds: float,
            options: LoadOptions) -> LoadReport:
    per_device, resident = placement(model)
    config = model.config
    window = spec.context_window or getattr(config, "max_position_embeddings", None)
    dtype = str(getattr(model, "dtype", options.dtype)).replace("torch.", "")
    return LoadReport(source=str(spec.path or spec.name), kind=spec.kind, path_taken=path_taken,
                      load_s=round(seconds, 3), dtype=dtype, context_window=window,
                      device_placement=per_device, resident_bytes=resident,
                      rss_bytes=process_rss(), quantization=options.quantization)
