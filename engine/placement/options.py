"""What a load is asked for (`LoadOptions`) and what it reports (`LoadReport`), and the byte
accounting both use: the ground floor of loading, imported by every loader.

Why its own module: engine/loading.py (embedded / GGUF / HF folders) and the DeepSeek-V4 loaders
(engine/deepseek_v4/load.py, reference.py) share these types; keeping them here means no loader
imports another. Does not know how anything is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import ModelLoadError

QUANTIZATION_MODES = ("nf4", "fp4", "int8")  # bitsandbytes
CPU_DECODE_MODES = ("fp16-cpu", "int8-cpu")  # fbgemm decode weights, engine/llama/fast.py
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


def parse_max_memory(text: str | None) -> dict | None:
    """'cpu=8GiB,0=20GiB' -> {'cpu': '8GiB', 0: '20GiB'} (the product's --max-memory syntax)."""
    if not text:
        return None
    limits: dict = {}
    for part in text.split(","):
        device, sep, amount = part.partition("=")
        if not sep or not device.strip() or not amount.strip():
            raise ModelLoadError(f"--max-memory wants DEVICE=AMOUNT pairs such as "
                                 f"'cpu=8GiB,0=20GiB', not {part.strip()!r}")
        device = device.strip()
        limits[int(device) if device.isdigit() else device] = amount.strip()
    return limits
