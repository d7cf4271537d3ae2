"""Tensors that are views of a safetensors shard on disk: memory-mapped, read only when used.

Why: experts the planner leaves on disk must not be read at load (that would cost the RAM the
cap forbids) nor copied into an offload folder (the checkpoint already is one). A safetensors
file is an 8-byte header length, a JSON header and the raw tensor bytes, so each tensor is a
`torch.frombuffer` view of one private (copy-on-write, never written) mapping of the file: the
OS pages a routed expert in when a matmul reads it and may drop it again under memory pressure.
`safetensors.safe_open` has no zero-copy API for torch tensors, hence these few lines.

Does not know: which tensors are wanted (engine/deepseek_v4/native/loader.py) or what they hold.
"""
from __future__ import annotations

import json
import mmap
import struct
from pathlib import Path

import torch

_DTYPES = {"F8_E4M3": torch.float8_e4m3fn, "F8_E8M0": torch.float8_e8m0fnu, "I8": torch.int8,
           "U8": torch.uint8, "BF16": torch.bfloat16, "F16": torch.float16,
           "F32": torch.float32, "I32": torch.int32, "I64": torch.int64}


class MappedShard:
    """One shard mapped once; `tensor(name)` is a zero-copy view of its bytes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            self.header = json.loads(f.read(length))
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        self._data = 8 + length

    def tensor(self, name: str) -> torch.Tensor:
        entry = self.header[name]
        start, end = entry["data_offsets"]
        dtype = _DTYPES[entry["dtype"]]
        count = (end - start) // torch.empty((), dtype=dtype).element_size()
        flat = torch.frombuffer(self._map, dtype=dtype, count=count, offset=self._data + start)
        return flat.view(entry["shape"])
