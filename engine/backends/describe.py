"""What a backend is, in one JSON object: the `engine` of `synthesize --json` and of artifacts.

    {"model", "backend", "kernels": "fused"|"reference"|None,
     "precision": {stored format: how it is held}|None, "placement": {...}}

Why: an answer is judged with the engine that wrote it: the same model dequantized to bf16, held
in native FP8, or on the reference path is not the same run. Everything comes from what the
load already reported (engine/loading.py, engine/deepseek_v4/reference.py) and the LoadOptions the
backend was loaded with; nothing is measured again. Remote backends say where the server is; what
it runs on is the server's business (kernels and precision are None).

Does not know: how to load or run a model.
"""
from __future__ import annotations

from engine.placement.options import CPU_DECODE_MODES

KERNELS = ("fused", "reference")


def describe(backend) -> dict:
    base_url = getattr(backend, "base_url", None)
    if base_url:
        return {"model": backend.model, "backend": backend.name, "kernels": None,
                "precision": None,
                "placement": {"server": str(base_url),
                              "remote_model": getattr(backend, "remote_model", backend.model)}}
    report = getattr(backend, "report", None)
    model = getattr(backend, "hf_model", None)
    return {"model": backend.model, "backend": backend.name, "kernels": kernels(report, model),
            "precision": precision(report, model), "placement": placement(backend, report)}


def kernels(report, model) -> str | None:
    """"fused" when Longhand's own forward runs the model (V4 kernels, the fast Llama path)."""
    stated = getattr(report, "kernels", None)
    if stated in KERNELS:
        return stated
    if model is None:
        return None
    if getattr(report, "kind", None) == "deepseek_v4":
        from engine.deepseek_v4.model import FastV4Model

        return "fused" if isinstance(getattr(model, "model", None), FastV4Model) else "reference"
    from engine.llama.fast import fast_model

    return "fused" if fast_model(model) is not None else "reference"


def precision(report, model) -> dict | None:
    """Per stored format, how the weights are held ("native fp8", "dequantized to bf16", ...)."""
    if report is None:
        return None
    stated = getattr(report, "precision", None)
    if stated:
        return dict(stated)
    held = report.dtype
    mode = report.quantization
    if mode in CPU_DECODE_MODES:
        held = f"{held}, with {mode.split('-')[0]} copies for one-token decode ({mode})"
    elif mode:
        held = f"{mode} (bitsandbytes)"
    if report.kind in ("embedded", "gguf"):
        return {"gguf": f"converted to {held}"}
    stored = _stored_dtype(model) or "weights"
    return {stored: held if stored != held else f"{held} (as stored)"}


def placement(backend, report) -> dict:
    options = getattr(backend, "load_options", None)
    out = {key: getattr(options, key, None)
           for key in ("device_map", "max_memory", "offload_folder", "quantization")}
    if out["max_memory"]:
        out["max_memory"] = {str(k): v for k, v in out["max_memory"].items()}
    if report is not None:
        out["quantization"] = out["quantization"] or report.quantization
        out["devices"] = dict(report.device_placement)
        out["resident_bytes"] = report.resident_bytes
        offloaded = getattr(report, "offloaded", None)
        if offloaded:
            out["offloaded"] = {k: len(v) for k, v in offloaded.items()}
        plan = getattr(report, "expert_placement", None)
        if plan:  # routed experts per tier: "device" (plan["device"]), "host" RAM, "disk"
            out["experts"] = {"device_name": plan["device"], **plan["counts"]}
    return out


def _stored_dtype(model) -> str | None:
    config = getattr(model, "config", None)
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    return str(value).replace("torch.", "") if value is not None else None
