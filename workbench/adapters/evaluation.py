"""Did the adapter learn anything? Held-out loss and perplexity with and without it, and the
same prompts generated both ways, side by side.

Why with/without on one PeftModel: PEFT's `disable_adapter()` gives the exact base model, so
"before" and "after" are measured on the same weights, tokens and code path, and an adapter can
be re-evaluated at any checkpoint without keeping a copy of the base. Generation is greedy so
the comparison is repeatable. The result is written next to the adapter (evaluation.json).

Does not know: training, the registry or the database.
"""
from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import asdict, dataclass

from workbench.adapters.training import collate, encode

EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class Evaluation:
    loss_before: float
    loss_after: float
    perplexity_before: float
    perplexity_after: float
    held_out_tokens: int
    samples: list[dict]  # {"prompt", "base", "adapter"}
    checkpoint: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def heldout_loss(model, seqs: list[list[int]], pad_id: int, batch_size: int = 4
                 ) -> tuple[float, int]:
    """Mean next-token loss over every held-out token (token-weighted), and the token count."""
    import torch

    device = next(model.parameters()).device
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(seqs), batch_size):
            ids, mask, labels = (t.to(device) for t in collate(seqs[i:i + batch_size], pad_id))
            logits = model(input_ids=ids, attention_mask=mask).logits.float()  # (B, T, V)
            targets = labels[:, 1:]
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1),
                ignore_index=-100, reduction="sum")
            total += float(nll)
            count += int((targets != -100).sum())
    return total / max(1, count), count


def prompts_from(texts: list[str], tokenizer, n: int = 2, prompt_tokens: int = 16) -> list[str]:
    """The openings of the first `n` held-out examples: text the adapter never trained on."""
    prompts = []
    for text in texts[:n]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"][:prompt_tokens]
        prompts.append(tokenizer.decode(ids))
    return prompts


def generate(model, tokenizer, prompt: str, max_new_tokens: int) -> str:
    import torch

    device = next(model.parameters()).device
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device), attention_mask=torch.ones_like(ids)
                             .to(device), max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.eos_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def evaluate(peft_model, tokenizer, held_out: list[str], *, max_tokens: int,
             prompts: list[str], max_new_tokens: int = 40,
             checkpoint: int | None = None) -> Evaluation:
    """Loss/perplexity on `held_out` and generations for `prompts`, base vs adapter."""
    seqs = encode(tokenizer, held_out, max_tokens)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None \
        else tokenizer.eos_token_id
    peft_model.eval()
    results = {}
    for label, ctx in (("base", peft_model.disable_adapter), ("adapter", nullcontext)):
        with ctx():
            loss, tokens = heldout_loss(peft_model, seqs, pad_id)
            texts = [generate(peft_model, tokenizer, p, max_new_tokens) for p in prompts]
        results[label] = (loss, tokens, texts)
    before, after = results["base"], results["adapter"]
    samples = [{"prompt": p, "base": b, "adapter": a}
               for p, b, a in zip(prompts, before[2], after[2])]
    return Evaluation(loss_before=round(before[0], 6), loss_after=round(after[0], 6),
                      perplexity_before=round(math.exp(before[0]), 4),
                      perplexity_after=round(math.exp(after[0]), 4),
                      held_out_tokens=before[1], samples=samples, checkpoint=checkpoint)
