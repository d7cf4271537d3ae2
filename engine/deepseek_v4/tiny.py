"""Small DeepSeek-V4 checkpoints on disk, in the layout of the official Instruct release.

Why: tests and benchmarks need V4 folders that the loader treats exactly like the real
V4-Flash download (156 GB): a config.json in the official shape (`compress_ratios`,
`num_hash_layers`, top-level `expert_dtype`, an fp8 `quantization_config`), several safetensors
shards plus `model.safetensors.index.json`, official tensor names, FP8 block-scaled dense
weights, FP4 packed experts, BF16/F32 where the release keeps them, and an MTP block that
loaders drop. Weights are random (`torch.manual_seed(seed)`, transformers' own init), so only
equivalence can be tested, never quality.

A tokenizer can be borrowed (e.g. from the embedded default's converted folder): byte-level
BPE vocabularies are cut to the model's `vocab_size` by keeping the first ids and the merges
that only produce kept tokens, so every text still encodes and ids stay inside the embedding.

Does not know: how folders are loaded (engine/deepseek_v4/reference.py) or the release encodings
(engine/deepseek_v4/format.py).
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

BENCH_V4_SMALL = dict(  # DESIGN.md section 4: fixed, so results compare across time
    vocab_size=4096, hidden_size=512, moe_intermediate_size=256, num_hidden_layers=4,
    num_attention_heads=8, num_key_value_heads=1, head_dim=128, q_lora_rank=256,
    num_experts_per_tok=4, n_routed_experts=16, n_shared_experts=1, o_groups=2, o_lora_rank=128,
    index_n_heads=4, index_head_dim=64, index_topk=128, sliding_window=128, hc_mult=2,
    max_position_embeddings=1 << 20,
    layer_types=["sliding_attention", "compressed_sparse_attention",
                 "heavily_compressed_attention", "compressed_sparse_attention"],
)
# Every dimension a multiple of 128 (FP8 blocks) and of 32 (FP4 groups); YaRN like the release.
TEST_V4 = dict(
    vocab_size=1024, hidden_size=256, moe_intermediate_size=128, num_hidden_layers=4,
    num_attention_heads=2, num_key_value_heads=1, head_dim=128, q_lora_rank=128,
    num_experts_per_tok=2, n_routed_experts=8, n_shared_experts=1, o_groups=2, o_lora_rank=128,
    index_n_heads=2, index_head_dim=64, index_topk=8, sliding_window=16, hc_mult=2,
    hc_sinkhorn_iters=4, max_position_embeddings=1 << 20,
    rope_scaling={"beta_fast": 32, "beta_slow": 1, "factor": 16,
                  "original_max_position_embeddings": 65536, "type": "yarn"},
    layer_types=["sliding_attention", "compressed_sparse_attention",
                 "heavily_compressed_attention", "compressed_sparse_attention"],
)
# Tiny dimensions with the real window (128) and compression rates (4, 128): kernel and cache
# tests built in memory (no FP8 blocks needed).
WINDOW_TEST_V4 = dict(
    vocab_size=256, hidden_size=64, moe_intermediate_size=32, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=1, head_dim=64, q_lora_rank=32,
    num_experts_per_tok=2, n_routed_experts=8, n_shared_experts=1, o_groups=2, o_lora_rank=16,
    index_n_heads=2, index_head_dim=32, index_topk=8, sliding_window=128, hc_mult=2,
    max_position_embeddings=1 << 20,
    rope_scaling={"beta_fast": 32, "beta_slow": 1, "factor": 16,
                  "original_max_position_embeddings": 65536, "type": "yarn"},
    layer_types=["sliding_attention", "compressed_sparse_attention",
                 "heavily_compressed_attention", "compressed_sparse_attention"],
)
CONFIGS = {"bench-v4-small": BENCH_V4_SMALL, "test": TEST_V4}
QUANTIZATION_CONFIG = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                       "scale_fmt": "ue8m0", "weight_block_size": [128, 128]}
_RATIO = {"sliding_attention": 0, "compressed_sparse_attention": 4,
          "heavily_compressed_attention": 128}
TOKENIZER_FILES = ("tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def make_config(config: dict | object):
    """A DeepseekV4Config from kwargs (BENCH_V4_SMALL, TEST_V4, ...) or an existing config."""
    from transformers import DeepseekV4Config

    if isinstance(config, DeepseekV4Config):
        return config
    kwargs = dict(config)
    yarn = kwargs.pop("rope_scaling", None)
    if yarn:
        kwargs["rope_parameters"] = {**yarn, "rope_type": yarn.get("type", "yarn")}
    return DeepseekV4Config(**kwargs)


def official_config(cfg, quantized: bool = True) -> dict:
    """The config.json of the official release for a DeepseekV4Config (keys as DeepSeek ships)."""
    compress = cfg.rope_parameters["compress"]
    n_hash = cfg.mlp_layer_types.count("hash_moe")
    if cfg.mlp_layer_types != ["hash_moe"] * n_hash + ["moe"] * (cfg.num_hidden_layers - n_hash):
        raise ValueError("the official config can only say `num_hash_layers`: hash layers first")
    ratios = [_RATIO[t] for t in cfg.layer_types] + [0] * cfg.num_nextn_predict_layers
    out = {
        "architectures": ["DeepseekV4ForCausalLM"],
        "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": cfg.bos_token_id, "eos_token_id": cfg.eos_token_id,
    }
    if quantized:
        out["expert_dtype"] = "fp4"
    for key in ("hc_eps", "hc_mult", "hc_sinkhorn_iters", "head_dim", "hidden_act",
                "hidden_size", "index_head_dim", "index_n_heads", "index_topk",
                "initializer_range", "max_position_embeddings", "model_type",
                "moe_intermediate_size", "n_routed_experts", "n_shared_experts", "norm_topk_prob",
                "num_attention_heads", "num_experts_per_tok", "num_hidden_layers"):
        out[key] = getattr(cfg, key)
    out["num_hash_layers"] = n_hash
    for key in ("num_key_value_heads", "num_nextn_predict_layers", "o_groups", "o_lora_rank",
                "q_lora_rank", "qk_rope_head_dim"):
        out[key] = getattr(cfg, key)
    if quantized:
        out["quantization_config"] = dict(QUANTIZATION_CONFIG)
    out["rms_norm_eps"] = cfg.rms_norm_eps
    if compress.get("rope_type") == "yarn":
        out["rope_scaling"] = {k: compress[k] for k in (
            "beta_fast", "beta_slow", "factor", "original_max_position_embeddings")}
        out["rope_scaling"]["type"] = "yarn"
    out.update({
        "rope_theta": cfg.rope_parameters["main"]["rope_theta"],
        "routed_scaling_factor": cfg.routed_scaling_factor, "scoring_func": cfg.scoring_func,
        "sliding_window": cfg.sliding_window, "swiglu_limit": cfg.swiglu_limit,
        "tie_word_embeddings": False, "topk_method": "noaux_tc", "torch_dtype": "bfloat16",
        "use_cache": True, "vocab_size": cfg.vocab_size,
        "compress_rope_theta": compress["rope_theta"], "compress_ratios": ratios,
    })
    return out


def random_state(cfg, seed: int = 0) -> dict:
    """transformers' init of DeepseekV4ForCausalLM (fp32), plus a valid random hash table."""
    import torch
    from transformers import DeepseekV4ForCausalLM

    torch.manual_seed(seed)
    model = DeepseekV4ForCausalLM(cfg).float()
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    gen = torch.Generator().manual_seed(seed + 1)
    for name in [n for n in state if n.endswith("tid2eid")]:
        table = torch.rand(cfg.vocab_size, cfg.n_routed_experts, generator=gen).argsort(dim=-1)
        state[name] = table[:, : cfg.num_experts_per_tok].contiguous()
    return state


def _mtp_tensors(official: dict, cfg, seed: int) -> dict:
    """An MTP block (`mtp.0.*`) in the release's naming; transformers ignores it on load."""
    import torch

    gen = torch.Generator().manual_seed(seed + 2)
    h = cfg.hidden_size
    last = f"layers.{cfg.num_hidden_layers - 1}."
    out = {}
    for name, tensor in official.items():
        if name.startswith(last) and ".attn.compressor." not in name \
                and ".attn.indexer." not in name:
            out["mtp.0." + name[len(last):]] = tensor
    if "mtp.0.ffn.gate.tid2eid" in out:
        del out["mtp.0.ffn.gate.tid2eid"]
        out["mtp.0.ffn.gate.bias"] = torch.zeros(cfg.n_routed_experts)
    for proj in ("e_proj", "h_proj"):
        out[f"mtp.0.{proj}.weight"] = torch.randn(h, h, generator=gen) * cfg.initializer_range
    for norm in ("enorm", "hnorm", "norm"):
        out[f"mtp.0.{norm}.weight"] = torch.ones(h)
    for leaf in ("hc_head_fn", "hc_head_base", "hc_head_scale"):
        out[f"mtp.0.{leaf}"] = official[leaf].clone()
    return out


def _shard_groups(names: list[str], n_layers: int) -> list[list[str]]:
    """Embedding alone, one shard per layer, then head/norm/mHC head and MTP: like the release."""
    groups = [[n for n in names if n.startswith("embed.")]]
    for i in range(n_layers):
        groups.append([n for n in names if n.startswith(f"layers.{i}.")])
    placed = {n for g in groups for n in g}
    groups.append([n for n in names if n not in placed])
    return [g for g in groups if g]


def borrow_tokenizer(src: Path, out: Path, vocab_size: int) -> dict:
    """Copy a tokenizer folder into `out`, cutting a BPE vocabulary to `vocab_size` ids.

    Returns the special-token ids the config should carry ({"bos_token_id", "eos_token_id"})."""
    src, out = Path(src), Path(out)
    data = json.loads((src / "tokenizer.json").read_text())
    model = data["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"can only cut BPE vocabularies, not {model.get('type')}")
    vocab = {tok: i for tok, i in model["vocab"].items() if i < vocab_size}
    merges = []
    for merge in model["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        if left in vocab and right in vocab and left + right in vocab:
            merges.append(merge)
    model["vocab"], model["merges"] = vocab, merges
    data["added_tokens"] = [t for t in data.get("added_tokens", []) if t["id"] < vocab_size]
    (out / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False))
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    ids = {t["content"]: t["id"] for t in data["added_tokens"]} | vocab
    special = json.loads((src / "tokenizer_config.json").read_text()) if (
        src / "tokenizer_config.json").is_file() else {}
    found = {}
    for key in ("bos_token", "eos_token"):
        token = special.get(key)
        token = token.get("content") if isinstance(token, dict) else token
        if token in ids:
            found[f"{key}_id"] = ids[token]
    return found


def build_tiny_v4(out_dir: Path, config: dict | object = TEST_V4, seed: int = 0,
                  quantized: bool = True, tokenizer_dir: Path | None = None,
                  mtp: bool = True) -> Path:
    """Write a random-weight V4 checkpoint folder in the official layout; returns `out_dir`.

    quantized: FP8/FP4 like the Instruct release (else BF16 everywhere it would be FP8/FP4,
    and no quantization_config). tokenizer_dir: a folder with tokenizer.json to borrow
    (e.g. `engine.embedded.ensure_converted(cache_dir)`); without it no tokenizer is written.
    """
    from safetensors.torch import save_file

    from engine.deepseek_v4 import format as v4_format

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = make_config(config)
    if tokenizer_dir is not None:
        for key, value in borrow_tokenizer(Path(tokenizer_dir), out, cfg.vocab_size).items():
            setattr(cfg, key, value)
    if not mtp:
        cfg.num_nextn_predict_layers = 0
    official = v4_format.hf_to_official(random_state(cfg, seed))
    if cfg.num_nextn_predict_layers:
        official.update(_mtp_tensors(official, cfg, seed))
    stored = {}
    for name, tensor in official.items():
        stored.update(v4_format.encode_tensor(name, tensor, quantized))
    groups = _shard_groups(sorted(stored), cfg.num_hidden_layers)
    weight_map, total = {}, 0
    for i, names in enumerate(groups, start=1):
        shard = f"model-{i:05d}-of-{len(groups):05d}.safetensors"
        save_file({n: stored[n] for n in names}, out / shard, metadata={"format": "pt"})
        for n in names:
            weight_map[n] = shard
            total += stored[n].numel() * stored[n].element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    (out / "config.json").write_text(json.dumps(official_config(cfg, quantized), indent=2) + "\n")
    generation = {"bos_token_id": cfg.bos_token_id, "eos_token_id": cfg.eos_token_id}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.tiny", description=__doc__.split(
        "\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="bench-v4-small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bf16", action="store_true", help="no FP8/FP4: BF16 where they'd be")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--tokenizer-from", type=Path, help="folder with a tokenizer.json")
    source.add_argument("--embedded-cache", type=Path,
                        help="borrow the embedded default's tokenizer (converted into this cache)")
    args = parser.parse_args(argv)
    tokenizer_dir = args.tokenizer_from
    if args.embedded_cache is not None:
        from engine.embedded import ensure_converted

        tokenizer_dir = ensure_converted(args.embedded_cache)
    path = build_tiny_v4(args.out_dir, CONFIGS[args.config], seed=args.seed,
                         quantized=not args.bf16, tokenizer_dir=tokenizer_dir)
    index = json.loads((path / "model.safetensors.index.json").read_text())
    print(json.dumps({"path": str(path), "config": args.config,
                      "shards": len(set(index["weight_map"].values())),
                      "tensors": len(index["weight_map"]),
                      "bytes": index["metadata"]["total_size"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
