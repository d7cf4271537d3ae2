"""The FP8 and W4A16 Triton kernels against torch, on CPU through Triton's interpreter.

TRITON_INTERPRET=1 must be set before the kernels are decorated, so it is set at import, before
engine.kernels.triton_matmul is imported (lazily, inside the tests)."""
from __future__ import annotations

import importlib.util
import os

import pytest
import torch

from engine.deepseek_v4 import format as v4_format

pytestmark = pytest.mark.skipif(importlib.util.find_spec("triton") is None,
                                reason="triton is not installed")
os.environ["TRITON_INTERPRET"] = "1"
BF16_TOL = 1.6e-2  # one bf16 ulp, relative to the output's scale


@pytest.mark.parametrize("m,n,k", [(1, 200, 256), (5, 128, 384), (17, 64, 128), (0, 128, 128)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fp8_linear_matches_dequantize_then_matmul(m, n, k, dtype):
    from engine.kernels import triton_matmul

    gen = torch.Generator().manual_seed(m + n)
    q, s = v4_format.quantize_fp8(torch.randn(n, k, generator=gen))
    x = torch.randn(m, k, generator=gen).to(dtype)
    got = triton_matmul.fp8_linear(x, q.view(torch.uint8), s.view(torch.uint8))
    want = x.float() @ v4_format.dequantize_fp8(q, s).T
    assert got.shape == (m, n) and got.dtype == dtype
    if m:
        tol = 1e-5 if dtype == torch.float32 else BF16_TOL
        assert (got.float() - want).abs().max().item() <= tol * max(1.0, want.abs().max().item())


@pytest.mark.parametrize("m,n,k", [(1, 96, 256), (4, 64, 64), (20, 33, 128)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_w4a16_linear_matches_dequantize_then_matmul(m, n, k, dtype):
    from engine.kernels import triton_matmul

    gen = torch.Generator().manual_seed(m * n)
    packed, scale = v4_format.quantize_fp4(torch.randn(n, k, generator=gen))
    x = torch.randn(m, k, generator=gen).to(dtype)
    got = triton_matmul.fp4_linear(x, packed.view(torch.uint8), scale.view(torch.uint8))
    want = x.float() @ v4_format.dequantize_fp4(packed, scale).T
    tol = 1e-5 if dtype == torch.float32 else BF16_TOL
    assert (got.float() - want).abs().max().item() <= tol * max(1.0, want.abs().max().item())


def test_fp4_experts_module_runs_on_the_triton_path():
    from engine.deepseek_v4.native.modules import Fp4Experts

    gen = torch.Generator().manual_seed(3)
    experts = Fp4Experts(4, 64, 32, limit=10.0, dtype=torch.float32)
    for e in range(4):
        for name, (n, k) in {"gate_up": (64, 64), "down": (64, 32)}.items():
            q, s = v4_format.quantize_fp4(torch.randn(n, k, generator=gen))
            getattr(experts, name)[e].copy_(q)
            getattr(experts, f"{name}_scale")[e].copy_(s)
    x = torch.randn(5, 64, generator=gen)
    index = torch.tensor([[0, 2], [1, 2], [3, 3], [0, 1], [2, 0]])
    weights = torch.rand(5, 2, generator=gen)
    want = experts(x, index, weights)
    experts.backend = "triton"
    got = experts(x, index, weights)
    assert (got - want).abs().max().item() <= 1e-5 * max(1.0, want.abs().max().item())
