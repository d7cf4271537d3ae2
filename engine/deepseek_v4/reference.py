"""Load a DeepSeek-V4 checkpoint folder (official layout) and say what precision it really got.

Why: the official V4-Flash/Pro folders are FP8 e4m3 + FP4 e2m1 with E8M0 scales under the
release's own tensor names (engine/deepseek_v4/format.py). transformers reads them through its
fine-grained FP8 quantizer and the "deepseek_v4" conversion mapping: natively (FP8Linear /
FP8Experts) on a GPU of compute capability 8.9 or newer, and otherwise by dequantizing every
FP8/FP4 weight to bf16, which multiplies resident memory by about 3.6x (156 GB -> ~568 GB for
V4-Flash, ENGINE_ANCHORS.md section 3). Nobody should discover that from an out-of-memory error,
so this loader reads the safetensors headers first (no weights), loads exactly as it would load
the real folder, then reports per storage format how the weights are held, what was ignored
(the MTP head), where they were placed, and what bitsandbytes could not quantize, with a
`PrecisionWarning` for anything not held in its native precision.

Does not know: generation, the registry, or the generic loader's other formats
(engine/loading.py dispatches `model_type == "deepseek_v4"` folders here).
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import ModelLoadError
from engine.placement.options import LoadOptions, LoadReport, placement, process_rss


class PrecisionWarning(UserWarning):
    """Weights are held in a different precision than the checkpoint stores them."""


@dataclass
class V4LoadReport(LoadReport):
    checkpoint: dict = field(default_factory=dict)  # header facts: formats, bytes, shards
    precision: dict = field(default_factory=dict)  # storage format -> how it is held
    quantization_report: dict | None = None  # engine.placement.quantization.quantization_report
    ignored: dict = field(default_factory=dict)  # e.g. {"mtp": 93} tensors not instantiated
    offloaded: dict = field(default_factory=dict)  # placement -> module names
    warnings: list[str] = field(default_factory=list)
    kernels: str = "reference"  # "fused": deepseek_v4/load.py; "reference": transformers'
    expert_placement: dict = field(default_factory=dict)  # deepseek_v4/expert_plan.py load_plan

    def to_dict(self) -> dict:
        return asdict(self)


_HEADER_FORMATS = {"F8_E4M3": "fp8", "I8": "fp4", "F8_E8M0": "e8m0 scales", "BF16": "bf16",
                   "F32": "f32", "I64": "i64", "I32": "i32", "F16": "f16"}


def inspect_checkpoint(path: Path) -> dict:
    """Facts from config.json and the safetensors headers, without reading any weights."""
    from safetensors import safe_open

    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"{path} has no config.json")
    config = json.loads(config_file.read_text())
    if config.get("model_type") != "deepseek_v4":
        raise ModelLoadError(f"{path} is not a DeepSeek-V4 checkpoint "
                             f"(model_type {config.get('model_type')!r})")
    index_file = path / "model.safetensors.index.json"
    if index_file.is_file():
        shards = sorted(set(json.loads(index_file.read_text())["weight_map"].values()))
    else:
        shards = sorted(p.name for p in path.glob("*.safetensors"))
    if not shards:
        raise ModelLoadError(f"{path} has no safetensors weights")
    formats: dict[str, dict] = {}
    mtp = 0
    for shard in shards:
        if not (path / shard).is_file():
            raise ModelLoadError(f"{path} is missing the shard {shard}")
        with safe_open(path / shard, framework="pt") as f:
            for name in f.keys():
                view = f.get_slice(name)
                dtype, shape = view.get_dtype(), view.get_shape()
                count = 1
                for dim in shape:
                    count *= dim
                entry = formats.setdefault(_HEADER_FORMATS.get(dtype, dtype.lower()),
                                           {"tensors": 0, "bytes": 0})
                entry["tensors"] += 1
                entry["bytes"] += count * (1 if dtype in ("F8_E4M3", "I8", "F8_E8M0") else
                                           2 if dtype in ("BF16", "F16") else 4 if dtype in (
                                               "F32", "I32") else 8)
                mtp += name.startswith("mtp.")
    quant = config.get("quantization_config") or {}
    return {
        "config": config, "shards": len(shards), "formats": formats,
        "bytes": sum(e["bytes"] for e in formats.values()), "mtp_tensors": mtp,
        "quant_method": quant.get("quant_method"),
        "expert_dtype": config.get("expert_dtype") or quant.get("expert_dtype"),
    }


def native_fp8_supported() -> bool:
    """transformers keeps FP8/FP4 weights as stored only on CUDA with compute capability 8.9+."""
    import torch

    return torch.cuda.is_available() and torch.cuda.get_device_capability() >= (8, 9)


def _precision(model, facts: dict, dtype) -> dict:
    """Per storage format: how the loaded model holds it ("native" or "dequantized to bf16")."""
    from engine.placement.quantization import _kind

    kinds = {_kind(m) for m in model.modules()} - {None}
    held = str(dtype).replace("torch.", "")
    out = {}
    if "fp8" in facts["formats"]:
        out["fp8"] = "native fp8" if "fp8" in kinds else f"dequantized to {held}"
    if "fp4" in facts["formats"]:
        out["fp4"] = "native fp4" if "fp4" in kinds else f"dequantized to {held}"
    if "bf16" in facts["formats"]:
        out["bf16"] = held if held != "bfloat16" else "bfloat16 (as stored)"
    return out


def _unify_dtype(model, dtype) -> None:
    """transformers leaves BF16-stored tensors in bf16 whatever dtype was asked for; fix that."""
    import torch

    from engine.placement.offload import cast_offloaded

    if dtype == torch.bfloat16:
        return
    for module in model.modules():
        for store in (module._parameters, module._buffers):
            for name, tensor in store.items():
                if tensor is None or tensor.dtype != torch.bfloat16:
                    continue
                if tensor.is_meta:  # an offloaded placeholder: accelerate casts values to it
                    new = torch.empty_like(tensor, dtype=dtype)
                    store[name] = torch.nn.Parameter(new, requires_grad=False) \
                        if name in module._parameters else new
                else:
                    tensor.data = tensor.data.to(dtype)
    cast_offloaded(model, torch.bfloat16, dtype)


def _pin_f32_offloaded(model, path: Path) -> int:
    """Give offloaded tensors the checkpoint stores in F32 back their exact fp32 values."""
    from safetensors import safe_open

    from engine.placement import offload
    from engine.deepseek_v4 import format as v4_format

    index = path / "model.safetensors.index.json"
    weight_map = json.loads(index.read_text())["weight_map"] if index.is_file() else None
    wanted: dict[str, list[tuple[str, str]]] = {}
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if not tensor.is_meta:
            continue
        try:
            official = v4_format.official_name(name)
        except KeyError:
            continue
        shard = weight_map.get(official) if weight_map else "model.safetensors"
        if shard is not None:
            wanted.setdefault(shard, []).append((name, official))
    exact = {}
    for shard, names in wanted.items():
        with safe_open(path / shard, framework="pt") as f:
            for name, official in names:
                if official in f.keys() and f.get_slice(official).get_dtype() == "F32":
                    exact[name] = f.get_tensor(official)
    return offload.pin_offloaded(model, exact)


def load_v4(path: str | Path, options: LoadOptions | None = None):
    """Load a V4 folder like the real V4-Flash download -> (model, tokenizer or None, report).

    The report is a `V4LoadReport` (an `engine.loading.LoadReport`; `.to_dict()` for JSON)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from engine.placement import offload
    from engine.placement import quantization

    options = options or LoadOptions()
    path = Path(path)
    started = time.perf_counter()
    facts = inspect_checkpoint(path)
    dtype = torch.bfloat16 if options.dtype in ("auto", None) else getattr(torch, options.dtype)
    kwargs = offload.apply_offload({"dtype": dtype}, options)
    prequantized = facts["quant_method"] is not None
    if options.quantization and not prequantized:
        kwargs = quantization.apply_quantization(kwargs, options)
    notes, warned = [], []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(f"could not load the DeepSeek-V4 checkpoint {path}: {exc}") from exc
    model.eval()
    pinned = _pin_f32_offloaded(model, path) if getattr(model, "hf_device_map", None) else 0
    if pinned:
        notes.append(f"{pinned} offloaded F32 tensors served exactly from the checkpoint "
                     "(transformers had rounded them to the load dtype in the offload folder)")
    _unify_dtype(model, dtype)
    if options.quantization and prequantized:
        replaced = quantization.quantize_loaded(model, options.quantization, compute_dtype=dtype)
        notes.append(f"bitsandbytes {options.quantization} applied after load to "
                     f"{len(replaced)} linear layers (FP8 weights were dequantized first)")
    tokenizer = None
    if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(path)
    else:
        notes.append("no tokenizer files in the folder")
    precision = _precision(model, facts, dtype)
    for fmt, held in precision.items():
        if held.startswith("dequantized"):
            why = "no CUDA GPU with compute capability 8.9+" if not native_fp8_supported() \
                else "transformers did not keep it quantized"
            warned.append(f"{fmt.upper()} weights in {path.name} are held {held} ({why})")
    qreport = quantization.quantization_report(model) if options.quantization or \
        prequantized else None
    if qreport and qreport["warning"] and options.quantization:
        warned.append(qreport["warning"])
    if facts["mtp_tensors"]:
        notes.append(f"{facts['mtp_tensors']} MTP tensors (mtp.*) not instantiated: "
                     "transformers' DeepseekV4 has no MTP head")
    for message in warned:
        warnings.warn(message, PrecisionWarning, stacklevel=2)
    per_device, resident = placement(model)
    if resident and facts["bytes"] and resident > 1.5 * facts["bytes"]:
        notes.append(f"resident weights are {resident / facts['bytes']:.1f}x the checkpoint's "
                     f"{facts['bytes'] / 2**30:.2f} GiB on disk")
    config = facts.pop("config")
    report = V4LoadReport(
        source=str(path), kind="deepseek_v4", path_taken="direct",
        load_s=round(time.perf_counter() - started, 3), dtype=str(dtype).replace("torch.", ""),
        context_window=config.get("max_position_embeddings"), device_placement=per_device,
        resident_bytes=resident, rss_bytes=process_rss(), quantization=options.quantization,
        notes=notes + warned, checkpoint=facts, precision=precision,
        quantization_report=qreport, ignored={"mtp": facts["mtp_tensors"]},
        offloaded=offload.offloaded_modules(model), warnings=warned,
    )
    return model, tokenizer, report
