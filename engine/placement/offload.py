"""Placement of a model across GPUs, CPU RAM and disk through accelerate's `device_map`.

Why: a checkpoint larger than one device still loads when some of its decoder layers live in
host RAM or in an `offload_folder` on disk; accelerate's hooks then move each offloaded layer's
weights to the execution device for its forward pass (synchronously, the whole layer: for V4's
3-D expert tensors that is all 256 experts per token, ENGINE_ANCHORS.md section 3, which is why
expert-granular offload is separate work). This module turns the user's settings (device_map,
max_memory per device, offload_folder) into `from_pretrained` arguments, builds explicit maps
("these layers on disk"), and describes where a loaded model's weights ended up.

Does not know: which model or format is loaded (engine/loading.py, engine/deepseek_v4/reference.py)
or quantization (engine/placement/quantization.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.errors import ModelLoadError

DEVICE_MAP_STRATEGIES = ("auto", "balanced", "balanced_low_0", "sequential")


def normalize_max_memory(max_memory: dict | None) -> dict | None:
    """Settings-style keys ("0", "cuda:0", "cpu", "disk") -> accelerate's (0, "cpu", "disk")."""
    if not max_memory:
        return None
    out: dict = {}
    for key, value in max_memory.items():
        name = str(key).strip().lower()
        if name.startswith("cuda:"):
            name = name[5:]
        if name.isdigit():
            out[int(name)] = value
        elif name in ("cpu", "mps", "disk"):
            out[name] = value
        else:
            raise ModelLoadError(f"max_memory: unknown device {key!r} (use cpu, disk or a GPU id)")
    return out


def placement_kwargs(device_map=None, max_memory: dict | None = None,
                     offload_folder: str | Path | None = None) -> dict:
    """`from_pretrained` keyword arguments for a placement; {} means "one device, no hooks"."""
    kwargs: dict = {}
    memory = normalize_max_memory(max_memory)
    if memory is not None and device_map is None:
        device_map = "auto"
    if isinstance(device_map, str) and device_map not in DEVICE_MAP_STRATEGIES \
            and device_map != "cpu" and not device_map.startswith(("cuda", "mps")):
        raise ModelLoadError(f"device_map {device_map!r} is not a device or one of "
                             f"{', '.join(DEVICE_MAP_STRATEGIES)}")
    if isinstance(device_map, dict) and "disk" in device_map.values() and not offload_folder:
        raise ModelLoadError("the device map sends modules to disk: set an offload folder")
    if device_map is not None:
        kwargs["device_map"] = device_map
    if memory is not None:
        kwargs["max_memory"] = memory
    if offload_folder:
        Path(offload_folder).mkdir(parents=True, exist_ok=True)
        kwargs["offload_folder"] = str(offload_folder)
    return kwargs


def apply_offload(kwargs: dict, options) -> dict:
    """The loader's seam: extend `from_pretrained` kwargs with the options' placement."""
    kwargs.update(placement_kwargs(getattr(options, "device_map", None),
                                   getattr(options, "max_memory", None),
                                   getattr(options, "offload_folder", None)))
    return kwargs


def layer_device_map(config, layer_devices: Mapping[int, str | int], default="cpu") -> dict:
    """An explicit device map for a decoder-only model: chosen layers elsewhere (e.g. "disk").

    Built on the meta device from the config, so it costs no memory and knows the model's own
    module names (embed_tokens, layers.N, norm, lm_head, and for V4 hc_head)."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights():
        skeleton = AutoModelForCausalLM.from_config(config)
    base_name = skeleton.base_model_prefix
    base = getattr(skeleton, base_name)
    device_map: dict = {}
    for name, _ in base.named_children():
        if name == "layers":
            for i in range(len(base.layers)):
                device_map[f"{base_name}.layers.{i}"] = layer_devices.get(i, default)
        else:
            device_map[f"{base_name}.{name}"] = default
    for name, _ in skeleton.named_children():
        if name != base_name:
            device_map[name] = default
    return device_map


def offloaded_modules(model) -> dict[str, list[str]]:
    """Module names per placement from `hf_device_map` ("disk", "cpu", "cuda:0", ...)."""
    out: dict[str, list[str]] = {}
    for name, where in (getattr(model, "hf_device_map", None) or {}).items():
        key = f"cuda:{where}" if isinstance(where, int) else str(where)
        out.setdefault(key, []).append(name)
    return out


class _CastOnRead(Mapping):
    """A weights map that casts one floating dtype to another as accelerate reads it."""

    def __init__(self, inner: Mapping, source, target):
        self.inner, self.source, self.target = inner, source, target

    def __getitem__(self, key):
        value = self.inner[key]
        return value.to(self.target) if getattr(value, "dtype", None) == self.source else value

    def __iter__(self):
        return iter(self.inner)

    def __len__(self):
        return len(self.inner)


def cast_offloaded(model, source, target) -> int:
    """Make hook-managed (offloaded) weights of dtype `source` arrive as `target`; returns count.

    Needed when a checkpoint mixes dtypes (V4 keeps norms/embeddings in BF16) and the model runs
    in another dtype: in-memory tensors can be cast directly, offloaded ones only on read."""
    count = 0
    for module in model.modules():
        hook = getattr(module, "_hf_hook", None)
        for h in getattr(hook, "hooks", None) or ([hook] if hook is not None else []):
            weights = getattr(h, "weights_map", None)
            if weights is not None and getattr(h, "offload", False) \
                    and not isinstance(weights, _CastOnRead):
                h.weights_map = _CastOnRead(weights, source, target)
                count += 1
    return count


class _Override(Mapping):
    """A weights map that serves some names from memory and the rest from the offload folder."""

    def __init__(self, inner: Mapping, exact: dict):
        self.inner, self.exact = inner, exact

    def __getitem__(self, key):
        return self.exact[key] if key in self.exact else self.inner[key]

    def __iter__(self):
        return iter(self.inner)

    def __len__(self):
        return len(self.inner)


def pin_offloaded(model, exact: dict) -> int:
    """Serve offloaded tensors from `exact` ({full name: tensor}) in their own dtype.

    transformers writes disk-offloaded tensors in the load dtype, so F32 tensors a model keeps
    in fp32 (V4's mHC, sinks, position bias) arrive rounded to bf16; accelerate also casts each
    value to its meta placeholder's dtype. Both are fixed here; returns how many were pinned."""
    import torch

    pinned = 0
    for full, tensor in exact.items():
        module_name, _, leaf = full.rpartition(".")
        module = model.get_submodule(module_name)
        hook = getattr(module, "_hf_hook", None)
        hooks = getattr(hook, "hooks", None) or ([hook] if hook is not None else [])
        hooks = [h for h in hooks if getattr(h, "weights_map", None) is not None]
        if not hooks:
            continue
        current = getattr(module, leaf)
        if leaf in module._parameters:
            module._parameters[leaf] = torch.nn.Parameter(
                torch.empty_like(current, dtype=tensor.dtype, device="meta"), requires_grad=False)
        else:
            module._buffers[leaf] = torch.empty_like(current, dtype=tensor.dtype, device="meta")
        for h in hooks:
            inner = h.weights_map
            if isinstance(inner, _Override):
                inner.exact[leaf] = tensor
            else:
                h.weights_map = _Override(inner, {leaf: tensor})
        pinned += 1
    return pinned
