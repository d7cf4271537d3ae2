"""The DeepSeek-V4 stack: the one loader (load.py) and transformers' reference path (reference.py),
the fused model swap-in (model.py, attention.py, layer.py, cache.py), the official format
(format.py), native FP8/FP4 modules (native/), expert placement (expert_plan.py,
expert_offload.py), the machine planner (planner.py), tiny checkpoints (tiny.py) and shipped
configs (configs/). Nothing is imported here, so importing one module pulls in only what it needs.
"""
