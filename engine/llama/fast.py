"""A compact inference forward for Llama-family models on CPU, over a loaded transformers model.

Why: decoding the embedded default through transformers spends its time on Python (module calls,
cache bookkeeping, masks, per-step `torch.cat` of the KV cache) and on reading 540 MB of fp32
weights per token. This module runs the same math with structure instead (gpt-fast's shape): a
preallocated static KV cache written in place, fused QKV and gate/up projections, RoPE tables
computed once, one plain function per step, `inference_mode`. In fp32 it reproduces transformers'
greedy tokens (tests/engine/test_llama_fast.py holds it to that).

The weights are the transformers model's own: fused QKV and gate/up tensors are built once and the
model's `nn.Linear` weights become views into them, so the generic path and this one read the
same memory and no tensor is held twice (the memory-mapped pages they were loaded from become
plain page cache). Optional reduced-precision decode (`LoadOptions.quantization`,
engine/loading.py) packs extra copies for fbgemm through torch's quantized ops:
- "fp16-cpu": fp16 weights, fp32 activations and accumulation (fbgemm `linear_dynamic_fp16`);
  half the bytes per token, logits within ~0.03 of fp32 (same greedy tokens in our runs).
- "int8-cpu": int8 per-output-channel weights with activations quantized to 8 bits per call
  (fbgemm `linear_dynamic`, reduce_range for CPUs without VNNI); a quarter of the bytes,
  logits off by up to ~3.5 on the embedded default (top-1 kept on ~98% of steps), so greedy
  text drifts from the fp32 text after some tokens.
Prefill always runs in fp32 (large matmuls are compute-bound, and the prompt stays exact); only
one-token decode steps use the packed weights. With no mode named, the loader packs the one
engine/placement/cpu_decode.py picks for this CPU: "fp16-cpu" wherever fbgemm runs (its greedy
text equals fp32's over 64 tokens on the bench prompts; bench/RESULTS_DECODE.md), "fp32" the
exact reference.
torch's weight-only `_weight_int8pack_mm` and `_weight_int4pack_mm_for_cpu` exist in torch 2.13
but measured 2-15x slower than fp32 here.

Does not know: tokenizers, sampling, streaming or cancellation (engine/generation.py), loading.
"""
from __future__ import annotations

import copy
import threading
import warnings
import weakref
from dataclasses import dataclass

FAST_MODEL_TYPES = ("llama", "mistral", "qwen2")
DECODE_MODES = ("fp16-cpu", "int8-cpu")
_ROPE_TYPES = ("default", "linear", "llama3", "yarn")
_CAPACITY_STEP = 512  # KV buffers grow in these steps, never per token
_REGISTRY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def unsupported_reason(model) -> str | None:
    """Why `model` cannot take the fast path (None when it can)."""
    from torch import nn

    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type not in FAST_MODEL_TYPES:
        return f"model_type {model_type!r} is not one of {', '.join(FAST_MODEL_TYPES)}"
    if hasattr(model, "peft_config") or getattr(model, "quantization_config", None) is not None \
            or getattr(config, "quantization_config", None) is not None:
        return "adapters or bitsandbytes layers are attached"
    if any(v in ("disk", "meta") for v in (getattr(model, "hf_device_map", None) or {}).values()):
        return "part of the model is offloaded"
    params = list(model.parameters())
    if not params or any(p.device.type != "cpu" for p in params):
        return "the fast path runs on CPU only"
    if not params[0].is_floating_point() or any(p.dtype != params[0].dtype for p in params):
        return "mixed or non-float parameter dtypes"
    types = getattr(config, "layer_types", None)
    sliding = (any(t != "full_attention" for t in types) if types is not None
               else getattr(config, "sliding_window", None) is not None)
    if sliding:
        return "sliding-window attention"
    rope = (getattr(config, "rope_parameters", None) or {}).get("rope_type", "default")
    if rope not in _ROPE_TYPES:
        return f"rope type {rope!r}"
    if getattr(config, "hidden_act", None) != "silu" or getattr(config, "pretraining_tp", 1) != 1:
        return "activation other than SiLU or tensor-parallel pretraining layout"
    inner = getattr(model, "model", None)
    for layer in getattr(inner, "layers", None) or [None]:
        attn, mlp = getattr(layer, "self_attn", None), getattr(layer, "mlp", None)
        linears = [getattr(attn, n, None) for n in ("q_proj", "k_proj", "v_proj", "o_proj")] + \
                  [getattr(mlp, n, None) for n in ("gate_proj", "up_proj", "down_proj")]
        if any(type(m) is not nn.Linear for m in linears):
            return "a projection is not a plain nn.Linear"
        if any(hasattr(attn, n) for n in ("q_norm", "k_norm")):
            return "per-head q/k norms"
    if type(getattr(model, "lm_head", None)) is not nn.Linear:
        return "the output head is not a plain nn.Linear"
    return None


def fast_model(model) -> "FastLlama | None":
    """The fast forward for `model` if it takes the fast path, else None (the one dispatch test).

    Built once per model and kept while the model lives; rebuilt when the model's weights were
    replaced (a new tensor in any projection) since it was built."""
    if unsupported_reason(model) is not None:
        return None
    with _REGISTRY_LOCK:
        fast = _REGISTRY.get(model)
        if fast is None or not fast.matches(model):
            mode = fast.decode_mode if fast is not None else None
            fast = FastLlama(model, mode)
            _REGISTRY[model] = fast
        return fast


def apply_fast_decode(model, mode: str | None) -> "FastLlama":
    """Prepare the fast path for `model` with decode weights in `mode` (None, or DECODE_MODES).

    Raises ValueError (with the reason) for a model the fast path cannot run, or a CPU without
    fbgemm for the packed modes."""
    if mode is not None and mode not in DECODE_MODES:
        raise ValueError(f"decode mode must be one of {', '.join(DECODE_MODES)}, not {mode!r}")
    reason = unsupported_reason(model)
    if reason is not None:
        raise ValueError(f"{mode or 'the fast path'} needs a Llama-family model on CPU: {reason}")
    dtype = next(model.parameters()).dtype
    if mode is not None and str(dtype) != "torch.float32":
        raise ValueError(f"{mode} packs float32 weights; this model is {dtype}")
    with _REGISTRY_LOCK:
        fast = _REGISTRY.get(model)
        fast = (fast.repacked(mode) if fast is not None and fast.matches(model)
                else FastLlama(model, mode))
        _REGISTRY[model] = fast
    return fast


@dataclass
class KVCache:
    """Preallocated keys/values for every layer; `length` positions are filled."""

    k: object  # (L, KV, C, D)
    v: object  # (L, KV, C, D)
    cos: object  # (C, D)
    sin: object  # (C, D), first half negated: rotate_half folded into the table
    length: int = 0

    @property
    def capacity(self) -> int:
        return self.k.shape[2]


class FastLlama:
    """Fused weights + the forward; `new_cache`, `prefill` and `decode` are the whole API."""

    def __init__(self, model, decode_mode: str | None = None):
        import torch

        config = model.config
        self.model_ref = weakref.ref(model)
        self.decode_mode = decode_mode
        self.dtype = next(model.parameters()).dtype
        self.hidden = config.hidden_size
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or self.hidden // self.heads
        self.window = getattr(config, "max_position_embeddings", None) or 1 << 20
        inner = model.model
        self.rotary = inner.rotary_emb
        self.embed = inner.embed_tokens.weight  # (V, H)
        self.eps = inner.norm.variance_epsilon
        self.norm = inner.norm.weight
        self.lm_head = (model.lm_head.weight, model.lm_head.bias)
        with torch.no_grad():
            self.layers = [self._fuse(layer) for layer in inner.layers]
        self._pointers = self._weight_pointers(model)
        self.decode_linears = (self._pack(decode_mode) if decode_mode is not None else None)
        self._spare: KVCache | None = None
        self._spare_lock = threading.Lock()

    @staticmethod
    def _weight_pointers(model) -> tuple[int, ...]:
        return tuple(p.data_ptr() for p in model.parameters())

    def matches(self, model) -> bool:
        """True while `model` still holds the very tensors this forward reads."""
        return self.model_ref() is model and self._weight_pointers(model) == self._pointers

    def repacked(self, mode: str | None) -> "FastLlama":
        """The same fused weights with decode weights packed for `mode` (None: fp32)."""
        if mode == self.decode_mode:
            return self
        other = copy.copy(self)
        other.decode_mode = mode
        other.decode_linears = self._pack(mode) if mode is not None else None
        other._spare, other._spare_lock = None, threading.Lock()
        return other

    def _fuse(self, layer) -> dict:
        """Concatenate q/k/v and gate/up; the model's Linear weights become views of the result."""
        import torch

        attn, mlp = layer.self_attn, layer.mlp
        qkv = _fused_linear(torch, (attn.q_proj, attn.k_proj, attn.v_proj))
        gate_up = _fused_linear(torch, (mlp.gate_proj, mlp.up_proj))
        return {"ln1": layer.input_layernorm.weight, "qkv": qkv,
                "o": (attn.o_proj.weight, attn.o_proj.bias),
                "ln2": layer.post_attention_layernorm.weight, "gate_up": gate_up,
                "down": (mlp.down_proj.weight, mlp.down_proj.bias)}

    def _pack(self, mode: str) -> list:
        """Per layer (qkv, o, gate_up, down) packed for fbgemm, then the output head last."""
        import torch

        if "fbgemm" not in torch.backends.quantized.supported_engines:
            raise ValueError(f"{mode} needs torch's fbgemm kernels (x86 CPUs); this build has "
                             f"{', '.join(torch.backends.quantized.supported_engines)}")
        pack = _pack_fp16 if mode == "fp16-cpu" else _pack_int8
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # quantized tensors: deprecation notice
            packed = [tuple(pack(torch, *layer[n]) for n in ("qkv", "o", "gate_up", "down"))
                      for layer in self.layers]
            packed.append(pack(torch, *self.lm_head))
        return packed

    def new_cache(self, tokens: int) -> KVCache:
        """A cache for `tokens` positions: the spare one when it is free and large enough."""
        import torch

        need = min(self.window, -(-max(tokens, 1) // _CAPACITY_STEP) * _CAPACITY_STEP)
        with self._spare_lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.capacity >= need:
            spare.length = 0
            return spare
        del spare
        shape = (len(self.layers), self.kv_heads, need, self.head_dim)
        with torch.inference_mode():
            ids = torch.arange(need).unsqueeze(0)  # (1, C)
            probe = torch.empty(1, dtype=self.dtype)
            cos, sin = self.rotary(probe, ids)  # (1, C, D) each, transformers' own tables
            sin = sin[0].clone()
            sin[:, : self.head_dim // 2].neg_()
            return KVCache(torch.empty(shape, dtype=self.dtype),
                           torch.empty(shape, dtype=self.dtype), cos[0].contiguous(), sin)

    def adopt(self, dynamic, cache: KVCache) -> None:
        """Copy a transformers DynamicCache (e.g. a stored prefix plus the rest of a prompt)
        into `cache`, which then continues from its length."""
        length = dynamic.get_seq_length()
        if length > cache.capacity:
            raise ValueError(f"KV cache holds {cache.capacity} positions, {length} needed")
        for i, layer in enumerate(dynamic.layers):
            cache.k[i, :, :length].copy_(layer.keys[0])  # (KV, T, D)
            cache.v[i, :, :length].copy_(layer.values[0])
        cache.length = length

    def release(self, cache: KVCache) -> None:
        """Give a finished generation's cache back for the next one to reuse."""
        with self._spare_lock:
            if self._spare is None or self._spare.capacity < cache.capacity:
                self._spare = cache

    def prefill(self, ids, cache: KVCache, chunk: int = 1024, cancel=None):
        """Append `ids` (T,) to the cache in chunks; last-position logits (V,), or None if
        `cancel` was set between chunks."""
        from engine.events import run_to_end

        return run_to_end(self.prefill_steps(ids, cache, chunk, cancel))

    def prefill_steps(self, ids, cache: KVCache, chunk: int = 1024, cancel=None):
        """`prefill`, yielding the cache's length after each chunk; returns the logits."""
        logits = None
        for start in range(0, ids.shape[0], chunk):
            if cancel is not None and cancel.is_set():
                return None
            logits = self.forward(ids[start:start + chunk], cache)
            yield cache.length
        return logits

    def decode(self, token, cache: KVCache):
        """One token id tensor (1,) in, next-token logits (V,) out."""
        return self.forward(token, cache)

    def forward(self, ids, cache: KVCache):
        """Run ids (T,) at positions cache.length.. and return the last position's logits (V,)."""
        import torch
        import torch.nn.functional as F

        T, start = ids.shape[0], cache.length
        end = start + T
        if end > cache.capacity:
            raise ValueError(f"KV cache holds {cache.capacity} positions, {end} needed")
        packed = self.decode_linears if T == 1 else None
        H, NH, KV, D = self.hidden, self.heads, self.kv_heads, self.head_dim
        eps, norm_shape, scale = self.eps, (H,), self.head_dim ** -0.5
        cos, sin = cache.cos[start:end, None], cache.sin[start:end, None]  # (T, 1, D)
        if T == 1:
            mask, causal = None, False
        elif start == 0:
            mask, causal = None, True
        else:
            rows = torch.arange(start, end).unsqueeze(1)  # (T, 1)
            mask, causal = torch.arange(end).unsqueeze(0) <= rows, False  # (T, end)
        with torch.inference_mode():
            x = F.embedding(ids, self.embed)  # (T, H)
            for i, layer in enumerate(self.layers):
                h = F.rms_norm(x, norm_shape, layer["ln1"], eps)
                qkv = (packed[i][0](h) if packed else F.linear(h, *layer["qkv"]))
                qkv = qkv.view(T, NH + 2 * KV, D)
                qk = qkv[:, :NH + KV]  # (T, NH+KV, D)
                flipped = qk.unflatten(-1, (2, D // 2)).flip(-2).flatten(-2)
                qk = qk * cos + flipped * sin  # RoPE on queries and keys at once
                cache.k[i, :, start:end].copy_(qk[:, NH:].transpose(0, 1))
                cache.v[i, :, start:end].copy_(qkv[:, NH + KV:].transpose(0, 1))
                if T == 1:
                    att = _decode_attention(qk[0, :NH], cache.k[i, :, :end],
                                            cache.v[i, :, :end], scale)  # (1, NH * D)
                else:
                    keys, values = cache.k[i, None, :, :end], cache.v[i, None, :, :end]
                    q = qk[:, :NH].transpose(0, 1).unsqueeze(0)  # (1, NH, T, D)
                    att = F.scaled_dot_product_attention(  # 4-D + GQA: CPU flash kernel
                        q, keys, values, attn_mask=mask, is_causal=causal, enable_gqa=True)
                    att = att[0].transpose(0, 1).reshape(T, NH * D)
                x = x + (packed[i][1](att) if packed else F.linear(att, *layer["o"]))
                h = F.rms_norm(x, norm_shape, layer["ln2"], eps)
                gu = packed[i][2](h) if packed else F.linear(h, *layer["gate_up"])
                gate, up = gu.chunk(2, dim=-1)
                act = F.silu(gate) * up  # (T, I)
                x = x + (packed[i][3](act) if packed else F.linear(act, *layer["down"]))
            cache.length = end
            last = F.rms_norm(x[-1:], norm_shape, self.norm, eps)  # (1, H)
            logits = packed[-1](last) if packed else F.linear(last, *self.lm_head)
        return logits[0]


def _decode_attention(q, keys, values, scale: float):
    """One query position over the cache, grouped by KV head: each key and value is read once
    (the flash kernel's GQA path walks a KV head once per query head of its group).

    q (NH, D), keys/values (KV, S, D) -> (1, NH * D)."""
    import torch

    kv, _, dim = keys.shape
    grouped = q.view(kv, -1, dim) * scale  # (KV, G, D)
    scores = torch.bmm(grouped, keys.transpose(1, 2))  # (KV, G, S)
    return torch.bmm(torch.softmax(scores, dim=-1), values).view(1, -1)  # (KV, G, D) -> flat


def _fused_linear(torch, linears) -> tuple:
    """One (weight, bias) for several Linears over the same input; theirs become views of it."""
    weight = torch.cat([m.weight.data for m in linears])  # (sum N, K)
    has_bias = [m.bias is not None for m in linears]
    bias = None
    if any(has_bias):
        bias = torch.cat([m.bias.data if m.bias is not None else
                          torch.zeros(m.out_features, dtype=weight.dtype) for m in linears])
    row = 0
    for m in linears:
        n = m.out_features
        m.weight.data = weight[row:row + n]
        if m.bias is not None:
            m.bias.data = bias[row:row + n]
        row += n
    return weight, bias


def _pack_fp16(torch, weight, bias):
    packed = torch.ops.quantized.linear_prepack_fp16(weight.float(), _f32(bias))
    return lambda x: torch.ops.quantized.linear_dynamic_fp16(x, packed)


def _pack_int8(torch, weight, bias):
    weight = weight.float()
    scales = (weight.abs().amax(dim=1).clamp(min=1e-12) / 127).double()  # (N,)
    zeros = torch.zeros(weight.shape[0], dtype=torch.long)
    qweight = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
    packed = torch.ops.quantized.linear_prepack(qweight, _f32(bias))
    reduce = not _has_vnni()  # 7-bit activations where u8*s8 pair sums could saturate int16
    return lambda x: torch.ops.quantized.linear_dynamic(x, packed, reduce)


def _f32(bias):
    return None if bias is None else bias.float()


def _has_vnni() -> bool:
    """Whether the CPU has VNNI (int8 dot products accumulate in int32, no int16 saturation)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags
