"""The one V4 loader: FP8/FP4 held natively, fused kernels, experts placed by the plan.

Why: the official V4 release is FP8 + FP4; transformers' load (engine/deepseek_v4/reference.py,
kept as the reference and for training) dequantizes it to bf16 off recent GPUs and offloads whole
layers. Here `load_v4_fused` reads the folder natively (engine/deepseek_v4/native/loader.py),
places the routed experts as `engine.deepseek_v4.expert_plan.load_plan` says under the user's
--max-memory /
--device-map (hot ones on the device, the rest in host RAM or memory-mapped from the
checkpoint's own files, moved one routed expert at a time: engine/deepseek_v4/expert_offload.py),
then swaps in Longhand's fused attention and model loop (engine/deepseek_v4/model.py). The report
says, per storage format, how it is held, which experts sit where, and that the kernels are fused.

Does not know: other model formats (engine/loading.py dispatches here), generation.
"""
from __future__ import annotations

import time
from pathlib import Path

from engine.placement.options import LoadOptions, process_rss
from engine.deepseek_v4.reference import V4LoadReport, inspect_checkpoint


def load_v4_fused(path: str | Path, options: LoadOptions | None = None):
    """-> (model, tokenizer or None, V4LoadReport) with `report.kernels == "fused"`."""
    import torch
    from transformers import AutoTokenizer

    from engine.deepseek_v4 import expert_plan
    from engine.deepseek_v4.model import apply_fast_v4
    from engine.deepseek_v4.expert_offload import OffloadedExperts
    from engine.deepseek_v4.native import load_v4_native, resident_bytes

    options = options or LoadOptions()
    path = Path(path)
    started = time.perf_counter()
    facts = inspect_checkpoint(path)
    plan = expert_plan.load_plan(path, options.device_map, options.max_memory, options.dtype)
    dtype = getattr(torch, plan["dtype"])
    model = load_v4_native(path, dtype=dtype, device=plan["device"], plan=plan)
    apply_fast_v4(model)
    notes = ["DeepSeek-V4 runs on Longhand's fused kernels (engine/kernels, engine/native) "
             "with FP8/FP4 weights held as stored", *plan["notes"]]
    if options.offload_folder:
        notes.append("the offload folder is not used: offloaded experts are read from the "
                     "checkpoint's own files (memory-mapped)")
    tokenizer = None
    if (path / "tokenizer.json").is_file() or (path / "tokenizer_config.json").is_file():
        tokenizer = AutoTokenizer.from_pretrained(path)
    else:
        notes.append("no tokenizer files in the folder")
    if facts["mtp_tensors"]:
        notes.append(f"{facts['mtp_tensors']} MTP tensors (mtp.*) not read: the model has no "
                     "MTP head")
    placed = [m for m in model.modules() if isinstance(m, OffloadedExperts)]
    held = {t: sum(m.held_bytes()[t] for m in placed) for t in ("device", "host", "disk")}
    dense = resident_bytes(model)  # parameters + buffers: the dense part and resident layers
    devices = {plan["device"]: dense + held["device"]}
    if held["host"]:
        devices[plan["host"]] = devices.get(plan["host"], 0) + held["host"]
    if held["disk"]:
        devices["disk"] = held["disk"]
    offloaded = {"host": [], "disk": []}
    for m in placed:
        offloaded["host"] += [f"model.layers.{m.layer}.mlp.experts.{e}" for e in m.host_store]
        offloaded["disk"] += [f"model.layers.{m.layer}.mlp.experts.{e}" for e in m.disk_store]
    config = facts.pop("config")
    held_dtype = plan["dtype"]
    precision = {fmt: f"native {fmt}" for fmt in ("fp8", "fp4") if fmt in facts["formats"]}
    if "bf16" in facts["formats"]:
        precision["bf16"] = held_dtype if held_dtype != "bfloat16" else "bfloat16 (as stored)"
    return model, tokenizer, V4LoadReport(
        source=str(path), kind="deepseek_v4", path_taken="direct",
        load_s=round(time.perf_counter() - started, 3), dtype=held_dtype,
        context_window=config.get("max_position_embeddings"), device_placement=devices,
        resident_bytes=dense + held["device"] + held["host"], rss_bytes=process_rss(),
        quantization=None, notes=notes, checkpoint=facts, precision=precision,
        ignored={"mtp": facts["mtp_tensors"]},
        offloaded={k: v for k, v in offloaded.items() if v}, kernels="fused",
        expert_placement=plan)
