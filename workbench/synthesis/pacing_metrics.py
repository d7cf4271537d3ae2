"""Deterministic pacing metrics from transcript timecodes, computed before the model is called
and handed to it as facts: words per minute, gaps, turn lengths, speaker balance over time.

Cues without an end time (e.g. NASA logs that only stamp the start) are given one: the time the
words take at 150 wpm, capped at the next cue's start; the facts say when that happened.

Does not know anchors beyond `time_anchor`, nor the model.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

from workbench.importers.base import time_anchor

ASSUMED_WPM = 150.0
GAP_S = 3.0
WINDOWS = 8
TOP_GAPS = 5


@dataclass
class Turn:
    speaker: str
    start_s: float
    end_s: float
    words: int


@dataclass
class PacingMetrics:
    duration_s: float
    words: int
    wpm: float
    estimated_ends: bool
    speakers: dict = field(default_factory=dict)  # name -> {words, seconds, turns, share}
    gaps: list = field(default_factory=list)  # (anchor, seconds) longest first
    gaps_over: int = 0
    turns: int = 0
    mean_turn_s: float = 0.0
    longest_turns: list = field(default_factory=list)  # (anchor, speaker, seconds)
    windows: list = field(default_factory=list)  # {start, end, wpm, shares}

    def facts(self) -> str:
        lines = [
            f"Duration {time_anchor(self.duration_s)}; {self.words} words; "
            f"{self.wpm:.0f} words per minute overall; {self.turns} speaker turns, "
            f"mean {self.mean_turn_s:.1f} s.",
        ]
        if self.estimated_ends:
            lines.append(f"(Cue end times were not given; each was estimated at "
                         f"{ASSUMED_WPM:.0f} wpm, capped at the next cue.)")
        for name, s in sorted(self.speakers.items(), key=lambda kv: -kv[1]["words"]):
            lines.append(f"Speaker {name}: {s['words']} words, {s['seconds']:.0f} s talking, "
                         f"{s['turns']} turns, {100 * s['share']:.0f}% of words.")
        if self.gaps:
            lines.append(f"{self.gaps_over} silences longer than {GAP_S:.0f} s; longest: "
                         + "; ".join(f"{s:.0f} s before [{a}]" for a, s in self.gaps) + ".")
        if self.longest_turns:
            lines.append("Longest turns: " + "; ".join(
                f"[{a}] {sp} {s:.0f} s" for a, sp, s in self.longest_turns) + ".")
        for w in self.windows:
            shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in w["shares"].items())
            lines.append(f"From {w['start']} to {w['end']}: {w['wpm']:.0f} wpm; "
                         f"{shares or 'silent'}.")
        return "\n".join(lines)


def _words(text: str) -> int:
    return len((text or "").split())


def cue_spans(sections: Sequence) -> tuple[list[tuple], bool]:
    """([(cue, start_s, end_s)] in time order, whether any end time was estimated)."""
    cues = sorted((s for s in sections if s.start_s is not None), key=lambda s: s.start_s)
    estimated = False
    spans = []
    for i, c in enumerate(cues):
        end = c.end_s
        if end is None:
            estimated = True
            end = c.start_s + _words(c.text) * 60.0 / ASSUMED_WPM
            if i + 1 < len(cues):
                end = min(end, cues[i + 1].start_s)
        spans.append((c, c.start_s, max(end, c.start_s)))
    return spans, estimated


def compute(sections: Sequence) -> PacingMetrics:
    spans, estimated = cue_spans(sections)
    if not spans:
        return PacingMetrics(0.0, 0, 0.0, False)
    start, stop = spans[0][1], max(e for _, _, e in spans)
    duration = max(stop - start, 1e-9)
    total_words = sum(_words(c.text) for c, _, _ in spans)

    turns: list[Turn] = []
    first_cue: list = []
    for c, s, e in spans:
        who = (c.speaker or "?").strip() or "?"
        if turns and turns[-1].speaker == who:
            turns[-1].end_s, turns[-1].words = e, turns[-1].words + _words(c.text)
        else:
            turns.append(Turn(who, s, e, _words(c.text)))
            first_cue.append(c)

    per: dict = defaultdict(lambda: {"words": 0, "seconds": 0.0, "turns": 0})
    for c, s, e in spans:
        who = (c.speaker or "?").strip() or "?"
        per[who]["words"] += _words(c.text)
        per[who]["seconds"] += e - s
    for t in turns:
        per[t.speaker]["turns"] += 1
    for v in per.values():
        v["share"] = v["words"] / total_words if total_words else 0.0

    gaps = [(c.anchor, c.start_s - prev_end)
            for (_, _, prev_end), (c, _, _) in zip(spans, spans[1:])]
    gaps = [(a, g) for a, g in gaps if g > GAP_S]
    longest = sorted(zip(turns, first_cue), key=lambda tc: -(tc[0].end_s - tc[0].start_s))

    windows = []
    width = duration / WINDOWS
    for k in range(WINDOWS):
        lo, hi = start + k * width, start + (k + 1) * width
        inside = [(c, s) for c, s, _ in spans if lo <= s < hi or (k == WINDOWS - 1 and s == hi)]
        words = sum(_words(c.text) for c, _ in inside)
        by: dict = defaultdict(int)
        for c, _ in inside:
            by[(c.speaker or "?").strip() or "?"] += _words(c.text)
        windows.append({
            "start": time_anchor(lo), "end": time_anchor(hi),
            "wpm": words / (width / 60.0) if width else 0.0,
            "shares": {k2: v / words for k2, v in sorted(by.items())} if words else {},
        })
    return PacingMetrics(
        duration_s=duration, words=total_words, wpm=total_words / (duration / 60.0),
        estimated_ends=estimated, speakers=dict(per),
        gaps=sorted(gaps, key=lambda ag: -ag[1])[:TOP_GAPS], gaps_over=len(gaps),
        turns=len(turns),
        mean_turn_s=sum(t.end_s - t.start_s for t in turns) / len(turns),
        longest_turns=[(c.anchor, t.speaker, t.end_s - t.start_s) for t, c in longest[:3]],
        windows=windows,
    )
