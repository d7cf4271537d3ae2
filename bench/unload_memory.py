"""RSS over repeated load / chat / unload cycles of the app's model: `python bench/unload_memory.py`.

Why: the app's RSS went 0.7 -> 1.8 -> 2.0 -> 2.1 GiB over unload/load cycles in the Engine tab.
This drives the Engine tab's own code (workbench/engine_control.py: load_choice, chat, unload)
on the embedded default in this one process, as the app does, and prints one JSON line per
cycle: RSS after the load, after a short chat, and after the unload (GiB).
Does not know: how a backend loads or frees its weights; it only drives and measures.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the repository's packages
GIB = 2**30


def cycles(count: int, cache_dir: Path, data_dir: Path):
    import psutil

    from workbench import engine_control as control
    from workbench.config import Settings
    from workbench.context import AppContext

    ctx = AppContext.from_settings(Settings(data_dir=data_dir, cache_dir=cache_dir))
    process = psutil.Process()
    for i in range(count):
        backend = control.load_choice(ctx, control.EngineChoice(source="embedded"))
        loaded = process.memory_info().rss
        answer = list(control.chat(backend, [], "Say hello.", max_new_tokens=8))
        chatted = process.memory_info().rss
        del backend
        if not control.unload(ctx) or ctx.loaded_backend() is not None:
            raise RuntimeError("the backend was not unloaded")
        yield {"bench": "unload-memory", "case": f"cycle-{i + 1}",
               "rss_loaded_gb": round(loaded / GIB, 3),
               "rss_after_chat_gb": round(chatted / GIB, 3),
               "rss_unloaded_gb": round(process.memory_info().rss / GIB, 3),
               "answered": bool(answer and answer[-1].strip())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/unload_memory.py")
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--cache-dir", default=None,
                        help="where the embedded model is converted (default: Settings')")
    args = parser.parse_args(argv)
    from workbench.config import Settings

    cache_dir = Path(args.cache_dir) if args.cache_dir else Settings().cache_dir
    with tempfile.TemporaryDirectory(prefix="longhand-unload-bench-") as tmp:
        for row in cycles(args.cycles, cache_dir, Path(tmp)):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
