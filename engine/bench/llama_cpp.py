"""llama.cpp as the generate bench's reference: its child process and its CPU variant.

Why a variant choice: `make bench-deps` builds llama-cpp-python with runtime dispatch
(GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS), one CPU library per x86 level in site-packages/bin,
so one wheel runs on AVX2-only EPYCs and on AVX-512/AMX Xeons alike (a -DGGML_NATIVE=ON wheel
built on one kind faults on the other, and pip's wheel cache does not key on CMAKE_ARGS).
llama-cpp-python does not load those libraries itself ("no backends are loaded"), so the child
scores them as ggml does (each exports `ggml_backend_score`) and loads the best one, minus
any the caller excludes: the AMX variant segfaulted on the embedded Q4_1 GGUF on Sapphire
Rapids, so the bench retries without it and says so. A build with the CPU backend linked in
(no variants found) is used as it is.

Does not know: our own side of the bench (engine/bench/generate.py).
"""
from __future__ import annotations

import ctypes
import resource
import statistics
import time
from pathlib import Path

AMX_VARIANTS = ("sapphirerapids",)
PREFIX, SUFFIX = "libggml-cpu-", ".so"


def load_cpu_variant(exclude: tuple[str, ...] = ()) -> str | None:
    """Load the best CPU library this machine runs, except `exclude`; its name, or None."""
    import llama_cpp

    package = Path(llama_cpp.__file__).resolve().parent
    variants = sorted((package.parent / "bin").glob(f"{PREFIX}*{SUFFIX}"))
    if not variants:
        return None
    best, best_score = None, 0
    for lib in variants:
        name = lib.name[len(PREFIX):-len(SUFFIX)]
        if name in exclude:
            continue
        score = getattr(ctypes.CDLL(str(lib)), "ggml_backend_score", None)
        value = score() if score is not None else 0  # 0: this CPU lacks its instructions
        if value > best_score:
            best, best_score = (name, lib), value
    if best is None:
        raise RuntimeError(f"no llama.cpp CPU variant runs here (excluded: {exclude})")
    # the libggml that libllama links by its soname: one backend registry, not a second copy
    ggml = ctypes.CDLL(str(package / "lib" / "libggml.so.0"))
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(best[1]).encode()):
        raise RuntimeError(f"llama.cpp could not load its CPU variant {best[0]}")
    return best[0]


def llama_cpp_child(gguf: str, prompt_ids: list[int], repeat: int, decode_tokens: int,
                    exclude: tuple[str, ...], queue, threads: int = 2) -> None:
    """Load, prefill and greedy-decode `decode_tokens` per repeat; medians on the queue."""
    import llama_cpp
    import numpy as np

    variant = load_cpu_variant(exclude)
    started = time.perf_counter()
    llm = llama_cpp.Llama(model_path=gguf, n_ctx=8192, n_threads=threads,
                      n_batch=512, verbose=False)
    load_s = time.perf_counter() - started
    prefill, decode = [], []
    for _ in range(repeat):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(prompt_ids)
        prefill.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(decode_tokens):
            # 0.3.x keeps no scores without logits_all: read the last position's logits
            logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                           shape=(llm.n_vocab(),))
            llm.eval([int(logits.argmax())])
        decode.append(time.perf_counter() - t0)
    queue.put({"load_s": load_s, "prefill_s": statistics.median(prefill),
               "decode_s": statistics.median(decode), "cpu_variant": variant, "threads": threads,
               "peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)})
