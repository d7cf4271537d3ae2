"""What the same job would cost at API prices: a dated price table kept as data.

Prices are USD per million tokens (input, output) as published in the price table's month.
Token counts come from the local tokenizer, not the API model's, so the figure is an estimate
of scale, not a quote. Does not know which backend ran the job.
"""
from __future__ import annotations

from dataclasses import dataclass

PRICE_TABLE_DATE = "2026-11"


@dataclass(frozen=True)
class Price:
    model: str
    input_per_m: float
    output_per_m: float


PRICES: tuple[Price, ...] = (
    Price("DeepSeek V4-Flash", 0.14, 0.28),
    Price("DeepSeek V4-Pro", 1.74, 3.48),
    Price("Claude Opus 4.7", 15.0, 75.0),
    Price("GPT-5.5", 10.0, 40.0),
    Price("Gemini 3.1 Pro", 1.25, 10.0),
)


@dataclass(frozen=True)
class CostLine:
    model: str
    usd: float


def estimate(prompt_tokens: int, completion_tokens: int) -> list[CostLine]:
    """Cost of the given token counts at each listed API price, in table order."""
    return [
        CostLine(p.model, round((prompt_tokens * p.input_per_m
                                 + completion_tokens * p.output_per_m) / 1_000_000, 6))
        for p in PRICES
    ]


def cost_dict(prompt_tokens: int, completion_tokens: int) -> dict:
    """The cost panel as plain data (stored with every artifact)."""
    return {
        "price_table_date": PRICE_TABLE_DATE,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "usd": {line.model: line.usd for line in estimate(prompt_tokens, completion_tokens)},
    }
