"""`python -m engine plan MODEL_DIR_OR_CONFIG [--gpu-gb 24 --ram-gb 256 --disk-gb N ...]`.

Prints where a DeepSeek-V4 checkpoint's weights will live on a machine, the resident bytes per
device and a bandwidth-bound decode estimate, without loading weights
(engine/deepseek_v4/planner.py); for a checkpoint folder also the expert placement `load()` follows
on this machine under `--max-memory` / `--device-map` / `--dtype`
(engine/deepseek_v4/expert_plan.py, the loader's own plan). Exit code 2 on user error. Does not
load or run models.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from engine.errors import ModelLoadError
    from engine.deepseek_v4.expert_plan import describe_plan
    from engine.placement.options import parse_max_memory
    from engine.deepseek_v4.planner import Machine, describe, plan_path

    parser = argparse.ArgumentParser(prog="python -m engine")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="placement and speed estimate for a V4 checkpoint")
    p.add_argument("model", help="checkpoint folder or its config.json")
    p.add_argument("--gpu-gb", type=float, default=24.0, help="GPU memory (GB = 1e9 bytes)")
    p.add_argument("--ram-gb", type=float, default=256.0)
    p.add_argument("--disk-gb", type=float, default=None)
    p.add_argument("--context", type=int, default=65536, help="tokens of KV to plan for")
    p.add_argument("--gpu-bw", type=float, default=None, help="GPU GB/s (default: by size)")
    p.add_argument("--host-bw", type=float, default=100.0, help="host RAM GB/s for experts")
    p.add_argument("--pcie", type=float, default=25.0, help="host->GPU GB/s (pinned)")
    p.add_argument("--disk-bw", type=float, default=7.0)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--max-memory", help='the load\'s limits, as the product takes them: '
                   '"cpu=8GiB,0=20GiB" (a folder: prints the plan `load()` follows)')
    p.add_argument("--device-map", help="the load's device map: auto, cpu, cuda:0")
    p.add_argument("--dtype", default="float32", help="the load dtype of BF16-stored tensors")
    args = parser.parse_args(argv)
    machine = Machine(gpu_gb=args.gpu_gb, ram_gb=args.ram_gb, disk_gb=args.disk_gb,
                      gpu_bw_gbs=args.gpu_bw, host_bw_gbs=args.host_bw, pcie_gbs=args.pcie,
                      disk_bw_gbs=args.disk_bw, context=args.context)
    try:
        limits = parse_max_memory(args.max_memory)
        result = plan_path(args.model, machine)
        loading = _load_plan(args, limits)
    except (FileNotFoundError, ValueError, ModelLoadError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict() | ({"load_plan": loading} if loading else {})))
    else:
        print(describe(result) + (f"\n{describe_plan(loading)}" if loading else ""))
    return 0


def _load_plan(args, limits: dict | None) -> dict | None:
    """For a checkpoint folder: the expert placement `engine.loading.load` applies here."""
    from engine.deepseek_v4.expert_plan import load_plan

    if not Path(args.model).is_dir() or not any(Path(args.model).glob("*.safetensors")):
        return None
    return load_plan(args.model, args.device_map, limits, args.dtype)


if __name__ == "__main__":
    sys.exit(main())
