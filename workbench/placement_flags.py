"""The engine placement flags, defined once for app.py and the CLI's model commands.

    --device-map M  --max-memory SPEC  --offload-folder DIR  --quantization Q  --reference-v4

Why one definition: `python app.py`, `python -m workbench synthesize` and `trust` must take the
same names with the same meaning and the same LONGHAND_<FLAG> environment variables (Settings
reads those; flags win). The values land in Settings, and workbench/context.py's `load_options`
turns them into the engine's LoadOptions for every local load.
Does not know: what the engine does with them (engine/loading.py).
"""
from __future__ import annotations

import argparse
from pathlib import Path

FIELDS = ("device_map", "max_memory", "offload_folder", "quantization", "reference_v4")
QUANTIZATIONS = ("nf4", "int8", "fp16-cpu", "int8-cpu", "fp32")


def add_placement_flags(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Add the flags as a group (so --help shows them together); returns the group."""
    group = parser.add_argument_group(
        "engine placement (local models)",
        "also from LONGHAND_DEVICE_MAP, LONGHAND_MAX_MEMORY, LONGHAND_OFFLOAD_FOLDER, "
        "LONGHAND_QUANTIZATION, LONGHAND_REFERENCE_V4; flags win")
    group.add_argument("--device-map", help="accelerate device map, e.g. auto, cpu, cuda:0")
    group.add_argument("--max-memory", help='per-device limits, e.g. "cpu=8GiB,0=20GiB"')
    group.add_argument("--offload-folder", type=Path, help="where offloaded weights go")
    group.add_argument("--quantization", choices=QUANTIZATIONS,
                       help="nf4/int8: bitsandbytes; fp16-cpu/int8-cpu: faster CPU decode "
                            "of Llama-family models (not exact); fp32: exact CPU decode "
                            "(default: fp16-cpu where the CPU has fbgemm's kernels)")
    group.add_argument("--reference-v4", action="store_true", default=None,
                       help="load DeepSeek-V4 through transformers (the reference path, "
                            "dequantized), not the native FP8/FP4 loader with fused kernels")
    return group


def placement_values(args: argparse.Namespace) -> dict:
    """The flags given on the command line (absent ones are None: Settings then decides)."""
    return {name: getattr(args, name, None) for name in FIELDS}
