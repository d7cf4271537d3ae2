"""Scale-out: an `accelerate launch` FSDP config and the command to train the same adapter on a
multi-GPU node (DeepSeek-V4 does not fit one machine's CPU; its LoRA does fit FSDP shards).

Why generated from the adapter: the registry row already holds the base model, the dataset
snapshot (dataset.jsonl), the hyperparameters and the target modules, so the node trains the
same thing the local run did. The config is plain accelerate FSDP (full shard, transformer
layer wrapping, bf16, original params kept so frozen base weights and trainable LoRA weights
shard together, CPU-RAM-efficient loading so only rank 0 reads the checkpoint: the host-RAM
blow-up of LLaMA-Factory PR #6843). It is written, not run, here; CI never runs it.

Does not know: the training loop itself (distributed.py runs it on the node).
"""
from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from workbench.adapters.registry import SNAPSHOT

LAYER_CLASSES = {"deepseek_v4": "DeepseekV4DecoderLayer", "llama": "LlamaDecoderLayer",
                 "mistral": "MistralDecoderLayer", "qwen2": "Qwen2DecoderLayer"}
CONFIG_FILE = "accelerate_fsdp.yaml"
SETTINGS_FILE = "train_settings.json"


def fsdp_config(gpus: int, layer_class: str) -> dict:
    return {
        "compute_environment": "LOCAL_MACHINE", "distributed_type": "FSDP",
        "mixed_precision": "bf16", "num_machines": 1, "num_processes": gpus,
        "machine_rank": 0, "main_training_function": "main", "use_cpu": False,
        "debug": False, "rdzv_backend": "static", "same_network": True,
        "fsdp_config": {
            "fsdp_version": 1,
            "fsdp_sharding_strategy": "FULL_SHARD",
            "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
            "fsdp_transformer_layer_cls_to_wrap": layer_class,
            "fsdp_backward_prefetch": "BACKWARD_PRE",
            "fsdp_state_dict_type": "SHARDED_STATE_DICT",
            "fsdp_use_orig_params": True,
            "fsdp_cpu_ram_efficient_loading": True,
            "fsdp_sync_module_states": True,
            "fsdp_offload_params": False,
        },
    }


def write_scaleout(info, out_dir: Path, *, gpus: int = 8, model_type: str = "deepseek_v4",
                   base_path: str | None = None) -> dict:
    """Write config, settings and dataset snapshot into out_dir; return the plan with the
    command line to run on the node."""
    import yaml

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layer_class = LAYER_CLASSES.get(model_type, "LlamaDecoderLayer")
    (out_dir / CONFIG_FILE).write_text(yaml.safe_dump(fsdp_config(gpus, layer_class),
                                                      sort_keys=False))
    shutil.copyfile(Path(info.path) / SNAPSHOT, out_dir / SNAPSHOT)
    settings = {"base_model": base_path or info.base_model, "model_type": model_type,
                "hyperparameters": info.hyperparameters,
                "max_tokens": info.dataset.get("max_tokens"),
                "dataset": SNAPSHOT, "output_dir": "adapter", "adapter": info.name}
    (out_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=1))
    command = (f"accelerate launch --config_file {shlex.quote(CONFIG_FILE)} "
               f"-m workbench.adapters.distributed {shlex.quote(SETTINGS_FILE)}")
    (out_dir / "README.md").write_text(
        f"# Training adapter {info.name} on {gpus} GPUs\n\n"
        "Copy this folder and the Longhand checkout to the node, point `base_model` in\n"
        f"{SETTINGS_FILE} at the checkpoint folder there, then from this folder run:\n\n"
        f"    {command}\n\n"
        "The result is a standard PEFT adapter in `adapter/` (adapter_config.json,\n"
        "adapter_model.safetensors); copy it back into the project's adapter folder.\n"
        "Routed experts stay frozen (see workbench/adapters/targets.py).\n")
    return {"config": str(out_dir / CONFIG_FILE), "settings": str(out_dir / SETTINGS_FILE),
            "command": command, "gpus": gpus, "layer_class": layer_class}
