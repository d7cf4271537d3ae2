"""bitsandbytes 4-bit (nf4/fp4) and 8-bit quantization, and a report of what it did not touch.

Why: dense linear layers of any causal LM shrink 4-8x with bitsandbytes, on CUDA and (since
bitsandbytes 0.45+) on CPU. But bitsandbytes replaces only modules whose type *is* `nn.Linear`:
DeepSeek-V4's routed experts are 3-D parameters (`DeepseekV4Experts`, 277B of V4-Flash's 284B
params) and its grouped output projection is an `nn.Linear` subclass (`DeepseekV4GroupedLinear`),
so both stay in full precision (ENGINE_ANCHORS.md section 3). Users must be told that, not find
out from the memory meter: `quantization_report` lists every weight-bearing module as quantized
or not, with the reason, and `unquantized_warning` turns the V4 gaps into one sentence.

Two ways in: `apply_quantization(kwargs, options)` adds a BitsAndBytesConfig to
`from_pretrained` (any plain checkpoint), and `quantize_loaded(model, mode)` replaces the
`nn.Linear` modules of an already loaded model (a V4 FP8 checkpoint that transformers had to
dequantize: a checkpoint cannot carry two quantization configs).

Does not know: loading or placement (engine/loading*.py, engine/placement/offload.py).
"""
from __future__ import annotations

import re

from engine.errors import ModelLoadError

BNB_MODES = ("nf4", "fp4", "int8")
_V4_GAPS = {
    "DeepseekV4Experts": "3-D expert tensors: bitsandbytes has no layer for them",
    "DeepseekV4GroupedLinear": "nn.Linear subclass: bitsandbytes replaces exact nn.Linear only",
}


def _torch_dtype(name: str | None):
    import torch

    if name in (None, "auto"):
        return torch.bfloat16
    return getattr(torch, name)


def bnb_config(mode: str, compute_dtype=None, offload_to_cpu: bool = False):
    """A BitsAndBytesConfig for "nf4" | "fp4" | "int8"."""
    import torch
    from transformers import BitsAndBytesConfig

    if mode not in BNB_MODES:
        raise ModelLoadError(f"quantization must be one of {', '.join(BNB_MODES)}, not {mode!r}")
    if mode == "int8":
        return BitsAndBytesConfig(load_in_8bit=True,
                                  llm_int8_enable_fp32_cpu_offload=offload_to_cpu)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=mode,
                              bnb_4bit_compute_dtype=compute_dtype or torch.float32,
                              llm_int8_enable_fp32_cpu_offload=offload_to_cpu)


def apply_quantization(kwargs: dict, options) -> dict:
    """The loader's seam: add a BitsAndBytesConfig (and a device map, which bitsandbytes needs)."""
    mode = getattr(options, "quantization", None)
    if mode is None:
        return kwargs
    import torch

    device_map = kwargs.get("device_map")
    spills = isinstance(device_map, dict) and any(
        v in ("cpu", "disk") for v in device_map.values()) or "max_memory" in kwargs
    compute = _torch_dtype(getattr(options, "dtype", None))
    kwargs["quantization_config"] = bnb_config(mode, compute, offload_to_cpu=bool(
        spills and torch.cuda.is_available()))
    kwargs.setdefault("device_map", "cuda:0" if torch.cuda.is_available() else "cpu")
    return kwargs


def _skipped(name: str, patterns) -> bool:
    return any(name == p or name.endswith("." + p) or re.search(rf"(^|\.){re.escape(p)}(\.|$)",
                                                                   name) for p in patterns)


def quantize_loaded(model, mode: str, compute_dtype=None, skip=None) -> list[str]:
    """Replace every exact `nn.Linear` of a loaded model with a bitsandbytes layer, in place.

    Skips `lm_head` and the model's `_keep_in_fp32_modules` (transformers' own rule) and
    modules whose weights are offloaded (meta). Returns the names that were replaced."""
    import bitsandbytes as bnb
    import torch
    from torch import nn

    if mode not in BNB_MODES:
        raise ModelLoadError(f"quantization must be one of {', '.join(BNB_MODES)}, not {mode!r}")
    skip = list(skip if skip is not None else ["lm_head"])
    skip += list(getattr(model, "_keep_in_fp32_modules", None) or [])
    compute = compute_dtype or torch.float32
    replaced = []
    for name, module in list(model.named_modules()):
        if type(module) is not nn.Linear or _skipped(name, skip) or module.weight.is_meta:
            continue
        device, weight = module.weight.device, module.weight.data
        if mode == "int8":
            new = bnb.nn.Linear8bitLt(module.in_features, module.out_features,
                                      bias=module.bias is not None, has_fp16_weights=False)
            new.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
        else:
            new = bnb.nn.Linear4bit(module.in_features, module.out_features,
                                    bias=module.bias is not None, compute_dtype=compute,
                                    quant_type=mode)
            new.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type=mode)
        if module.bias is not None:
            new.bias = nn.Parameter(module.bias.data, requires_grad=False)
        model.set_submodule(name, new.to(device))
        replaced.append(name)
    return replaced


def _kind(module) -> str | None:
    """The quantized format a module holds, or None when it computes in full precision."""
    cls = type(module).__name__
    if cls == "Linear4bit":
        return getattr(module.weight, "quant_type", "4bit")
    if cls == "Linear8bitLt":
        return "int8"
    if cls in ("FP8Linear", "FP8GroupedLinear", "FP8Embedding"):
        return "fp8"
    if "FP8Experts" in [c.__name__ for c in type(module).__mro__]:
        weight = getattr(module, "gate_up_proj", None)
        return "fp4" if weight is not None and str(weight.dtype) == "torch.int8" else "fp8"
    return None


def _logical_params(module) -> int:
    if type(module).__name__ in ("Linear4bit", "Linear8bitLt"):
        return module.in_features * module.out_features
    return sum(p.numel() for p in module.parameters(recurse=False))


def quantization_report(model) -> dict:
    """Which weight-bearing modules are quantized (and how) and which stayed in full precision.

    A module is weight-bearing if it holds a parameter of 2 or more dimensions itself (linears,
    embeddings, 3-D experts, routers, mHC projections). Counts are logical parameters."""
    from torch import nn

    quantized, unquantized = [], []
    for name, module in model.named_modules():
        direct = list(module.parameters(recurse=False))
        kind = _kind(module)
        if kind is not None:
            quantized.append({"module": name, "class": type(module).__name__, "format": kind,
                              "params": _logical_params(module)})
            continue
        if not any(p.dim() >= 2 for p in direct):
            continue
        cls = type(module).__name__
        if cls in _V4_GAPS:
            reason = _V4_GAPS[cls]
        elif any(p.dim() >= 3 for p in direct):
            reason = "3-D parameters: bitsandbytes has no layer for them"
        elif isinstance(module, nn.Linear) and type(module) is not nn.Linear:
            reason = "nn.Linear subclass: bitsandbytes replaces exact nn.Linear only"
        elif isinstance(module, nn.Linear):
            reason = "nn.Linear kept in full precision (head, keep-in-fp32 or not requested)"
        elif isinstance(module, nn.Embedding):
            reason = "embedding"
        else:
            reason = "not a linear layer"
        params = sum(p.numel() for p in direct)
        unquantized.append({
            "module": name, "class": cls, "params": params, "reason": reason,
            "dtype": str(direct[0].dtype).replace("torch.", ""),
            "bytes": sum(p.numel() * p.element_size() for p in direct),
        })
    q_params = sum(m["params"] for m in quantized)
    u_params = sum(m["params"] for m in unquantized)
    formats = sorted({m["format"] for m in quantized})
    return {
        "formats": formats,
        "quantized": quantized, "unquantized": unquantized,
        "quantized_params": q_params, "unquantized_params": u_params,
        "unquantized_bytes": sum(m["bytes"] for m in unquantized),
        "quantized_fraction": round(q_params / (q_params + u_params), 4)
        if q_params + u_params else 0.0,
        "warning": unquantized_warning(unquantized) if formats else None,
    }


def unquantized_warning(unquantized: list[dict]) -> str | None:
    """One sentence naming the V4 modules bitsandbytes left in full precision, or None."""
    groups: dict[str, list[dict]] = {}
    for entry in unquantized:
        if entry["class"] in _V4_GAPS or entry["reason"].startswith(("3-D", "nn.Linear subclass")):
            groups.setdefault(entry["class"], []).append(entry)
    if not groups:
        return None
    parts = []
    for cls, entries in sorted(groups.items()):
        params = sum(e["params"] for e in entries)
        size = sum(e["bytes"] for e in entries)
        parts.append(f"{len(entries)} {cls} ({params / 1e6:.1f}M params, "
                     f"{size / 2**30:.2f} GiB in {entries[0]['dtype']}: {entries[0]['reason']})")
    return "bitsandbytes left these in full precision: " + "; ".join(parts)
