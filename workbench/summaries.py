"""One-line, human-readable summaries of a document's stats, shared by the CLI and the UI.

Why: the CLI's `show` and the Library tab's table must describe a document the same way
("3 scenes · 2 characters · 410 words"). Presentation only; the stats come from the importers.
"""
from __future__ import annotations

COUNTS = (("scenes", "scene"), ("pages", "page"), ("cues", "cue"),
          ("dialogue_blocks", "dialogue block"))
NAME_LISTS = ("characters", "speakers")


def clock(seconds: float | None) -> str:
    """'1:02:03' for durations and cue times (hours always shown, for a stable column)."""
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def stats_summary(stats: dict) -> str:
    parts = [_count(stats[key], label) for key, label in COUNTS if stats.get(key)]
    parts += [_count(len(stats[key]), key[:-1]) for key in NAME_LISTS if stats.get(key)]
    if stats.get("duration_s"):
        parts.append(clock(stats["duration_s"]))
    if stats.get("words") is not None:
        parts.append(_count(stats["words"], "word"))
    return " · ".join(parts)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
