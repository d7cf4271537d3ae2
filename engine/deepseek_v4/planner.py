"""Plan how a DeepSeek-V4 checkpoint fits a machine, before loading a byte of weights.

Why: whether V4-Flash (156 GB on disk) runs on a 24 GB GPU + 256 GB RAM box, and how fast, is a
question of bytes: which tensors sit where, and how many bytes each token reads from each
memory. This module answers it from the config (or a folder's safetensors headers) and the
machine (GPU/RAM/disk sizes and bandwidths), with the policy engine/deepseek_v4/expert_offload.py
applies: attention, shared experts, norms, compressors, embeddings and head on the GPU; then as
many routed experts as fit; the rest in host RAM, computed there by the CPU (activations move,
weights do not), or fetched per expert over PCIe when that is faster; what RAM cannot hold is
read from disk. Estimates are bandwidth bounds (weights + KV read once per token, batch 1,
uniform routing), given as "overlapped" (GPU and host work concurrently) and "serial".

Byte accounting follows the official layout (engine/deepseek_v4/format.py): FP8 = 1 B + one
E8M0 per 128x128 block; FP4 = 0.5 B + one E8M0 per 32; BF16/F32/I64 as stored. The MTP block is not
counted: transformers' model does not hold it.
Does not know: real measurements (bench/RESULTS.md compares), or other architectures.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

GB = 1e9
# GPU memory size (GB) -> a typical card's HBM/GDDR bandwidth (GB/s); override with gpu_bw_gbs.
GPU_BANDWIDTH = {24: 1008.0, 32: 1792.0, 48: 960.0, 80: 3350.0, 96: 1792.0, 141: 4800.0}
RUNTIME_RESERVE_GB = 2.0  # CUDA context, activations, allocator slack
HOST_RESERVE_GB = 8.0  # the OS, Python, the page cache's working set
_EXPERT = re.compile(r"layers\.(\d+)\.ffn\.experts\.(\d+)\.")


@dataclass
class Machine:
    gpu_gb: float = 24.0
    ram_gb: float = 256.0
    disk_gb: float | None = None
    gpu_bw_gbs: float | None = None  # None: by GPU size (GPU_BANDWIDTH)
    host_bw_gbs: float = 100.0  # CPU memory bandwidth the expert kernels achieve
    pcie_gbs: float = 25.0  # pinned host->device copies (PCIe 4 x16 in practice)
    disk_bw_gbs: float = 7.0  # NVMe sequential reads
    context: int = 65536  # tokens of KV to reserve and read per token

    def gpu_bandwidth(self) -> float:
        if self.gpu_bw_gbs:
            return self.gpu_bw_gbs
        size = min(GPU_BANDWIDTH, key=lambda s: abs(s - self.gpu_gb))
        return GPU_BANDWIDTH[size]


@dataclass
class Inventory:
    """Bytes of a checkpoint by role, as a native-precision load holds them."""

    dense: int = 0  # every non-routed-expert tensor except the embedding
    embedding: int = 0
    embedding_row: int = 0
    expert_bytes: int = 0  # one routed expert (packed weights + scales)
    n_experts: int = 0  # routed experts per MoE layer
    moe_layers: int = 0
    top_k: int = 0
    kv_bytes_per_token: float = 0.0
    source: str = ""
    per_format: dict = field(default_factory=dict)

    @property
    def experts_total(self) -> int:
        return self.expert_bytes * self.n_experts * self.moe_layers

    @property
    def total(self) -> int:
        return self.dense + self.embedding + self.experts_total


def _stored_bytes(kind: str, shape: tuple[int, ...]) -> int:
    from engine.deepseek_v4 import format as v4_format

    numel = 1
    for d in shape:
        numel *= d
    if kind == v4_format.FP8:
        n, k = shape
        return numel + -(-n // 128) * -(-k // 128)
    if kind == v4_format.FP4:
        return numel // 2 + numel // v4_format.FP4_GROUP
    return numel * {v4_format.BF16: 2, v4_format.F32: 4, v4_format.I64: 8}[kind]


def kv_bytes_per_token(config) -> float:
    """Compressed K=V (head_dim) per `ratio` tokens per layer, plus CSA's indexer keys, bf16."""
    total = 0.0
    for kind in config.layer_types:
        if kind == "compressed_sparse_attention":
            total += 2 * (config.head_dim + config.index_head_dim) / 4
        elif kind == "heavily_compressed_attention":
            total += 2 * config.head_dim / 128
    return total


def inventory_from_config(config_path: str | Path) -> Inventory:
    """Byte inventory from a config.json alone (the model skeleton on the meta device)."""
    from accelerate import init_empty_weights
    from transformers import DeepseekV4Config, DeepseekV4ForCausalLM

    from engine.deepseek_v4 import format as v4_format

    config = DeepseekV4Config.from_json_file(str(config_path))
    quantized = bool(getattr(config, "quantization_config", None))
    if quantized:
        del config.quantization_config
    with init_empty_weights():
        model = DeepseekV4ForCausalLM(config)
    inv = Inventory(source=str(config_path), n_experts=config.n_routed_experts,
                    top_k=config.num_experts_per_tok,
                    kv_bytes_per_token=kv_bytes_per_token(config))
    for name, tensor in model.state_dict().items():
        if name.endswith("mlp.experts.gate_up_proj"):
            e, two_i, h = tensor.shape
            kind = v4_format.storage_kind("layers.0.ffn.experts.0.w1.weight", quantized)
            inv.expert_bytes = 2 * _stored_bytes(kind, (two_i // 2, h))
            inv.moe_layers += 1
            continue
        if name.endswith("mlp.experts.down_proj"):
            kind = v4_format.storage_kind("layers.0.ffn.experts.0.w2.weight", quantized)
            inv.expert_bytes += _stored_bytes(kind, tuple(tensor.shape[1:]))
            continue
        official = v4_format.official_name(name)
        kind = v4_format.storage_kind(official, quantized)
        size = _stored_bytes(kind, tuple(tensor.shape))
        inv.per_format[kind] = inv.per_format.get(kind, 0) + size
        if official == "embed.weight":
            inv.embedding, inv.embedding_row = size, size // tensor.shape[0]
        else:
            inv.dense += size
    inv.per_format["fp4" if quantized else "bf16"] = inv.per_format.get(
        "fp4" if quantized else "bf16", 0) + inv.experts_total
    return inv


def inventory_from_folder(path: str | Path) -> Inventory:
    """Byte inventory from a checkpoint folder's safetensors headers (no weights read)."""
    from safetensors import safe_open

    from engine.deepseek_v4.native.loader import _shards

    path = Path(path)
    inv = inventory_from_config(path / "config.json")
    size = {"F8_E4M3": 1, "F8_E8M0": 1, "I8": 1, "BF16": 2, "F32": 4, "I64": 8, "I32": 4}
    dense = embedding = 0
    per_expert: dict[tuple[int, int], int] = {}
    for shard in _shards(path):
        with safe_open(shard, framework="pt") as f:
            for name in f.keys():
                if name.startswith("mtp."):
                    continue
                view = f.get_slice(name)
                count = 1
                for d in view.get_shape():
                    count *= d
                nbytes = count * size[view.get_dtype()]
                match = _EXPERT.match(name)
                if match:
                    key = (int(match[1]), int(match[2]))
                    per_expert[key] = per_expert.get(key, 0) + nbytes
                elif name.startswith("embed."):
                    embedding += nbytes
                else:
                    dense += nbytes
    inv.dense, inv.embedding = dense, embedding
    if per_expert:
        inv.expert_bytes = max(per_expert.values())
    inv.source = str(path)
    return inv


@dataclass
class Plan:
    machine: dict
    inventory: dict
    placement: dict  # what lives where
    resident_bytes: dict  # device -> bytes
    per_token_bytes: dict  # memory -> bytes read per decoded token
    tokens_per_s: dict  # bound -> tok/s
    mode: str  # how cold experts run: "host" (CPU computes) or "fetch" (PCIe copies)
    fits: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def plan(inv: Inventory, machine: Machine) -> Plan:
    """Place the inventory on the machine and estimate bandwidth-bound decode speed."""
    notes = []
    gpu_cap = machine.gpu_gb * GB
    kv = inv.kv_bytes_per_token * machine.context
    reserve = RUNTIME_RESERVE_GB * GB + kv
    gpu_free = gpu_cap - reserve - inv.dense - inv.embedding
    fits = True
    dense_on_gpu = gpu_free >= 0
    if not dense_on_gpu:
        notes.append("the dense part does not fit the GPU: attention would run from host RAM")
        gpu_free = 0.0
    n_total = inv.n_experts * inv.moe_layers
    n_gpu = min(n_total, int(gpu_free // inv.expert_bytes)) if inv.expert_bytes else 0
    ram_cap = max(0.0, machine.ram_gb * GB - HOST_RESERVE_GB * GB)
    host_dense = 0 if dense_on_gpu else inv.dense + inv.embedding
    n_host = min(n_total - n_gpu, int(max(0.0, ram_cap - host_dense) // max(inv.expert_bytes, 1)))
    n_disk = n_total - n_gpu - n_host
    if n_disk:
        notes.append(f"{n_disk} experts do not fit in RAM: read from disk (the checkpoint's "
                     "own files, memory-mapped)")
        if machine.disk_gb is not None and machine.disk_gb * GB < inv.total:
            fits = False
            notes.append("the disk cannot even hold the checkpoint")
    active = inv.top_k * inv.moe_layers * inv.expert_bytes  # routed bytes per token
    share = {k: (n / n_total if n_total else 0.0) for k, n in
             (("gpu", n_gpu), ("host", n_host), ("disk", n_disk))}
    dense_read = inv.dense + inv.embedding_row + kv
    gpu_read = (dense_read if dense_on_gpu else kv) + active * share["gpu"]
    host_read = active * share["host"] + (0 if dense_on_gpu else inv.dense)
    disk_read = active * share["disk"]
    mode = "host" if machine.host_bw_gbs >= machine.pcie_gbs else "fetch"
    host_bw = max(machine.host_bw_gbs, machine.pcie_gbs)
    t_gpu = gpu_read / (machine.gpu_bandwidth() * GB)
    t_host = host_read / (host_bw * GB) + disk_read / (machine.disk_bw_gbs * GB)
    tps = {"overlapped": 1 / max(t_gpu, t_host, 1e-12), "serial": 1 / (t_gpu + t_host)}
    if mode == "fetch":
        notes.append("host RAM is slower than PCIe here: cold experts are fetched, pinned")
    placement = {
        "gpu": ["embedding", "attention + compressors + indexers", "shared experts", "norms + mHC",
                "lm head"] if dense_on_gpu else [],
        "gpu_experts": n_gpu, "host_experts": n_host, "disk_experts": n_disk,
        "experts_total": n_total, "kv_reserved_bytes": int(kv),
    }
    resident = {"gpu": int((inv.dense + inv.embedding if dense_on_gpu else 0)
                           + n_gpu * inv.expert_bytes + reserve),
                "host": int(host_dense + n_host * inv.expert_bytes),
                "disk": int(inv.total)}
    per_token = {"gpu": int(gpu_read), "host": int(host_read), "disk": int(disk_read),
                 "routed_experts": int(active)}
    return Plan(machine=asdict(machine) | {"gpu_bw_gbs": machine.gpu_bandwidth()},
                inventory=asdict(inv) | {"experts_total_bytes": inv.experts_total,
                                         "total_bytes": inv.total},
                placement=placement, resident_bytes=resident, per_token_bytes=per_token,
                tokens_per_s={k: round(v, 1) for k, v in tps.items()}, mode=mode, fits=fits,
                notes=notes)


def plan_path(target: str | Path, machine: Machine) -> Plan:
    """A model folder (headers) or a config.json -> Plan."""
    target = Path(target)
    if target.is_dir():
        if any(target.glob("*.safetensors")):
            return plan(inventory_from_folder(target), machine)
        target = target / "config.json"
    if not target.is_file():
        raise FileNotFoundError(f"no model folder or config.json at {target}")
    if json.loads(target.read_text()).get("model_type") != "deepseek_v4":
        raise ValueError(f"{target}: the planner knows DeepSeek-V4 checkpoints only")
    return plan(inventory_from_config(target), machine)


def describe(p: Plan) -> str:
    """A short human-readable rendering of a plan."""
    g = 1 / GB
    m, pl, r, t = p.machine, p.placement, p.resident_bytes, p.per_token_bytes
    lines = [
        f"machine: {m['gpu_gb']:g} GB GPU ({m['gpu_bw_gbs']:g} GB/s) + {m['ram_gb']:g} GB RAM "
        f"({m['host_bw_gbs']:g} GB/s), context {m['context']} tokens",
        f"checkpoint: {p.inventory['total_bytes'] * g:.1f} GB "
        f"({p.inventory['experts_total_bytes'] * g:.1f} GB routed experts)",
        f"gpu:  {', '.join(pl['gpu']) or 'nothing dense'}; {pl['gpu_experts']}/"
        f"{pl['experts_total']} routed experts; resident {r['gpu'] * g:.1f} GB "
        f"(incl. {pl['kv_reserved_bytes'] * g:.1f} GB KV + runtime)",
        f"host: {pl['host_experts']} routed experts, resident {r['host'] * g:.1f} GB; "
        f"cold experts run by: {'the CPU' if p.mode == 'host' else 'fetching to the GPU'}",
        f"disk: {pl['disk_experts']} experts",
        f"per token: GPU reads {t['gpu'] * g:.2f} GB, host {t['host'] * g:.2f} GB, disk "
        f"{t['disk'] * g:.2f} GB (routed experts {t['routed_experts'] * g:.2f} GB)",
        f"decode bound: {p.tokens_per_s['overlapped']:.1f} tok/s overlapped, "
        f"{p.tokens_per_s['serial']:.1f} tok/s serial",
    ]
    return "\n".join(lines + [f"note: {n}" for n in p.notes])
