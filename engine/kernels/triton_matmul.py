"""Triton matmuls that read V4's stored weights directly: FP8 block-scaled and W4A16 (FP4 e2m1).

Why: at batch 1 a decode step is weight-bandwidth bound (ENGINE_ANCHORS.md section 4), so the
fastest weight is the smallest one read once: these kernels load the e4m3 bytes (1 B/weight +
1/16384 B of scale) or the packed e2m1 nibbles (0.5 B/weight + 1/32 B of scale), decode them in
registers and feed `tl.dot` with the activations' dtype (bf16 on the fast path; fp32 runs with
"ieee" precision so results match the torch reference). No dequantized weight is ever written.

Decoding is done with integer ops on the raw bytes, not with a hardware fp8 type, so the same
kernels run on any CUDA GPU and under TRITON_INTERPRET=1 on CPU (how the tests check them).
The interpreter multiplies bf16 `tl.dot` operands as raw bits, so there (only) the dot runs
in fp32 on the same bf16 values.
- `fp8_linear(x (M, K), w (N, K) uint8 e4m3, s (ceil(N/128), ceil(K/128)) uint8 e8m0)`
- `fp4_linear(x (M, K), w (N, K/2) uint8 packed, s (N, K/32) uint8 e8m0)`
Both return (M, N) in x's dtype. Does not know modules or models (modules.py calls these).
"""
from __future__ import annotations

import os

import torch
import triton
import triton.language as tl


@triton.jit
def _e8m0(s):
    """E8M0 bytes (as int32) -> fp32 powers of two (2^(s-127)); s=0 maps to 0."""
    return (s << 23).to(tl.float32, bitcast=True)


@triton.jit
def _e4m3(b):
    """e4m3 bytes (as int32) -> fp32: 2^(e-7)(1+m/8), subnormals 2^-6 m/8, sign in bit 7."""
    e = (b >> 3) & 0xF
    m = b & 0x7
    normal = (((e + 120) << 23) | (m << 20)).to(tl.float32, bitcast=True)
    mag = tl.where(e == 0, m.to(tl.float32) * 0.001953125, normal)
    return tl.where((b & 0x80) != 0, -mag, mag)


@triton.jit
def _e2m1(c):
    """4-bit e2m1 codes (int32) -> fp32: 0, 0.5, 1, 1.5, 2, 3, 4, 6; sign in bit 3."""
    e = (c >> 1) & 0x3
    m = c & 0x1
    normal = (((e + 126) << 23) | (m << 22)).to(tl.float32, bitcast=True)
    mag = tl.where(e == 0, m.to(tl.float32) * 0.5, normal)
    return tl.where((c & 0x8) != 0, -mag, mag)


@triton.jit
def _fp8_kernel(x_ptr, w_ptr, s_ptr, y_ptr, M, N, K, stride_xm, stride_wn, stride_sn, stride_ym,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                IEEE: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        x = tl.load(x_ptr + rm[:, None] * stride_xm + rk[None, :],
                    mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)  # (BM, BK)
        wb = tl.load(w_ptr + rn[:, None] * stride_wn + rk[None, :],
                     mask=(rn[:, None] < N) & (rk[None, :] < K), other=0)  # (BN, BK) bytes
        s = tl.load(s_ptr + (rn // 128) * stride_sn + k0 // 128, mask=rn < N, other=127)
        w = _e4m3(wb.to(tl.int32)) * _e8m0(s.to(tl.int32))[:, None]  # exact in bf16
        if IEEE:
            acc += tl.dot(x.to(tl.float32), tl.trans(w), input_precision="ieee")
        else:
            acc += tl.dot(x, tl.trans(w.to(x.dtype)))
    tl.store(y_ptr + rm[:, None] * stride_ym + rn[None, :], acc.to(y_ptr.dtype.element_ty),
             mask=(rm[:, None] < M) & (rn[None, :] < N))


@triton.jit
def _fp4_kernel(x_ptr, w_ptr, s_ptr, y_ptr, M, N, K, stride_xm, stride_wn, stride_sn, stride_ym,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                IEEE: tl.constexpr):
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    half = K // 2
    for j0 in range(0, half, BLOCK_K // 2):
        rj = j0 + tl.arange(0, BLOCK_K // 2)  # packed columns: inputs 2j (low) and 2j+1 (high)
        xmask = (rm[:, None] < M) & (rj[None, :] < half)
        x_lo = tl.load(x_ptr + rm[:, None] * stride_xm + 2 * rj[None, :], mask=xmask, other=0.0)
        x_hi = tl.load(x_ptr + rm[:, None] * stride_xm + 2 * rj[None, :] + 1, mask=xmask,
                       other=0.0)
        wmask = (rn[:, None] < N) & (rj[None, :] < half)
        wb = tl.load(w_ptr + rn[:, None] * stride_wn + rj[None, :], mask=wmask,
                     other=0).to(tl.int32) & 0xFF  # (BN, BK/2)
        s = tl.load(s_ptr + rn[:, None] * stride_sn + rj[None, :] // 16, mask=wmask, other=127)
        scale = _e8m0(s.to(tl.int32))
        w_lo = _e2m1(wb & 0xF) * scale
        w_hi = _e2m1(wb >> 4) * scale
        if IEEE:
            acc += tl.dot(x_lo.to(tl.float32), tl.trans(w_lo), input_precision="ieee")
            acc += tl.dot(x_hi.to(tl.float32), tl.trans(w_hi), input_precision="ieee")
        else:
            acc += tl.dot(x_lo, tl.trans(w_lo.to(x_lo.dtype)))
            acc += tl.dot(x_hi, tl.trans(w_hi.to(x_hi.dtype)))
    tl.store(y_ptr + rm[:, None] * stride_ym + rn[None, :], acc.to(y_ptr.dtype.element_ty),
             mask=(rm[:, None] < M) & (rn[None, :] < N))


def _fp32_dot(x: torch.Tensor) -> bool:
    return x.dtype == torch.float32 or os.environ.get("TRITON_INTERPRET") == "1"


def _block_m(m: int) -> int:
    return 16 if m <= 16 else 32 if m <= 32 else 64


def fp8_linear(x: torch.Tensor, weight: torch.Tensor, scale: torch.Tensor,
               block_n: int = 64, block_k: int = 128) -> torch.Tensor:
    """x (M, K) float @ e4m3 weight (N, K) bytes with 128x128 E8M0 scales -> (M, N)."""
    if 128 % block_k:
        raise ValueError("block_k must divide the 128-wide scale blocks")
    x = x.contiguous()
    weight, scale = weight.contiguous(), scale.contiguous()
    (m, k), n = x.shape, weight.shape[0]
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)
    if m == 0:
        return y
    bm = _block_m(m)
    grid = (triton.cdiv(m, bm), triton.cdiv(n, block_n))
    _fp8_kernel[grid](x, weight, scale, y, m, n, k, x.stride(0), weight.stride(0),
                      scale.stride(0), y.stride(0), BLOCK_M=bm, BLOCK_N=block_n,
                      BLOCK_K=block_k, IEEE=_fp32_dot(x))
    return y


def fp4_linear(x: torch.Tensor, packed: torch.Tensor, scale: torch.Tensor,
               block_n: int = 64, block_k: int = 64) -> torch.Tensor:
    """x (M, K) float @ packed e2m1 weight (N, K/2) bytes with per-32 E8M0 scales -> (M, N)."""
    if block_k % 32 or block_k < 32:
        raise ValueError("block_k must be a multiple of the 32-wide scale groups")
    x = x.contiguous()
    packed, scale = packed.contiguous(), scale.contiguous()
    (m, k), n = x.shape, packed.shape[0]
    y = torch.empty(m, n, dtype=x.dtype, device=x.device)
    if m == 0:
        return y
    bm = _block_m(m)
    grid = (triton.cdiv(m, bm), triton.cdiv(n, block_n))
    _fp4_kernel[grid](x, packed, scale, y, m, n, k, x.stride(0), packed.stride(0),
                      scale.stride(0), y.stride(0), BLOCK_M=bm, BLOCK_N=block_n,
                      BLOCK_K=block_k, IEEE=_fp32_dot(x))
    return y
