"""Which linear layers a LoRA adapter trains, per architecture.

Why per architecture: PEFT's defaults miss layers on some models and hit the wrong ones on
others. For llama-style models (the embedded SmolLM2, Llama, Mistral, Qwen2) LoRA goes on the
attention projections q/k/v/o and the MLP (gate/up/down). For DeepSeek-V4 it goes on the
attention projections (q_a, q_b, kv, o_b) and the shared expert's MLP only: the routed experts
are stored as 3-D `nn.Parameter` tensors that PEFT LoRA cannot target (peft #2545,
transformers #36518) and that vLLM's fused-MoE LoRA path will not serve (vllm #10446), so they
stay frozen. `o_a_proj` is a grouped linear whose forward is not a plain matmul, and the
compressor/indexer projections only score positions, so they are left alone too.

Does not know: how training runs (training.py) or how models load (engine/loading.py).
"""
from __future__ import annotations

from dataclasses import dataclass

LLAMA_STYLE = ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3", "olmo2",
               "smollm3", "granite")
LLAMA_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
V4_TYPES = ("deepseek_v4",)
# Regular expressions PEFT matches against full module names.
V4_PATTERN = (r".*\.self_attn\.(q_a_proj|q_b_proj|kv_proj|o_b_proj)"
              r"|.*\.mlp\.shared_experts\.(gate_proj|up_proj|down_proj)")
V4_NOTE = ("DeepSeek-V4: LoRA on the attention projections (q_a, q_b, kv, o_b) and the shared "
           "expert. The routed experts are not trained: they are 3-D expert tensors that PEFT "
           "cannot target and vLLM/SGLang cannot serve LoRA on.")
LLAMA_NOTE = "LoRA on the attention projections (q, k, v, o) and the MLP (gate, up, down)."


@dataclass(frozen=True)
class TargetChoice:
    architecture: str
    target_modules: str | tuple[str, ...]  # names, or one regex (PEFT accepts both)
    note: str  # shown in the UI and kept in the adapter's metadata

    def peft_value(self) -> str | list[str]:
        return self.target_modules if isinstance(self.target_modules, str) \
            else list(self.target_modules)


def choose_targets(model_type: str, module_names: list[str] | None = None) -> TargetChoice:
    """Targets for a model's `config.model_type`; `module_names` lets unknown models fall back
    to the llama names they actually have."""
    if model_type in V4_TYPES:
        return TargetChoice(model_type, V4_PATTERN, V4_NOTE)
    if model_type in LLAMA_STYLE:
        return TargetChoice(model_type, LLAMA_MODULES, LLAMA_NOTE)
    leaves = {n.rsplit(".", 1)[-1] for n in (module_names or [])}
    present = tuple(m for m in LLAMA_MODULES if m in leaves)
    if present:
        return TargetChoice(model_type, present,
                            f"{model_type}: LoRA on the llama-style layers it has "
                            f"({', '.join(present)}).")
    raise ValueError(f"no LoRA target modules known for model type {model_type!r}")


def targets_for(model) -> TargetChoice:
    """The choice for a loaded transformers model."""
    return choose_targets(model.config.model_type, [n for n, _ in model.named_modules()])
