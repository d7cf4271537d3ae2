"""The leaderboard over a project's blind votes: wins, losses, ties and an Elo rating per model.

Why Elo and not Bradley-Terry: a writer's project holds a handful of votes, added one at a
time; Elo updates in one pass, needs no iterative fit that fails to converge when a model has
only wins (Bradley-Terry's maximum likelihood is then infinite), and its numbers read the way
chess ratings do. Its cost is order dependence, which we fix by rating in vote order, so the
same votes always give the same table. K=32, every model starts at 1000.
A vote on a comparison of n models counts as n-1 pairings: the winner beats each other model;
"tie" and "both-bad" are draws between every pair (as FastChat's arena counts them).
Does not know where votes are stored (workbench/library/comparisons_store.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from statistics import median

START, K = 1000.0, 32.0


@dataclass
class Standing:
    model: str
    wins: int = 0
    losses: int = 0
    ties: int = 0
    rating: float = START
    seconds: list = field(default_factory=list)
    costs: list = field(default_factory=list)  # one {api model: usd} per answer

    def as_json(self) -> dict:
        prices = sorted({k for c in self.costs for k in c})
        return {"model": self.model, "wins": self.wins, "losses": self.losses,
                "ties": self.ties, "rating": round(self.rating, 1),
                "median_seconds": round(median(self.seconds), 3) if self.seconds else None,
                "median_cost_usd": {p: round(median(c[p] for c in self.costs if p in c), 6)
                                    for p in prices}}


def _play(a: Standing, b: Standing, score_a: float) -> None:
    expect_a = 1.0 / (1.0 + 10 ** ((b.rating - a.rating) / 400.0))
    a.rating += K * (score_a - expect_a)
    b.rating -= K * (score_a - expect_a)


def leaderboard(comparisons) -> list[dict]:
    """Rows for the models of `comparisons` (ComparisonInfo, oldest first), best first."""
    table: dict[str, Standing] = {}
    for comp in comparisons:
        ok = [r for r in comp.rows if not r.get("error")]
        for r in ok:
            s = table.setdefault(r["model"], Standing(r["model"]))
            s.seconds.append(r["seconds"])
            s.costs.append((r.get("cost") or {}).get("usd", {}))
        models = [r["model"] for r in ok]
        for vote in comp.votes:
            if vote.winner_model in models:
                w = table[vote.winner_model]
                for m in models:
                    if m != vote.winner_model:
                        w.wins += 1
                        table[m].losses += 1
                        _play(w, table[m], 1.0)
            else:
                for a, b in combinations(models, 2):
                    table[a].ties += 1
                    table[b].ties += 1
                    _play(table[a], table[b], 0.5)
    rows = sorted(table.values(), key=lambda s: (-s.rating, s.model))
    return [s.as_json() for s in rows]
