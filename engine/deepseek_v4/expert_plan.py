"""The placement a native DeepSeek-V4 load follows: which routed experts sit where, in bytes.

Why: `load()` of an official-layout V4 folder holds the dense part (attention, shared experts,
norms, embedding, head) on the compute device and places routed experts one by one under the
user's `--max-memory` / `--device-map`: as many as fit stay on the device ("device"), then host
RAM when the device is a GPU ("host"), the rest stay in the checkpoint's own files, memory-mapped
("disk"), and only the experts a token routes to are moved. The loader and `python -m engine
plan` both call `load_plan`, so the plan printed is the plan followed. Without a heat profile
every expert is equally hot: lower expert ids first, spread across layers
(engine/deepseek_v4/expert_offload.py `choose_hot` orders them the same way).

Byte accounting is the safetensors headers': FP8/FP4/E8M0/F32/I64 tensors are held as stored,
BF16 ones in the load dtype; the MTP block is not held. Does not know how experts are moved or
computed (engine/deepseek_v4/expert_offload.py) nor how tensors are read
(engine/deepseek_v4/native/loader.py).
"""
from __future__ import annotations

import re
from pathlib import Path

from engine.errors import ModelLoadError

_SIZES = {"F8_E4M3": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BF16": 2, "F16": 2, "F32": 4,
          "I32": 4, "I64": 8}
_EXPERT = re.compile(r"layers\.(\d+)\.ffn\.experts\.(\d+)\.w[123]\.(weight|scale)$")
_LAYER_KEY = re.compile(r"(?:^|\.)layers\.(\d+)(?:\.mlp(?:\.experts)?)?$")
TIERS = ("device", "host", "disk")


def to_bytes(amount) -> int:
    """'2GiB', '300MB', 1234 -> bytes (accelerate's reading of max_memory values)."""
    from accelerate.utils import convert_file_size_to_int

    try:
        if isinstance(amount, int) or str(amount).strip().isdigit():
            return int(amount)
        return convert_file_size_to_int(amount)
    except ValueError as exc:
        raise ModelLoadError(f"max_memory: {amount!r} is not a size such as 8GiB") from exc


def compute_device(device_map, cuda: bool) -> str:
    """Where the dense part runs: an explicit device, a map's first GPU, else cuda:0 or cpu."""
    if isinstance(device_map, int):
        return f"cuda:{device_map}"
    if isinstance(device_map, str) and device_map.startswith(("cuda", "cpu")):
        return "cuda:0" if device_map == "cuda" else device_map
    if isinstance(device_map, dict):
        gpus = [v for v in device_map.values() if isinstance(v, int)
                or (isinstance(v, str) and v.startswith("cuda"))]
        return compute_device(gpus[0], cuda) if gpus else "cpu"
    return "cuda:0" if cuda else "cpu"


def _layer_overrides(device_map, device: str) -> dict[int, str]:
    """Layers a dict device map sends to "disk" or to host RAM ("cpu" when computing on a GPU)."""
    out: dict[int, str] = {}
    if not isinstance(device_map, dict):
        return out
    for key, value in device_map.items():
        match = _LAYER_KEY.search(str(key))
        if match is None:
            continue
        if value == "disk":
            out[int(match[1])] = "disk"
        elif value == "cpu" and device != "cpu":
            out[int(match[1])] = "host"
    return out


def inventory(path: str | Path, dtype: str = "float32") -> dict:
    """Held bytes of the dense part and of each routed expert, from the headers (no weights)."""
    from safetensors import safe_open

    from engine.deepseek_v4.native.loader import _shards

    held_bf16 = 4 if dtype == "float32" else 2
    dense, experts, fp4 = 0, {}, False
    for shard in _shards(Path(path)):
        with safe_open(shard, framework="pt") as f:
            for name in f.keys():
                if name.startswith("mtp."):
                    continue
                view = f.get_slice(name)
                count = 1
                for d in view.get_shape():
                    count *= d
                kind = view.get_dtype()
                match = _EXPERT.search(name)
                if match:
                    key = (int(match[1]), int(match[2]))
                    experts[key] = experts.get(key, 0) + count * _SIZES[kind]
                    fp4 = fp4 or kind == "I8"
                else:
                    dense += count * (held_bf16 if kind == "BF16" else _SIZES[kind])
    return {"dense_bytes": dense, "experts": experts, "fp4": fp4}


def load_plan(path: str | Path, device_map=None, max_memory: dict | None = None,
              dtype: str = "float32", cuda: bool | None = None) -> dict:
    """The placement `load()` applies to a V4 folder under these options (JSON-ready)."""
    from engine.placement.offload import normalize_max_memory

    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    dtype = "bfloat16" if dtype in ("auto", None) else dtype
    inv = inventory(path, dtype)
    device = compute_device(device_map, cuda)
    host = "cpu"
    memory = {k: to_bytes(v) for k, v in (normalize_max_memory(max_memory) or {}).items()}
    device_key = "cpu" if device == "cpu" else int(device.split(":")[1])
    device_budget = memory.get(device_key)
    host_budget = memory.get("cpu") if device != "cpu" else None
    overrides = _layer_overrides(device_map, device)
    notes = []
    experts = inv["experts"]
    expert_bytes = max(experts.values(), default=0)
    free = None if device_budget is None else device_budget - inv["dense_bytes"]
    if free is not None and free < 0:
        notes.append(f"the dense part ({inv['dense_bytes']} bytes) exceeds the {device} limit "
                     f"({device_budget} bytes): it is held there anyway, no expert fits")
        free = 0
    host_free = host_budget
    where: dict[str, dict[str, list[int]]] = {t: {} for t in TIERS}
    if not inv["fp4"]:
        notes.append("routed experts are not stored FP4: they stay with the dense part")
    for layer, expert in sorted(experts, key=lambda k: (k[1], k[0])):
        cost = experts[(layer, expert)]
        tier = overrides.get(layer, "device")
        if not inv["fp4"]:
            tier = "device"
        elif tier == "device" and free is not None:
            if free >= cost:
                free -= cost
            else:
                tier = "host" if device != host else "disk"
        if tier == "host" and host_free is not None:
            if host_free >= cost:
                host_free -= cost
            else:
                tier = "disk"
        where[tier].setdefault(str(layer), []).append(expert)
    counts = {t: sum(map(len, where[t].values())) for t in TIERS}
    if counts["disk"]:
        notes.append(f"{counts['disk']} routed experts stay in the checkpoint's files, "
                     "memory-mapped: read from disk when a token routes to them")
    resident = {"device": inv["dense_bytes"] + counts["device"] * expert_bytes,
                "host": counts["host"] * expert_bytes}
    return {"device": device, "host": host, "dtype": dtype,
            "mode": "fetch" if device == host else "host",
            "limits": {"device": device_budget, "host": host_budget},
            "dense_bytes": inv["dense_bytes"], "expert_bytes": expert_bytes,
            "experts_total": len(experts), "counts": counts,
            "experts": {t: dict(sorted(v.items(), key=lambda kv: int(kv[0])))
                        for t, v in where.items()},
            "resident_bytes": resident, "resident_total": sum(resident.values()),
            "disk_bytes": counts["disk"] * expert_bytes, "notes": notes}


def describe_plan(plan: dict) -> str:
    """The plan as a few lines, for `python -m engine plan`."""
    mib = 1 / 2**20
    c, r = plan["counts"], plan["resident_bytes"]
    lines = [f"load plan ({plan['dtype']}): dense part on {plan['device']} "
             f"({plan['dense_bytes'] * mib:.2f} MiB); {plan['experts_total']} routed experts of "
             f"{plan['expert_bytes'] * mib:.3f} MiB each",
             f"experts: {c['device']} on {plan['device']}, {c['host']} in host RAM, "
             f"{c['disk']} on disk (memory-mapped); cold experts run by "
             f"{'reading them to the device' if plan['mode'] == 'fetch' else 'the CPU'}",
             f"resident: {r['device'] * mib:.2f} MiB on {plan['device']}"
             + (f", {r['host'] * mib:.2f} MiB host" if r["host"] else "")]
    for tier in TIERS:
        for layer, ids in plan["experts"][tier].items():
            lines.append(f"  layer {layer} {tier}: {','.join(map(str, ids))}")
    return "\n".join(lines + [f"note: {n}" for n in plan["notes"]])
