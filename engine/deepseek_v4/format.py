"""The DeepSeek-V4 release format: official tensor names, FP8/FP4 block encodings, pure torch.

Why: the official Instruct checkpoints (V4-Flash, V4-Pro) store dense weights as FP8 e4m3 with
one E8M0 (power-of-two) scale per 128x128 block, routed experts as FP4 e2m1 packed two per byte
(low nibble first) with one E8M0 scale per 32 values along the input dimension, and keep the
compressor/indexer projections, norms, embeddings and head in BF16, and the mHC, sink,
position-bias and router-bias tensors in F32 (../shared/research/ENGINE_ANCHORS.md section 2).
This module owns that encoding (quantize for building checkpoints, dequantize for checking what
a loader produced) and the mapping from transformers' DeepseekV4 parameter names to the
official names; transformers' `conversion_mapping.py` ("deepseek_v4") holds the reverse.

Does not know: shards, config files or models (engine/deepseek_v4/tiny.py writes checkpoints,
engine/deepseek_v4/reference.py loads them); kernels that compute on these encodings live in
engine/kernels/.
"""
from __future__ import annotations

import re

import torch

FP8_DTYPE = torch.float8_e4m3fn
E8M0_DTYPE = torch.float8_e8m0fnu
FP8_MAX = 448.0
FP4_MAX = 6.0
FP8_BLOCK = 128
FP4_GROUP = 32
# e2m1 code -> value; bit 3 is the sign.
FP4_VALUES = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0,
              -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0)

# Storage kinds of the official Instruct release, keyed by the official name (see `storage_kind`).
FP8, FP4, BF16, F32, I64 = "fp8", "fp4", "bf16", "f32", "i64"
_FP8_LINEARS = re.compile(
    r"(attn\.(wq_a|wq_b|wkv|wo_a|wo_b)|attn\.indexer\.wq_b|ffn\.shared_experts\.w[123]"
    r"|[eh]_proj)\.weight$"
)
_FP4_EXPERTS = re.compile(r"ffn\.experts\.\d+\.w[123]\.weight$")
_F32_TENSORS = re.compile(r"(hc_(attn|ffn|head)_(fn|base|scale)|attn_sink|\.ape|gate\.bias)$")


def storage_kind(name: str, quantized: bool = True) -> str:
    """How the official Instruct release stores the tensor called `name` (official naming)."""
    if name.endswith("tid2eid"):
        return I64
    if _F32_TENSORS.search(name):
        return F32
    if quantized and _FP4_EXPERTS.search(name):
        return FP4
    if quantized and _FP8_LINEARS.search(name):
        return FP8
    return BF16


# ---------------------------------------------------------------------------------------------
# E8M0 scales


def _pow2_scale(amax: torch.Tensor, qmax: float) -> torch.Tensor:
    """Smallest power of two s with amax / s <= qmax, as an fp32 tensor (1.0 where amax is 0)."""
    ratio = (amax.float() / qmax).clamp(min=torch.finfo(torch.float32).tiny)
    exponent = torch.ceil(torch.log2(ratio)).clamp(-127, 127)
    return torch.where(amax > 0, torch.exp2(exponent), torch.ones_like(exponent))


def to_e8m0(scale: torch.Tensor) -> torch.Tensor:
    """Exact powers of two -> float8_e8m0fnu (biased exponent byte), without rounding surprises."""
    exponent = torch.round(torch.log2(scale.float())).to(torch.int32) + 127
    return exponent.clamp(0, 254).to(torch.uint8).view(E8M0_DTYPE)


def from_e8m0(scale: torch.Tensor) -> torch.Tensor:
    """E8M0 scales (float8_e8m0fnu or raw uint8 bytes) -> fp32."""
    raw = scale.view(torch.uint8) if scale.dtype == E8M0_DTYPE else scale
    if raw.dtype == torch.uint8:
        return torch.exp2(raw.to(torch.float32) - 127.0)
    return scale.to(torch.float32)


# ---------------------------------------------------------------------------------------------
# FP8 e4m3, 128x128 blocks


def _pad_to(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    return torch.nn.functional.pad(x, (0, cols - x.shape[-1], 0, rows - x.shape[-2]))


def quantize_fp8(weight: torch.Tensor, block: int = FP8_BLOCK) -> tuple[torch.Tensor, ...]:
    """(N, K) float -> (N, K) e4m3 and (ceil(N/b), ceil(K/b)) E8M0 scales, as the release does."""
    n, k = weight.shape
    nb, kb = -(-n // block), -(-k // block)
    w = _pad_to(weight.float(), nb * block, kb * block).view(nb, block, kb, block)
    scale = _pow2_scale(w.abs().amax(dim=(1, 3)), FP8_MAX)  # (nb, kb)
    q = (w / scale[:, None, :, None]).clamp(-FP8_MAX, FP8_MAX).to(FP8_DTYPE)
    return q.view(nb * block, kb * block)[:n, :k].contiguous(), to_e8m0(scale)


def dequantize_fp8(q: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype = torch.float32,
                   block: int = FP8_BLOCK) -> torch.Tensor:
    """Inverse of `quantize_fp8`: e4m3 values times their block's power-of-two scale."""
    n, k = q.shape
    if scale.shape != (-(-n // block), -(-k // block)):
        raise ValueError(f"scale grid {tuple(scale.shape)} does not fit {n}x{k} in {block} blocks")
    s = from_e8m0(scale).repeat_interleave(block, 0).repeat_interleave(block, 1)[:n, :k]
    return (q.to(torch.float32) * s).to(dtype)


# ---------------------------------------------------------------------------------------------
# FP4 e2m1, two per byte, one scale per 32 values along K


def _fp4_encode(x: torch.Tensor) -> torch.Tensor:
    """fp32 values already scaled into [-6, 6] -> 4-bit codes (nearest; ties to the smaller)."""
    grid = torch.tensor(FP4_VALUES[:8], dtype=torch.float32)
    mag = x.abs().clamp(max=FP4_MAX)
    code = (mag.unsqueeze(-1) - grid).abs().argmin(dim=-1)  # the smaller on ties
    sign = (x < 0) & (code > 0)
    return (code | (sign.to(torch.long) << 3)).to(torch.uint8)


def quantize_fp4(weight: torch.Tensor, group: int = FP4_GROUP) -> tuple[torch.Tensor, ...]:
    """(N, K) float -> (N, K/2) int8 packed e2m1 (low nibble = even column), (N, K/g) E8M0."""
    n, k = weight.shape
    if k % group:
        raise ValueError(f"FP4 needs the input dimension ({k}) to be a multiple of {group}")
    w = weight.float().view(n, k // group, group)
    scale = _pow2_scale(w.abs().amax(dim=-1), FP4_MAX)  # (n, k/g)
    codes = _fp4_encode(w / scale[..., None]).view(n, k)
    packed = codes[:, 0::2] | (codes[:, 1::2] << 4)
    return packed.view(torch.int8), to_e8m0(scale)


def unpack_fp4(packed: torch.Tensor) -> torch.Tensor:
    """(..., K/2) packed bytes -> (..., K) fp32 e2m1 values (unscaled)."""
    lut = torch.tensor(FP4_VALUES, dtype=torch.float32)
    u8 = packed.contiguous().view(torch.uint8).to(torch.long)
    pairs = torch.stack([lut[u8 & 0xF], lut[u8 >> 4]], dim=-1)
    return pairs.reshape(*packed.shape[:-1], 2 * packed.shape[-1])


def dequantize_fp4(packed: torch.Tensor, scale: torch.Tensor,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Inverse of `quantize_fp4`."""
    values = unpack_fp4(packed)
    group = values.shape[-1] // scale.shape[-1]
    return (values * from_e8m0(scale).repeat_interleave(group, dim=-1)).to(dtype)


# ---------------------------------------------------------------------------------------------
# Whole state dicts


def encode_tensor(name: str, tensor: torch.Tensor, quantized: bool = True) -> dict:
    """One official tensor in full precision -> the stored tensor(s) (`.scale` beside FP8/FP4)."""
    kind = storage_kind(name, quantized)
    stem = name.removesuffix(".weight")
    if kind == FP8:
        q, s = quantize_fp8(tensor)
        return {name: q, f"{stem}.scale": s}
    if kind == FP4:
        q, s = quantize_fp4(tensor)
        return {name: q, f"{stem}.scale": s}
    target = {I64: torch.int64, F32: torch.float32, BF16: torch.bfloat16}[kind]
    return {name: tensor.to(target).contiguous()}


def decode_tensors(stored: dict, dtype: torch.dtype = torch.float32) -> dict:
    """Stored tensors (official names, `.scale` companions) -> full-precision tensors by name."""
    out = {}
    for name, tensor in stored.items():
        if name.endswith(".scale") and f"{name[:-6]}.weight" in stored:
            continue
        scale = stored.get(f"{name.removesuffix('.weight')}.scale") if name.endswith(
            ".weight") else None
        if scale is None:
            out[name] = tensor if not tensor.is_floating_point() else tensor.to(dtype)
        elif tensor.dtype == torch.int8:
            out[name] = dequantize_fp4(tensor, scale, dtype)
        else:
            out[name] = dequantize_fp8(tensor, scale, dtype)
    return out


# ---------------------------------------------------------------------------------------------
# transformers names -> official names

_LAYER_RENAMES = [
    (r"self_attn\.compressor\.indexer\.scorer\.weights_proj\.", "attn.indexer.weights_proj."),
    (r"self_attn\.compressor\.indexer\.q_b_proj\.", "attn.indexer.wq_b."),
    (r"self_attn\.compressor\.indexer\.", "attn.indexer.compressor."),
    (r"self_attn\.compressor\.", "attn.compressor."),
    (r"self_attn\.q_a_proj\.", "attn.wq_a."),
    (r"self_attn\.q_a_norm\.", "attn.q_norm."),
    (r"self_attn\.q_b_proj\.", "attn.wq_b."),
    (r"self_attn\.kv_proj\.", "attn.wkv."),
    (r"self_attn\.o_a_proj\.", "attn.wo_a."),
    (r"self_attn\.o_b_proj\.", "attn.wo_b."),
    (r"self_attn\.sinks$", "attn.attn_sink"),
    (r"self_attn\.", "attn."),
    (r"mlp\.gate\.e_score_correction_bias$", "ffn.gate.bias"),
    (r"mlp\.shared_experts\.gate_proj\.", "ffn.shared_experts.w1."),
    (r"mlp\.shared_experts\.up_proj\.", "ffn.shared_experts.w3."),
    (r"mlp\.shared_experts\.down_proj\.", "ffn.shared_experts.w2."),
    (r"mlp\.", "ffn."),
    (r"input_layernorm\.", "attn_norm."),
    (r"post_attention_layernorm\.", "ffn_norm."),
    (r"attn_hc\.(fn|base|scale)$", r"hc_attn_\1"),
    (r"ffn_hc\.(fn|base|scale)$", r"hc_ffn_\1"),
]
# Inside a compressor (main or indexer) the leaf names differ too.
_COMPRESSOR_LEAVES = [
    (r"(compressor\.)kv_proj\.", r"\1wkv."),
    (r"(compressor\.)gate_proj\.", r"\1wgate."),
    (r"(compressor\.)kv_norm\.", r"\1norm."),
    (r"(compressor\.)position_bias$", r"\1ape"),
]
_TOP_LEVEL = {
    "model.embed_tokens.weight": "embed.weight",
    "lm_head.weight": "head.weight",
    "model.norm.weight": "norm.weight",
    "model.hc_head.hc_fn": "hc_head_fn",
    "model.hc_head.hc_base": "hc_head_base",
    "model.hc_head.hc_scale": "hc_head_scale",
}


def official_name(hf_name: str) -> str:
    """One transformers DeepseekV4ForCausalLM parameter name -> its official checkpoint name."""
    if hf_name in _TOP_LEVEL:
        return _TOP_LEVEL[hf_name]
    match = re.match(r"model\.layers\.(\d+)\.(.+)$", hf_name)
    if match is None:
        raise KeyError(f"not a DeepseekV4 parameter name: {hf_name}")
    rest = match.group(2)
    for pattern, repl in _LAYER_RENAMES:
        new = re.sub(pattern, repl, rest, count=1)
        if new != rest:
            rest = new
            break
    for pattern, repl in _COMPRESSOR_LEAVES:
        rest = re.sub(pattern, repl, rest, count=1)
    return f"layers.{match.group(1)}.{rest}"


def hf_to_official(state: dict) -> dict:
    """A DeepseekV4ForCausalLM state dict -> official names; 3-D experts split per expert."""
    out = {}
    for name, tensor in state.items():
        if name.endswith("mlp.experts.gate_up_proj"):
            prefix = official_name(name.replace("gate_up_proj", "x"))[: -len("x")]
            gate, up = tensor.chunk(2, dim=1)  # (E, I, H) each: w1 then w3
            for e in range(tensor.shape[0]):
                out[f"{prefix}{e}.w1.weight"] = gate[e]
                out[f"{prefix}{e}.w3.weight"] = up[e]
        elif name.endswith("mlp.experts.down_proj"):
            prefix = official_name(name.replace("down_proj", "x"))[: -len("x")]
            for e in range(tensor.shape[0]):
                out[f"{prefix}{e}.w2.weight"] = tensor[e]
        else:
            out[official_name(name)] = tensor
    return out
