"""Which decode weights the fast Llama path uses when the user names none: chosen per CPU.

Why: one-token decode of the embedded default is bound by the bytes it reads per token
(540 MB of fp32 weights), so the default packs smaller copies for fbgemm (engine/llama/fast.py)
where this CPU runs fbgemm's kernels, and keeps exact fp32 where it does not. The choice is made
at run time from what torch itself dispatches on (`torch.backends.cpu.get_cpu_capability()`,
the quantized engines this build has) plus /proc/cpuinfo for VNNI, never at build time, so one
install runs on AVX2-only EPYCs, AVX-512 EPYCs and Sapphire Rapids alike. `CpuFeatures` can be
built by hand so a test can pose as a CPU this machine is not.

The modes themselves and how close they stay to fp32 are measured by `python -m engine.bench
generate` (greedy match with fp32 over 64 tokens, held-out perplexity) and recorded in
bench/RESULTS_DECODE.md; "fp32" stays available as the exact reference.

Does not know: how the weights are packed or run (engine/llama/fast.py), loading options.
"""
from __future__ import annotations

from dataclasses import dataclass

EXACT = "fp32"  # the exact reference: no packed decode weights
DEFAULT_PACKED = "fp16-cpu"  # what a CPU with fbgemm's AVX2 kernels gets by default
_FBGEMM_LEVELS = ("AVX2", "AVX512", "AVX512_BF16", "AMX")  # fbgemm needs AVX2 + FMA + F16C


@dataclass(frozen=True)
class CpuFeatures:
    capability: str  # torch.backends.cpu.get_cpu_capability(): "DEFAULT", "AVX2", "AVX512", ...
    engines: tuple[str, ...]  # torch.backends.quantized.supported_engines
    flags: frozenset[str]  # /proc/cpuinfo flags (empty where there is none)

    @property
    def fbgemm(self) -> bool:
        """fbgemm is built in and this CPU runs its kernels (x86 with AVX2, FMA and F16C)."""
        if "fbgemm" not in self.engines or self.capability.upper() not in _FBGEMM_LEVELS:
            return False
        return not self.flags or {"avx2", "fma", "f16c"} <= self.flags

    @property
    def vnni(self) -> bool:
        """int8 dot products accumulate in int32 (no int16 saturation): full 8-bit activations."""
        return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & self.flags)


def probe() -> CpuFeatures:
    """This machine's features, as torch and the kernel report them."""
    import torch

    return CpuFeatures(capability=torch.backends.cpu.get_cpu_capability(),
                       engines=tuple(torch.backends.quantized.supported_engines),
                       flags=_cpuinfo_flags())


def default_decode_mode(features: CpuFeatures | None = None) -> str | None:
    """The decode mode a Llama-family model on this CPU gets by default (None: exact fp32)."""
    features = features or probe()
    return DEFAULT_PACKED if features.fbgemm else None


def _cpuinfo_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            line = next((line for line in info if line.startswith("flags")), "")
    except OSError:
        return frozenset()
    return frozenset(line.partition(":")[2].split())
