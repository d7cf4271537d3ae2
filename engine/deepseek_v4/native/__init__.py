"""Native-precision DeepSeek-V4: FP8/FP4 weights kept as the release stores them.

Why: transformers dequantizes the official FP8/FP4 checkpoint to bf16 on CPUs and older GPUs
(156 GB -> ~568 GB for V4-Flash, ../shared/research/ENGINE_ANCHORS.md section 3), so it cannot
fit the machines people own. Here the weights stay as stored (e4m3 + 128x128 E8M0 block scales,
packed e2m1 + per-32 E8M0 scales) and every matmul dequantizes on the fly: torch on CPU, one
output strip or one routed expert at a time; Triton FP8 and W4A16 kernels on CUDA.

- `modules.py`: `Fp8BlockLinear` and `Fp4Experts`, drop-in for transformers' linears/experts.
- `triton_matmul.py`: the CUDA kernels (tested on CPU under TRITON_INTERPRET=1).
- `loader.py`: `load_v4_native(path)` builds the model on the meta device and fills it.

Does not know: placement across devices (engine/deepseek_v4/expert_offload.py), caches or
generation.
"""
from engine.deepseek_v4.native.loader import load_v4_native  # noqa: F401
from engine.deepseek_v4.native.modules import (  # noqa: F401
    Fp4Experts, Fp8BlockLinear, resident_bytes,
)
