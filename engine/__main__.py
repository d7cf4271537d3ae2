"""`python -m engine plan MODEL_DIR_OR_CONFIG [--gpu-gb 24 --ram-gb 256 --disk-gb N ...]`.

Prints where a DeepSeek-V4 checkpoint's weights will live on a machine, the resident bytes per
device and a bandwidth-bound decode estimate, without loading weights (engine/planner.py).
Exit code 2 on user error. Does not load or run models.
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    from engine.planner import Machine, describe, plan_path

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
    args = parser.parse_args(argv)
    machine = Machine(gpu_gb=args.gpu_gb, ram_gb=args.ram_gb, disk_gb=args.disk_gb,
                      gpu_bw_gbs=args.gpu_bw, host_bw_gbs=args.host_bw, pcie_gbs=args.pcie,
                      disk_bw_gbs=args.disk_bw, context=args.context)
    try:
        result = plan_path(args.model, machine)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict()) if args.json else describe(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
