"""`load_v4_native(path)`: an official-layout V4 folder -> a DeepseekV4 model, FP8/FP4 as stored.

Why: transformers' own load of these folders dequantizes everything off recent GPUs
(engine/deepseek_v4/reference.py reports it). Here the model skeleton is built on the meta device
(no memory), every linear the checkpoint stores as F8_E4M3 becomes an `Fp8BlockLinear` and every
MoE whose experts are stored as packed I8 becomes an `Fp4Experts`; then the safetensors shards
are read tensor by tensor straight into those modules. Resident memory is the file size plus
rotary tables, minus the MTP block (transformers' model has no MTP head, so it is not read).

Precision of what is not quantized follows transformers' bf16 load: tensors stored F32 (mHC,
sinks, position biases, router bias) stay fp32, the rest (stored BF16) is held in `dtype`.

With a plan (engine/deepseek_v4/expert_plan.py), a layer with experts off the device gets an
`OffloadedExperts` (engine/deepseek_v4/expert_offload.py) filled per expert: device and host
experts are read into their tier, disk experts only memory-mapped
(engine/deepseek_v4/native/mapped.py).

Does not know: which experts go where (the plan says), tokenizers (engine/deepseek_v4/load.py), or
the encodings themselves (engine/deepseek_v4/format.py).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from engine.deepseek_v4 import format as v4_format
from engine.errors import ModelLoadError
from engine.deepseek_v4.native.modules import Fp4Experts, Fp8BlockLinear, resident_bytes

_EXPERT = re.compile(r"layers\.(\d+)\.ffn\.experts\.(\d+)\.(w[123])\.(weight|scale)$")


def _shards(path: Path) -> list[Path]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
    else:
        names = sorted(p.name for p in path.glob("*.safetensors"))
    if not names:
        raise ModelLoadError(f"{path} has no safetensors weights")
    return [path / n for n in names]


def _headers(shards: list[Path]) -> dict[str, tuple[str, Path]]:
    """Official tensor name -> (safetensors dtype, shard), from the headers only."""
    from safetensors import safe_open

    out = {}
    for shard in shards:
        with safe_open(shard, framework="pt") as f:
            for name in f.keys():
                out[name] = (f.get_slice(name).get_dtype(), shard)
    return out


def file_bytes(path: str | Path, skip_mtp: bool = True) -> int:
    """Bytes of the stored tensors a model will hold (MTP excluded by default), from headers."""
    from safetensors import safe_open

    size = {"F8_E4M3": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BF16": 2, "F16": 2, "F32": 4,
            "I32": 4, "I64": 8}
    total = 0
    for shard in _shards(Path(path)):
        with safe_open(shard, framework="pt") as f:
            for name in f.keys():
                if skip_mtp and name.startswith("mtp."):
                    continue
                view = f.get_slice(name)
                count = 1
                for dim in view.get_shape():
                    count *= dim
                total += count * size[view.get_dtype()]
    return total


def _skeleton(path: Path, dtype: torch.dtype):
    from accelerate import init_empty_weights
    from transformers import AutoConfig, DeepseekV4ForCausalLM

    config = AutoConfig.from_pretrained(path)
    if getattr(config, "model_type", None) != "deepseek_v4":
        raise ModelLoadError(f"{path} is not a DeepSeek-V4 checkpoint")
    if getattr(config, "quantization_config", None) is not None:
        del config.quantization_config  # we hold the quantized tensors ourselves
    config.dtype = dtype
    with init_empty_weights(include_buffers=False):  # rotary tables are computed, not loaded
        model = DeepseekV4ForCausalLM(config)
    return model


def _swap_modules(model, headers: dict, dtype: torch.dtype,
                  placed: dict | None = None) -> dict[str, torch.nn.Module]:
    """Replace FP8-stored linears and FP4-stored experts; official name -> module to fill.

    `placed`: layer -> OffloadedExperts for the layers whose experts are not all resident."""
    targets = {}
    for name, module in list(model.named_modules()):
        parent_name, _, leaf = name.rpartition(".")
        if isinstance(module, torch.nn.Linear):
            official = v4_format.official_name(f"{name}.weight")
            if headers.get(official, ("",))[0] != "F8_E4M3":
                continue
            new = Fp8BlockLinear.like(module, dtype)
            targets[official.removesuffix(".weight")] = new
        elif type(module).__name__ == "DeepseekV4Experts":
            official = v4_format.official_name(f"{name}.gate_up_proj").removesuffix(
                ".gate_up_proj")
            if headers.get(f"{official}.0.w1.weight", ("",))[0] != "I8":
                continue
            layer = int(official.split(".")[1])
            new = (placed or {}).get(layer) or Fp4Experts.like(module, dtype)
            targets[official] = new
        else:
            continue
        setattr(model.get_submodule(parent_name), leaf, new)
    return targets


def _materialize(module: torch.nn.Module, device) -> None:
    for key, buf in list(module._buffers.items()):
        if buf is not None and buf.is_meta:
            module._buffers[key] = torch.empty_like(buf, device=device)


def _target_dtype(stored: torch.Tensor, dtype: torch.dtype) -> torch.dtype:
    return stored.dtype if stored.dtype in (torch.float32, torch.int64, torch.int32) else dtype


def load_v4_native(path: str | Path, dtype: torch.dtype = torch.bfloat16,
                   device: str | torch.device = "cpu", plan: dict | None = None):
    """Load an official-layout V4 folder keeping FP8/FP4 weights as stored; returns the model.

    `dtype`: compute dtype and the dtype of BF16-stored tensors (bf16 keeps the file's size).
    `plan`: an engine/deepseek_v4/expert_plan.py `load_plan`; routed experts it puts in host RAM or
    on disk are read there (or only memory-mapped), never into device memory; then
    `model.expert_offload` holds the counters of what moves.
    `model.native_report` says what is held how, and resident vs file bytes."""
    from safetensors import safe_open

    path, device = Path(path), torch.device(device)
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} has no config.json")
    shards = _shards(path)
    headers = _headers(shards)
    model = _skeleton(path, dtype)
    placed = _placed_layers(model, plan, dtype, device) if plan else {}
    targets = _swap_modules(model, headers, dtype, placed)
    for module in targets.values():
        _materialize(module, device)
    by_official = {}
    for hf_name, _ in [*model.named_parameters(), *model.named_buffers()]:
        try:
            by_official[v4_format.official_name(hf_name)] = hf_name
        except KeyError:  # rotary tables: computed at construction
            continue
    filled = set()
    for shard in shards:
        with safe_open(shard, framework="pt", device="cpu") as f:
            for name in f.keys():
                if name.startswith("mtp."):
                    continue
                expert = _EXPERT.match(name)
                stem = name.rsplit(".", 1)[0]
                if expert and int(expert[1]) in placed:
                    _fill_placed(placed[int(expert[1])], int(expert[2]), expert[3], expert[4],
                                 name, f, shard)
                elif expert and f"layers.{expert[1]}.ffn.experts" in targets:
                    module = targets[f"layers.{expert[1]}.ffn.experts"]
                    _fill_expert(module, int(expert[2]), expert[3], expert[4], f.get_tensor(name))
                elif stem in targets:
                    attr = "weight" if name.endswith(".weight") else "weight_scale"
                    getattr(targets[stem], attr).copy_(f.get_tensor(name).view(
                        getattr(targets[stem], attr).dtype))
                elif name in by_official:
                    stored = f.get_tensor(name)
                    _assign(model, by_official[name], stored.to(device,
                                                                _target_dtype(stored, dtype)))
                elif expert is None:
                    raise ModelLoadError(f"{path}: tensor {name} has no place in the model")
                else:  # BF16 experts (an unquantized folder): stack into the 3-D parameters
                    _fill_dense_expert(model, expert, f.get_tensor(name), dtype, device)
                filled.add(name)
    missing = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if missing:
        raise ModelLoadError(f"{path}: no weights for {', '.join(missing[:5])}"
                             + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    for module in placed.values():
        module.check_complete()
    model.to(device).eval()
    model.requires_grad_(False)
    if placed:
        from engine.deepseek_v4.expert_offload import count_tokens

        count_tokens(model, next(iter(placed.values())).counters)
        model.expert_offload = next(iter(placed.values())).counters
    stored = file_bytes(path)
    held = resident_bytes(model) + sum(sum(m.held_bytes()[t] for t in ("device", "host"))
                                       for m in placed.values())
    model.native_report = {
        "fp8_linears": sum(isinstance(m, Fp8BlockLinear) for m in model.modules()),
        "fp4_expert_layers": sum(isinstance(m, Fp4Experts) for m in model.modules()),
        "file_bytes": stored, "resident_bytes": held,
        "resident_over_file": round(held / stored, 4) if stored else None,
        "mtp_tensors_skipped": sum(n.startswith("mtp.") for n in headers),
        "dtype": str(dtype).replace("torch.", ""),
    }
    return model


def _assign(model, hf_name: str, value: torch.Tensor) -> None:
    module_name, _, leaf = hf_name.rpartition(".")
    module = model.get_submodule(module_name)
    if leaf in module._parameters:
        module._parameters[leaf] = torch.nn.Parameter(value, requires_grad=False)
    else:
        module._buffers[leaf] = value


def _fill_expert(module: Fp4Experts, expert: int, which: str, kind: str,
                 tensor: torch.Tensor) -> None:
    """Copy one stored w1/w2/w3 weight or scale into the stacked packed buffers."""
    inter = module.intermediate_dim
    name = "down" if which == "w2" else "gate_up"
    target = getattr(module, name if kind == "weight" else f"{name}_scale")[expert]
    if which == "w1":
        target = target[:inter]
    elif which == "w3":
        target = target[inter:]
    target.copy_(tensor.view(target.dtype))


def _fill_dense_expert(model, match, tensor: torch.Tensor, dtype, device) -> None:
    layer, expert, which = int(match[1]), int(match[2]), match[3]
    experts = model.model.layers[layer].mlp.experts
    for name in ("gate_up_proj", "down_proj"):
        if getattr(experts, name).is_meta:
            shape = getattr(experts, name).shape
            experts._parameters[name] = torch.nn.Parameter(
                torch.empty(shape, dtype=dtype, device=device), requires_grad=False)
    inter = experts.intermediate_dim
    if which == "w2":
        experts.down_proj[expert].copy_(tensor)
    else:
        rows = slice(0, inter) if which == "w1" else slice(inter, 2 * inter)
        experts.gate_up_proj[expert, rows].copy_(tensor)


def _placed_layers(model, plan: dict, dtype: torch.dtype, device: torch.device) -> dict:
    """Layer -> an empty OffloadedExperts for each layer with experts off the device."""
    from engine.deepseek_v4.expert_offload import OffloadCounters, OffloadedExperts

    tiers: dict[int, dict[int, str]] = {}  # layer -> expert -> tier
    for tier, layers in plan["experts"].items():
        for layer, ids in layers.items():
            tiers.setdefault(int(layer), {}).update(dict.fromkeys(ids, tier))
    counters = OffloadCounters()
    host = torch.device(plan["host"])
    out = {}
    for i, layer in enumerate(model.model.layers):
        experts = layer.mlp.experts
        wanted = tiers.get(i, {})
        if type(experts).__name__ != "DeepseekV4Experts" or all(
                t == "device" for t in wanted.values()):
            continue
        module = OffloadedExperts(experts.num_experts, experts.hidden_dim,
                                  experts.intermediate_dim, experts.limit, dtype, i, device,
                                  host, plan["mode"], counters)
        module.tiers = {e: wanted.get(e, "device") for e in range(experts.num_experts)}
        out[i] = module
    return out


def _fill_placed(module, expert: int, which: str, kind: str, name: str, f, shard: Path) -> None:
    """One stored w1/w2/w3 tensor of a placed layer: into its tier, or mapped from disk."""
    tier = module.tiers[expert]
    module.__dict__.setdefault("parts", {}).setdefault(expert, set()).add(f"{which}.{kind}")
    if tier == "disk":
        from engine.deepseek_v4.native.mapped import MappedShard

        maps = module.__dict__.setdefault("_maps", {})
        mapped = maps.get(shard) or maps.setdefault(shard, MappedShard(shard))
        module.disk_store.setdefault(expert, {})[f"{which}.{kind}"] = mapped.tensor(name)
        return
    store = module.hot if tier == "device" else module.host_store
    where = module.device if tier == "device" else module.host
    if expert not in store:
        pin = tier == "host" and module.device.type == "cuda"
        store[expert] = tuple(torch.empty(shape, dtype=dt, device=where, pin_memory=pin)
                              for shape, dt in module.shapes().values())
    gate_up, gate_up_scale, down, down_scale = store[expert]
    inter = module.intermediate_dim
    target = {"w1": (gate_up[:inter], gate_up_scale[:inter]),
              "w3": (gate_up[inter:], gate_up_scale[inter:]),
              "w2": (down, down_scale)}[which][0 if kind == "weight" else 1]
    target.copy_(f.get_tensor(name).view(target.dtype))
