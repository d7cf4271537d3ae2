"""How close a packed decode mode stays to exact fp32: the acceptance figures of the default.

Why: a lossy decode mode may be the default only if its greedy text equals fp32's for the first
64 tokens on the bench prompts, or its perplexity on held-out text is within 1% of fp32's
(issue 15). Both are measured here on the fast path's own decode steps (prefill is fp32 in
every mode, so the prompt's KV is identical and only one-token steps differ):
- `greedy_match`: tokens equal to fp32's before the first difference, free-running from the
  same prefilled cache;
- `perplexity`: exp of the mean negative log-likelihood of a held-out text, teacher-forced one
  token per step after a fp32 prefill of its first `context` tokens.

Does not know: timing or the reference runtime (engine/bench/generate.py).
"""
from __future__ import annotations

import math
from pathlib import Path

GREEDY_TOKENS = 64
HELDOUT_CONTEXT, HELDOUT_TOKENS = 256, 384
# Held-out prose that is no part of this repo (a Sherlock Holmes text, public domain), read from
# the shared test documents beside the checkout when they are there.
HELDOUT = (Path(__file__).resolve().parents[2] / "shared" / "testdocs" / "prose"
           / "jsvine__markovify" / "sherlock.txt")
HELDOUT_SLICE = slice(200_000, 240_000)  # characters: well inside the book, past its front


def greedy_tokens(runner, cache, start: int, first_logits, steps: int = GREEDY_TOKENS):
    """Greedy ids from `start` filled positions of `cache`, whose next logits are given."""
    import torch

    cache.length, logits, tokens = start, first_logits, []
    token = torch.empty(1, dtype=torch.long)
    for _ in range(steps):
        tokens.append(int(torch.argmax(logits)))
        token.fill_(tokens[-1])
        logits = runner.decode(token, cache)
    return tokens


def greedy_match(tokens: list[int], reference: list[int]) -> int:
    """How many leading tokens equal the reference's."""
    return next((i for i, (a, b) in enumerate(zip(tokens, reference)) if a != b),
                min(len(tokens), len(reference)))


def heldout_ids(tokenizer, path: Path | None = None) -> list[int] | None:
    """The held-out token ids (context + scored tokens), or None when the text is not here."""
    path = Path(path) if path is not None else HELDOUT
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")[HELDOUT_SLICE]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[: HELDOUT_CONTEXT + HELDOUT_TOKENS]


def perplexities(fast, runners: dict, ids: list[int]) -> dict:
    """{mode: perplexity} of each runner over ids[HELDOUT_CONTEXT:], one shared fp32 prefill."""
    import torch

    tensor = torch.tensor(ids)
    out = {}
    with torch.inference_mode():
        cache = fast.new_cache(len(ids) + 1)
        first = fast.prefill(tensor[:HELDOUT_CONTEXT], cache)
        for mode, runner in runners.items():
            cache.length, logits, nll = HELDOUT_CONTEXT, first, 0.0
            for i in range(HELDOUT_CONTEXT, len(ids)):
                nll -= float(torch.log_softmax(logits, dim=-1)[ids[i]])
                logits = runner.decode(tensor[i:i + 1], cache)
            out[mode] = math.exp(nll / (len(ids) - HELDOUT_CONTEXT))
        fast.release(cache)
    return out


def greedy_matches(fast, runners: dict, prompts: list[list[int]]) -> dict:
    """{mode: [greedy_match per prompt]} against the fp32 runner (key None)."""
    import torch

    out: dict = {mode: [] for mode in runners if mode is not None}
    with torch.inference_mode():
        for ids in prompts:
            cache = fast.new_cache(len(ids) + GREEDY_TOKENS)
            first = fast.prefill(torch.tensor(ids), cache)
            reference = greedy_tokens(runners[None], cache, len(ids), first)
            for mode in out:
                out[mode].append(greedy_match(
                    greedy_tokens(runners[mode], cache, len(ids), first), reference))
            fast.release(cache)
    return out
