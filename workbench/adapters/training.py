"""The LoRA training loop: PEFT on the local model, checkpointed so a crash loses little.

Why hand-written and not `transformers.Trainer`: the loop must checkpoint every N steps in the
standard PEFT layout (adapter_config.json + adapter_model.safetensors, which vLLM's
`--lora-modules` and `peft` load as they are) next to the trainer state (step, optimizer, RNG,
loss history), resume from the newest checkpoint with the step count continuing, report every
step to a `progress` callback and stop cleanly when `should_stop()` says so. That is one short
loop; Trainer would hide it behind callbacks and its own folder layout.

Resumption is exact: the batch for step s depends only on (seed, s) and the learning rate on s,
so a resumed run sees the same data and schedule as an uninterrupted one.
Each checkpoint is written into a temporary folder and renamed, so one is complete or absent.
CPU runs plain LoRA in fp32; with CUDA the caller loads the base in 4-bit (QLoRA, bitsandbytes)
and `make_lora_model` prepares it for k-bit training.

Does not know: where examples come from (dataset.py), the registry or the database.
"""
from __future__ import annotations

import json
import math
import os
import random
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

CHECKPOINTS = "checkpoints"
STATE_JSON = "trainer_state.json"
STATE_PT = "trainer_state.pt"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 60
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    learning_rate: float = 1e-3
    batch_size: int = 4
    checkpoint_every: int = 10
    seed: int = 0
    layers: int | None = None  # train only the top N layers (None: all); cheaper on CPU
    threads: int | None = None  # torch CPU threads (None: torch's default)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainSettings":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class StepReport:
    step: int
    steps_total: int
    loss: float
    learning_rate: float
    seconds: float
    checkpoint: int | None  # the step saved after this one, if any


@dataclass
class TrainResult:
    step: int
    losses: list[tuple[int, float]]
    checkpoints: list[int]
    resumed_from: int | None
    stopped: bool
    seconds: float
    extra: dict = field(default_factory=dict)


Progress = Callable[[StepReport], None]


def make_lora_model(model, settings: TrainSettings, target):
    """Wrap a transformers model in a trainable PeftModel for `target` (a TargetChoice)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    modules = target.peft_value()
    layers = None
    if settings.layers:
        total = int(model.config.num_hidden_layers)
        layers = list(range(max(0, total - settings.layers), total))
        if isinstance(modules, str):  # PEFT ignores layers_to_transform for a regex
            ids = "|".join(map(str, layers))
            modules, layers = rf"(?=.*\.layers\.({ids})\.)(?:{modules})", None
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                        lora_dropout=settings.dropout, target_modules=modules,
                        layers_to_transform=layers, bias="none", task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def encode(tokenizer, texts: list[str], max_tokens: int) -> list[list[int]]:
    """Token ids of each example plus EOS; an example over the limit is an error, not cut."""
    eos = tokenizer.eos_token_id
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) > max_tokens:
            raise ValueError(f"an example has {len(ids)} tokens, over the {max_tokens} limit")
        out.append(ids + ([eos] if eos is not None else []))
    return out


def collate(seqs: list[list[int]], pad_id: int):
    """Right-padded (B, T) input ids, attention mask, and labels with -100 on padding."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    labels = torch.full((len(seqs), width), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
        labels[i, :len(s)] = torch.tensor(s)
    return ids, mask, labels


def batch_indices(step: int, n: int, batch_size: int, seed: int) -> list[int]:
    """Examples for 1-based `step`: consecutive slices of a per-epoch shuffle of range(n)."""
    start = (step - 1) * batch_size
    out = []
    for k in range(start, start + batch_size):
        epoch, pos = divmod(k, n)
        order = list(range(n))
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
        out.append(order[pos])
    return out


def learning_rate(step: int, settings: TrainSettings) -> float:
    """Linear warm-up over the first 10% of steps, then cosine decay to 10% of the peak."""
    warm = max(1, settings.steps // 10)
    if step <= warm:
        return settings.learning_rate * step / warm
    progress = (step - warm) / max(1, settings.steps - warm)
    return settings.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))


def checkpoint_dir(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step-{step:06d}"


def checkpoints(run_dir: Path) -> list[int]:
    """Steps of the complete checkpoints under run_dir, oldest first."""
    root = Path(run_dir) / CHECKPOINTS
    if not root.is_dir():
        return []
    steps = [int(p.name.split("-")[1]) for p in root.glob("step-*")
             if (p / STATE_JSON).is_file() and all((p / f).is_file() for f in ADAPTER_FILES)]
    return sorted(steps)


def read_state(run_dir: Path, step: int) -> dict:
    return json.loads((checkpoint_dir(run_dir, step) / STATE_JSON).read_text())


def train(model, tokenizer, train_texts: list[str], settings: TrainSettings, run_dir: Path,
          *, max_tokens: int, progress: Progress | None = None,
          should_stop: Callable[[], bool] | None = None, meta: dict | None = None
          ) -> TrainResult:
    """Train the PeftModel `model` up to `settings.steps`, resuming from run_dir's newest
    checkpoint if there is one. `meta` is stored in every trainer_state.json."""
    import torch

    if settings.threads:
        torch.set_num_threads(settings.threads)
    started = time.perf_counter()
    seqs = encode(tokenizer, train_texts, max_tokens)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
        else tokenizer.eos_token_id
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
    losses: list[tuple[int, float]] = []
    step = 0
    resumed_from = None
    done = checkpoints(run_dir)
    if done:
        step = resumed_from = done[-1]
        losses = _restore(model, optimizer, run_dir, step)
    else:
        torch.manual_seed(settings.seed)
    device = next(p.device for p in params)
    model.train()
    saved = list(done)
    stopped = False
    while step < settings.steps:
        if should_stop is not None and should_stop():
            stopped = True
            break
        t0 = time.perf_counter()
        step += 1
        lr = learning_rate(step, settings)
        for group in optimizer.param_groups:
            group["lr"] = lr
        picked = [seqs[i] for i in batch_indices(step, len(seqs), settings.batch_size,
                                                 settings.seed)]
        ids, mask, labels = (t.to(device) for t in collate(picked, pad_id))
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append((step, round(float(loss.detach()), 6)))
        saved_now = None
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            save_checkpoint(model, optimizer, run_dir, step, losses, settings, meta)
            saved.append(step)
            saved_now = step
        if progress is not None:
            progress(StepReport(step, settings.steps, losses[-1][1], lr,
                                time.perf_counter() - t0, saved_now))
    if stopped and step and (not saved or saved[-1] != step):
        save_checkpoint(model, optimizer, run_dir, step, losses, settings, meta)
        saved.append(step)
    model.eval()
    return TrainResult(step, losses, saved, resumed_from, stopped,
                       round(time.perf_counter() - started, 2))


def save_checkpoint(model, optimizer, run_dir: Path, step: int,
                    losses: list[tuple[int, float]], settings: TrainSettings,
                    meta: dict | None) -> Path:
    """PEFT files + trainer state into checkpoints/step-NNNNNN, atomically."""
    import torch

    target = checkpoint_dir(run_dir, step)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        torch.save({"optimizer": optimizer.state_dict(), "rng": rng}, tmp / STATE_PT)
        state = {"step": step, "losses": losses, "settings": settings.to_dict(),
                 **(meta or {})}
        (tmp / STATE_JSON).write_text(json.dumps(state, indent=1))
        os.chmod(tmp, 0o755)
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _restore(model, optimizer, run_dir: Path, step: int) -> list[tuple[int, float]]:
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    folder = checkpoint_dir(run_dir, step)
    set_peft_model_state_dict(model, load_file(str(folder / "adapter_model.safetensors")))
    state = torch.load(folder / STATE_PT, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    random.setstate(state["rng"]["python"])
    if "cuda" in state["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return [tuple(x) for x in read_state(run_dir, step)["losses"]]
