"""Where the tests keep the embedded default converted: once per machine, not per test.

The GGUF conversion takes ~25 s, so the cache lives under the system temp dir keyed by the GGUF's
hash (a changed wheel gets a fresh folder). `ensure_converted` is atomic, so parallel or crashed
sessions never see half a cache.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from engine.embedded import embedded_gguf_path, file_digest


def shared_cache_dir() -> Path:
    digest = file_digest(embedded_gguf_path())[:16]
    path = Path(tempfile.gettempdir()) / f"longhand-test-cache-{digest}"
    path.mkdir(parents=True, exist_ok=True)
    return path
