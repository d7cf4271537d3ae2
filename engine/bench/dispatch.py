"""`python -m engine.bench BENCH [options]`: a dispatcher; each bench lives in its own module.

Every bench prints one JSON object per line with the fields of DESIGN.md §4 (`bench`, `case`,
`ours_s`, `reference_s`, `speedup`, `max_abs_diff`, `ours_peak_gb`, `reference_peak_gb`, plus its
own figures); a figure that was not measured is null. Add a bench by adding its module here.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHES = {
    "generate": "engine.bench.generate",
    "prefill": "engine.bench.v4",
    "decode": "engine.bench.v4",
    "moe": "engine.bench.v4",
    "prefix-cache": "engine.bench.prefix_cache",
}

FIELDS = ("bench", "case", "ours_s", "reference_s", "speedup", "max_abs_diff",
          "ours_peak_gb", "reference_peak_gb")


def record(bench: str, case: str, **figures) -> dict:
    """A result row with every common field present (None when not measured)."""
    row = {name: None for name in FIELDS}
    row.update(bench=bench, case=case, **figures)
    if row["speedup"] is None and row["ours_s"] and row["reference_s"]:
        row["speedup"] = round(row["reference_s"] / row["ours_s"], 3)
    return row


def emit(row: dict) -> None:
    print(json.dumps(row), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.bench")
    parser.add_argument("bench", choices=sorted(BENCHES))
    parser.add_argument("--seq", type=int, default=None, help="prompt length in tokens")
    parser.add_argument("--reference", action="store_true",
                        help="require the reference implementation (fail if it is missing)")
    args, rest = parser.parse_known_args(argv)
    module = importlib.import_module(BENCHES[args.bench])
    return module.run(args, rest) or 0


if __name__ == "__main__":
    sys.exit(main())
