"""Load a causal LM: the embedded default, a GGUF file, a Hugging Face folder or a V4 folder.

Why: every local backend starts here, and the UI's status panel shows what happened (cold or
cached path, where the weights went, how much memory they hold, the window, the dtype).
GGUF files are converted once into a cached safetensors folder (engine/embedded.py) because
reading a GGUF through transformers is slow. DeepSeek-V4 folders go to `engine.deepseek_v4.load`
(native FP8/FP4, fused kernels, experts placed by `engine.deepseek_v4.expert_plan`), or to
`engine.deepseek_v4.reference` (transformers' reference path) with `LoadOptions(kernels=False)` or
bitsandbytes.

Placement and quantization are seams: `engine.placement.quantization.apply_quantization(kwargs,
options)` and `engine.placement.offload.apply_offload(kwargs, options)` each take the
`from_pretrained` keyword arguments being built and return them extended. When those modules are
absent, the plain transformers/accelerate arguments (BitsAndBytesConfig, device_map, max_memory,
offload_folder) are passed straight through. "fp16-cpu" / "int8-cpu" are not bitsandbytes: the
model loads in fp32 and engine/llama/fast.py packs reduced-precision copies for its one-token
decode steps.
With no quantization named, a Llama-family fp32 model on CPU gets the decode mode
engine/placement/cpu_decode.py picks for this CPU (the embedded default's speed); "fp32" asks
for the exact reference instead.

Does not know: generation (generation.py), the registry's names (models.py resolves them).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from engine.allocator import retain_freed_memory
from engine.placement.cpu_decode import EXACT  # "fp32": no packed decode weights, exact
from engine.errors import ModelLoadError
from engine.models import ModelSpec, resolve
from engine.placement.options import (
    CPU_DECODE_MODES, DTYPES, QUANTIZATION_MODES, LoadOptions, LoadReport, placement, process_rss,
)


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
        if fast_v4_applies(options):
            from engine.deepseek_v4.load import load_v4_fused

            model, tokenizer, report = load_v4_fused(spec.path, options)
            return LoadedModel(model, tokenizer, spec, report)
        from engine.deepseek_v4.reference import load_v4

        model, tokenizer, report = load_v4(spec.path, options)
        if not options.kernels:
            report.notes.append("DeepSeek-V4 runs on transformers' reference path (asked for: "
                                "the fused kernels are inference-only)")
        else:
            report.notes.append("DeepSeek-V4 runs on transformers' reference path: the fused "
                                "kernels hold FP8/FP4 natively, not with bitsandbytes")
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
    from engine.placement.offload import apply_offload
    from engine.placement.quantization import apply_quantization

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
    from engine.llama.fast import apply_fast_decode

    try:
        apply_fast_decode(model, mode)
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from exc


def _default_cpu_decode(model, options: LoadOptions) -> tuple[str | None, str | None]:
    """This CPU's default decode mode for a fast-path model (engine/placement/cpu_decode.py),
    applied; (mode, note), or (None, None) where the model keeps its own precision."""
    from engine.llama.fast import apply_fast_decode, unsupported_reason
    from engine.placement import cpu_decode

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
                  f"quantization {EXACT!r} decodes exactly in fp32")


def fast_v4_applies(options: LoadOptions) -> bool:
    """The native V4 loader (engine/deepseek_v4/load.py) serves every placement; bitsandbytes
    layers expect transformers' own modules, so quantization keeps the reference path."""
    return options.kernels and options.quantization is None


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
