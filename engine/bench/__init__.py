"""Benchmarks: `python -m engine.bench BENCH`; dispatch.py picks the module, one module per bench
(generate.py, v4.py, prefix_cache.py; llama_cpp.py runs the llama.cpp reference).
"""
