"""Modules that hold DeepSeek-V4 weights in the release's FP8/FP4 form and compute from them.

`Fp8BlockLinear` replaces an `nn.Linear` (or transformers' `DeepseekV4GroupedLinear`, the
block-diagonal `o_a_proj`) whose weight the release stores as e4m3 with one E8M0 scale per
128x128 block. `Fp4Experts` replaces `DeepseekV4Experts` (the 3-D routed experts): per expert,
`gate_up` is w1 then w3 stacked (2I, H/2) and `down` is w2 (H, I/2), packed e2m1 two per byte,
low nibble first, with one E8M0 scale per 32 inputs (engine/deepseek_v4/format.py owns the
encodings).

The matmuls dequantize on the fly. On CPU (torch): an FP8 weight one strip of output rows at a
time (`STRIP_ELEMENTS` bounds the temporary), an FP4 expert only when a token routes to it; the
dequantized values are exact in bf16 and fp32, and the ops mirror transformers' eager code, so
results equal a dequantize-then-load model's. On CUDA: the Triton kernels in triton_matmul.py,
which read the packed bytes and never build a dequantized weight.

Does not know: checkpoints (loader.py), routing, or where experts live
(engine/deepseek_v4/expert_offload.py overrides `Fp4Experts.packed`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.deepseek_v4 import format as v4_format

STRIP_ELEMENTS = 1 << 23  # dequantized elements per strip of an FP8 weight (16 MiB in bf16)
BACKENDS = ("torch", "triton")


def pick_backend(device: torch.device, forced: str | None) -> str:
    """Triton on CUDA when it imports, else torch; `forced` wins (tests, benchmarks)."""
    if forced is not None:
        if forced not in BACKENDS:
            raise ValueError(f"unknown backend {forced!r}; choose one of {BACKENDS}")
        return forced
    if device.type == "cuda":
        try:
            import triton  # noqa: F401
        except ImportError:
            return "torch"
        return "triton"
    return "torch"


def fp8_matmul(x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype,
               backend: str | None = None, strip: int = STRIP_ELEMENTS) -> torch.Tensor:
    """x (..., K) @ dequant(weight (N, K) e4m3, scale (N/128, K/128))^T -> (..., N) in dtype."""
    if pick_backend(weight.device, backend) == "triton":
        from engine.kernels import triton_matmul

        flat = x.reshape(-1, x.shape[-1])
        out = triton_matmul.fp8_linear(flat, weight.view(torch.uint8), scale.view(torch.uint8))
        return out.to(dtype).view(*x.shape[:-1], weight.shape[0])
    n, k = weight.shape
    x = x.to(dtype)
    rows = max(v4_format.FP8_BLOCK, (strip // k) // v4_format.FP8_BLOCK * v4_format.FP8_BLOCK)
    if rows >= n:
        return F.linear(x, v4_format.dequantize_fp8(weight, scale, dtype))
    out = x.new_empty(*x.shape[:-1], n)
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        b0, b1 = r0 // v4_format.FP8_BLOCK, -(-r1 // v4_format.FP8_BLOCK)
        w = v4_format.dequantize_fp8(weight[r0:r1], scale[b0:b1], dtype)  # (r1-r0, K)
        out[..., r0:r1] = F.linear(x, w)
    return out


def fp4_matmul(x: torch.Tensor, packed: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype,
               backend: str | None = None) -> torch.Tensor:
    """x (M, K) @ dequant(packed (N, K/2) e2m1, scale (N, K/32))^T -> (M, N) in dtype."""
    if pick_backend(packed.device, backend) == "triton":
        from engine.kernels import triton_matmul

        return triton_matmul.fp4_linear(x, packed.view(torch.uint8),
                                        scale.view(torch.uint8)).to(dtype)
    return F.linear(x.to(dtype), v4_format.dequantize_fp4(packed, scale, dtype))


class Fp8BlockLinear(nn.Module):
    """A bias-free linear whose weight stays e4m3 (N, K), E8M0 scales (ceil(N/128), ceil(K/128)).

    groups > 1 reproduces `DeepseekV4GroupedLinear`: x (..., G, K) -> (..., G, N/G), group g
    using weight rows g*N/G:(g+1)*N/G."""

    def __init__(self, in_features: int, out_features: int, groups: int = 1,
                 dtype: torch.dtype = torch.bfloat16, device=None):
        super().__init__()
        self.in_features, self.out_features, self.groups = in_features, out_features, groups
        self.compute_dtype = dtype
        self.backend: str | None = None
        nb = -(-out_features // v4_format.FP8_BLOCK)
        kb = -(-in_features // v4_format.FP8_BLOCK)
        self.register_buffer("weight", torch.empty(out_features, in_features,
                                                   dtype=v4_format.FP8_DTYPE, device=device))
        self.register_buffer("weight_scale", torch.empty(nb, kb, dtype=v4_format.E8M0_DTYPE,
                                                         device=device))

    @classmethod
    def like(cls, linear: nn.Linear, dtype: torch.dtype) -> "Fp8BlockLinear":
        """An empty module (meta tensors) shaped like `linear`, to be filled by the loader."""
        return cls(linear.in_features, linear.out_features, getattr(linear, "n_groups", 1),
                   dtype, device="meta")

    def dequantize(self) -> torch.Tensor:
        return v4_format.dequantize_fp8(self.weight, self.weight_scale, self.compute_dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return fp8_matmul(x, self.weight, self.weight_scale, self.compute_dtype,
                              self.backend)
        lead, k = x.shape[:-2], x.shape[-1]  # x: (..., G, K)
        xg = x.reshape(-1, self.groups, k).transpose(0, 1).to(self.compute_dtype)  # (G, T, K)
        per = self.out_features // self.groups
        if pick_backend(self.weight.device, self.backend) == "triton":
            ys = [fp8_matmul(xg[g], self.weight[g * per:(g + 1) * per],
                             self.weight_scale[g * per // v4_format.FP8_BLOCK:
                                               -(-(g + 1) * per // v4_format.FP8_BLOCK)],
                             self.compute_dtype, "triton") for g in range(self.groups)]
            y = torch.stack(ys)  # (G, T, N/G)
        else:  # transformers' GroupedLinear.forward on the dequantized weight
            w = self.dequantize().view(self.groups, -1, k).transpose(1, 2)  # (G, K, N/G)
            y = torch.bmm(xg, w)
        return y.transpose(0, 1).reshape(*lead, self.groups, per)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"groups={self.groups}, fp8 e4m3 + 128x128 e8m0, compute={self.compute_dtype}")


def expert_ffn(x: torch.Tensor, gate_up: torch.Tensor, gate_up_scale: torch.Tensor,
               down: torch.Tensor, down_scale: torch.Tensor, limit: float, dtype: torch.dtype,
               backend: str | None = None) -> torch.Tensor:
    """One FP4 expert on tokens x (n, H): clamped SwiGLU as transformers' `_apply_gate`."""
    h = fp4_matmul(x, gate_up, gate_up_scale, dtype, backend)  # (n, 2I)
    gate, up = h.chunk(2, dim=-1)
    act = F.silu(gate.clamp(max=limit)) * up.clamp(min=-limit, max=limit)
    return fp4_matmul(act, down, down_scale, dtype, backend)  # (n, H)


class Fp4Experts(nn.Module):
    """Routed experts kept packed: gate_up (E, 2I, H/2), down (E, H, I/2) int8 + E8M0 scales.

    Same call as `DeepseekV4Experts`: (hidden (N, H), top_k_index (N, k), top_k_weights (N, k)).
    """

    def __init__(self, num_experts: int, hidden: int, intermediate: int, limit: float,
                 dtype: torch.dtype = torch.bfloat16, device=None):
        super().__init__()
        self.num_experts, self.hidden_dim = num_experts, hidden
        self.intermediate_dim = intermediate
        self.limit = limit
        self.compute_dtype = dtype
        self.backend: str | None = None
        g = v4_format.FP4_GROUP
        shapes = {"gate_up": (2 * intermediate, hidden), "down": (hidden, intermediate)}
        for name, (n, k) in shapes.items():
            self.register_buffer(name, torch.empty(num_experts, n, k // 2, dtype=torch.int8,
                                                   device=device))
            self.register_buffer(f"{name}_scale", torch.empty(
                num_experts, n, k // g, dtype=v4_format.E8M0_DTYPE, device=device))

    @classmethod
    def like(cls, experts: nn.Module, dtype: torch.dtype) -> "Fp4Experts":
        return cls(experts.num_experts, experts.hidden_dim, experts.intermediate_dim,
                   experts.limit, dtype, device="meta")

    def expert_bytes(self) -> int:
        """Stored bytes of one expert (packed values + scales): what moving it costs."""
        return sum(t[0].numel() * t.element_size() for t in (
            self.gate_up, self.gate_up_scale, self.down, self.down_scale))

    def packed(self, expert: int) -> tuple[torch.Tensor, ...]:
        """(gate_up, gate_up_scale, down, down_scale) of one expert, where it is computed."""
        return (self.gate_up[expert], self.gate_up_scale[expert], self.down[expert],
                self.down_scale[expert])

    def dequantize(self, expert: int) -> tuple[torch.Tensor, torch.Tensor]:
        gu, gus, dn, dns = self.packed(expert)
        return (v4_format.dequantize_fp4(gu, gus, self.compute_dtype),
                v4_format.dequantize_fp4(dn, dns, self.compute_dtype))

    def run_expert(self, expert: int, x: torch.Tensor) -> torch.Tensor:
        return expert_ffn(x, *self.packed(expert), self.limit, self.compute_dtype, self.backend)

    def forward(self, hidden_states: torch.Tensor, top_k_index: torch.Tensor,
                top_k_weights: torch.Tensor) -> torch.Tensor:
        final = torch.zeros_like(hidden_states)
        if hidden_states.shape[0] == 0:
            return final
        with torch.no_grad():
            mask = F.one_hot(top_k_index, num_classes=self.num_experts).permute(2, 1, 0)
            hit = mask.sum(dim=(-1, -2)).nonzero().flatten().tolist()  # (E, k, N) -> experts
        for expert in hit:
            slot, token = torch.where(mask[expert])
            y = self.run_expert(expert, hidden_states[token])
            y = y * top_k_weights[token, slot, None]
            final.index_add_(0, token, y.to(final.dtype))
        return final

    def extra_repr(self) -> str:
        return (f"num_experts={self.num_experts}, hidden={self.hidden_dim}, "
                f"intermediate={self.intermediate_dim}, fp4 e2m1 + per-32 e8m0, "
                f"compute={self.compute_dtype}")


def resident_bytes(model: torch.nn.Module, device: str | None = None) -> int:
    """Bytes of every parameter and buffer (on `device` when given, e.g. "cpu" or "cuda:0")."""
    seen, total = set(), 0
    for tensor in [*model.parameters(), *model.buffers()]:
        if id(tensor) in seen or tensor.is_meta:
            continue
        seen.add(id(tensor))
        if device is None or str(tensor.device) == device:
            total += tensor.numel() * tensor.element_size()
    return total
