"""Pacing facts from transcript timecodes: words per minute per speaker and over time, the
longest silences and monologues, the turn-length distribution, and suggested cut points as
markers (exported as SRT or EDL) -- each with the timecode anchor of the cue it points at.

Cut points are the longest silences (cut or tighten the dead air between two cues) and the
longest single-speaker turns (candidates to trim); they are suggestions by rule, which the
model's `## Suggested cuts` may refine.

A log that stamps only when each utterance starts (the NASA transcripts, plain-text
interviews) is imported with every cue ending where the next one starts, which hides every
silence and stretches every turn; when nearly all cues end exactly on the next start, the ends
are estimated instead (pacing_metrics.ASSUMED_WPM) and the facts say so.

Does not know the model; cue timing comes from pacing_metrics.cue_spans.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from workbench.synthesis import pacing_metrics
from workbench.synthesis.facts.model import Chart, Facts, Marker, Table, duration, tag

TOP = 5
TURN_BUCKETS = ((0, 5), (5, 15), (15, 30), (30, 60), (60, None))
MONOLOGUE_S = 30.0  # a turn this long is a candidate to trim
CHART_POINTS = 24
STAMPED_SHARE = 0.9  # this share of cues ending on the next start: only starts were stamped


def _who(cue) -> str:
    return (cue.speaker or "?").strip() or "?"


def _words(cue) -> int:
    return len((cue.text or "").split())


def _turns(spans) -> list[dict]:
    """Runs of one speaker's cues; a silence longer than GAP_S ends a turn too."""
    turns: list[dict] = []
    for c, s, e in spans:
        if (turns and turns[-1]["speaker"] == _who(c)
                and s - turns[-1]["end"] <= pacing_metrics.GAP_S):
            turns[-1].update(end=e, words=turns[-1]["words"] + _words(c))
        else:
            turns.append({"speaker": _who(c), "start": s, "end": e, "words": _words(c),
                          "anchor": c.anchor})
    return turns


def _gaps(spans) -> list[dict]:
    out = []
    for (_, _, prev_end), (c, s, _) in zip(spans, spans[1:]):
        if s - prev_end > pacing_metrics.GAP_S:
            out.append({"start": prev_end, "end": s, "anchor": c.anchor, "speaker": _who(c)})
    return sorted(out, key=lambda g: -(g["end"] - g["start"]))


def _timeline(spans, start: float, length: float) -> tuple[list[list], list[dict]]:
    width = max(60.0, length / CHART_POINTS)
    buckets: dict[int, dict] = defaultdict(lambda: {"words": 0, "by": defaultdict(int),
                                                    "anchor": None})
    for c, s, _ in spans:
        b = buckets[int((s - start) // width)]
        b["words"] += _words(c)
        b["by"][_who(c)] += _words(c)
        b["anchor"] = b["anchor"] or c.anchor
    rows, points = [], []
    per_min = 60.0 / width
    for k in sorted(buckets):
        b = buckets[k]
        minute = round(k * width / 60.0, 2)
        lead = max(b["by"].items(), key=lambda kv: kv[1])[0] if b["by"] else "-"
        rows.append([tag(b["anchor"]), f"minute {minute:g}", round(b["words"] * per_min),
                     lead])
        points.append({"minute": minute, "wpm": round(b["words"] * per_min, 1),
                       "speaker": "all"})
        points += [{"minute": minute, "wpm": round(w * per_min, 1), "speaker": who}
                   for who, w in sorted(b["by"].items())]
    return rows, points


def starts_only(cues) -> bool:
    """Whether the cues' ends are just the next cue's start (a log stamping starts only)."""
    cues = sorted((c for c in cues if c.start_s is not None), key=lambda c: c.start_s)
    if len(cues) < 3:
        return False
    joined = sum(1 for a, b in zip(cues, cues[1:]) if a.end_s == b.start_s)
    return joined >= STAMPED_SHARE * (len(cues) - 1)


def build(sources) -> Facts:
    facts = Facts("pacing")
    cues = [s for src in sources for s in src.sections if s.start_s is not None]
    if starts_only(cues):
        cues = [replace(c, end_s=None) for c in cues]
    spans, estimated = pacing_metrics.cue_spans(cues)
    if not spans:
        facts.summary.append("No timecoded cues were found, so there are no pacing facts.")
        return facts
    start, stop = spans[0][1], max(e for _, _, e in spans)
    length = max(stop - start, 1e-9)
    words = sum(_words(c) for c, _, _ in spans)
    turns = _turns(spans)
    gaps = _gaps(spans)
    mean_turn = sum(t["end"] - t["start"] for t in turns) / len(turns)
    facts.summary += [
        f"Length {duration(length)}, from {tag(spans[0][0].anchor)} to "
        f"{tag(spans[-1][0].anchor)}; {words} words, {words / (length / 60):.0f} words per "
        f"minute overall.",
        f"{len(turns)} speaker turns, mean {mean_turn:.1f} s; {len(gaps)} silences longer "
        f"than {pacing_metrics.GAP_S:.0f} s.",
    ]
    if estimated:
        facts.summary.append(f"Cue end times were not in the file; each was estimated at "
                             f"{pacing_metrics.ASSUMED_WPM:.0f} words per minute.")
    per: dict = defaultdict(lambda: {"words": 0, "seconds": 0.0, "turns": 0})
    for c, s, e in spans:
        per[_who(c)]["words"] += _words(c)
        per[_who(c)]["seconds"] += e - s
    for t in turns:
        per[t["speaker"]]["turns"] += 1
    ranked = sorted(per.items(), key=lambda kv: (-kv[1]["words"], kv[0]))
    facts.tables.append(Table(
        "speakers", "Speakers", ["speaker", "words", "talking", "turns", "words per minute",
                                 "share of words"],
        [[n, v["words"], duration(v["seconds"]), v["turns"],
          round(v["words"] / (v["seconds"] / 60)) if v["seconds"] > 0 else "-",
          f"{100 * v['words'] / words:.0f}%" if words else "-"] for n, v in ranked]))
    rows, points = _timeline(spans, start, length)
    facts.tables.append(Table("timeline", "Words per minute over time",
                              ["first cue", "from", "words per minute", "leading speaker"],
                              rows))
    facts.charts.append(Chart("pacing_timeline", "Words per minute over time", "line",
                              "minute", "wpm", "speaker", points))
    facts.tables.append(Table(
        "gaps", "Longest silences", ["before", "silence", "next speaker"],
        [[tag(g["anchor"]), duration(g["end"] - g["start"]), g["speaker"]]
         for g in gaps[:TOP]]))
    longest = sorted(turns, key=lambda t: -(t["end"] - t["start"]))[:TOP]
    facts.tables.append(Table(
        "monologues", "Longest turns", ["starts", "speaker", "length", "words"],
        [[tag(t["anchor"]), t["speaker"], duration(t["end"] - t["start"]), t["words"]]
         for t in longest]))
    dist = []
    for lo, hi in TURN_BUCKETS:
        n = sum(1 for t in turns if lo <= t["end"] - t["start"] < (hi or float("inf")))
        dist.append([f"{lo}-{hi} s" if hi else f"{lo} s or more", n,
                     f"{100 * n / len(turns):.0f}%"])
    facts.tables.append(Table("turn_lengths", "Turn lengths", ["length", "turns", "share"],
                              dist))
    for g in gaps[:TOP]:
        facts.markers.append(Marker(g["start"], g["end"], g["anchor"],
                                    f"cut the {duration(g['end'] - g['start'])} silence "
                                    f"before {tag(g['anchor'])}"))
    for t in longest:
        if t["end"] - t["start"] >= MONOLOGUE_S:
            facts.markers.append(Marker(t["start"], t["end"], t["anchor"],
                                        f"tighten {t['speaker']}'s "
                                        f"{duration(t['end'] - t['start'])} turn at "
                                        f"{tag(t['anchor'])}"))
    facts.markers.sort(key=lambda m: m.start_s)
    facts.tables.append(Table("cuts", "Suggested cut points",
                              ["at", "in (s)", "out (s)", "why"],
                              [[tag(m.anchor), round(m.start_s, 1), round(m.end_s, 1), m.note]
                               for m in facts.markers]))
    return facts
