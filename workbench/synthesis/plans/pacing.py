"""Pacing notes as steps: one note per flagged point (the longest silences and the slowest
stretches as suggested cuts, the longest turns as notes, all from pacing_metrics.py), each
reading only the cues around its timecode, then an overall judgement from the metrics.

The timecode and the measured reason (`Silence of 14 s before this cue.`) lead every bullet,
put there by the assembler; the model adds the editor's note.
"""
from __future__ import annotations

from workbench.synthesis import pacing_metrics
from workbench.synthesis.packing import render_section
from workbench.synthesis.plans import Step, StepPlan, ask, clean

AROUND = 3  # cues either side of a flagged one that its step reads
MOST_GAPS = 4
MOST_TURNS = 3
MOST_SLOW = 2
SLOW = 0.8  # a stretch below this share of the overall words per minute drags

GAP_Q = ("These lines are from a recorded conversation. Before the line marked >>> there is "
         "a silence of {secs:.0f} seconds. In two sentences, tell the editor whether to cut "
         "or shorten that silence, and why.")
TURN_Q = ("These lines are from a recorded conversation. From the line marked >>>, {who} "
          "talks for {secs:.0f} seconds without a break. In two sentences, tell the editor "
          "whether to tighten this stretch, and why.")
SLOW_Q = ("These lines are from a recorded conversation. From the line marked >>>, the "
          "talk slows to {wpm:.0f} words per minute, against {overall:.0f} overall. In two "
          "sentences, tell the editor what to cut or tighten here, and why.")
OVERALL_Q = ("Above are pacing measurements of a recording. In three sentences, tell an "
             "editor how it is paced overall: where it drags, where it rushes, and who "
             "dominates.")


def _cues(sources) -> list:
    return sorted((s for src in sources for s in src.sections if s.start_s is not None),
                  key=lambda s: (s.start_s, s.ordinal))


def _around(cues: list, anchor: str) -> str:
    at = next((i for i, c in enumerate(cues) if c.anchor == anchor), None)
    if at is None:
        return ""
    lines = []
    for i in range(max(0, at - AROUND), min(len(cues), at + AROUND + 1)):
        mark = ">>> " if i == at else ""
        lines.append(mark + render_section(cues[i]))
    return "\n".join(lines)


def _seconds(stamp: str) -> int:
    h, m, s = (int(x) for x in stamp.split(":"))
    return h * 3600 + m * 60 + s


def build(sources, question: str = "", step_tokens: int = 80) -> StepPlan | None:
    cues = _cues(sources)
    if len(cues) < 2:
        return None
    metrics = pacing_metrics.compute(cues)
    flagged: list[tuple[str, str, str, str]] = []  # (kind, anchor, lead, question)
    for anchor, secs in metrics.gaps[:MOST_GAPS]:
        flagged.append(("cut", anchor, f"Silence of {secs:.0f} s before this cue.",
                        GAP_Q.format(secs=secs)))
    slow = sorted((w for w in metrics.windows if w["wpm"] < SLOW * metrics.wpm),
                  key=lambda w: w["wpm"])[:MOST_SLOW]
    for w in slow:
        first = next((c for c in cues if c.start_s >= _seconds(w["start"])), None)
        if first is not None and first.anchor not in {a for _, a, _, _ in flagged}:
            minutes = (_seconds(w["end"]) - first.start_s) / 60  # no second timecode: one
            flagged.append(("cut", first.anchor,  # anchor per bullet, the one it is about
                            f"Slow stretch: {w['wpm']:.0f} wpm for the next {minutes:.0f} min, "
                            f"against {metrics.wpm:.0f} overall.",
                            SLOW_Q.format(wpm=w["wpm"], overall=metrics.wpm)))
    taken = {a for _, a, _, _ in flagged}
    for anchor, who, secs in metrics.longest_turns[:MOST_TURNS]:
        if anchor in taken or secs <= 0:
            continue
        flagged.append(("note", anchor, f"{who} talks for {secs:.0f} s from here.",
                        TURN_Q.format(who=who, secs=secs)))
    if not flagged:
        return None
    flagged.sort(key=lambda f: next(c.start_s for c in cues if c.anchor == f[1]))
    steps = [Step(f"{kind}:{anchor}", f"note on [{anchor}]",
                  lambda done, a=anchor, q=q: ask(_around(cues, a), q), step_tokens,
                  prime="The editor should")
             for kind, anchor, _, q in flagged]
    extra = f"\nThe editor also asks: {question.strip()}" if question.strip() else ""
    steps.append(Step("overall", "overall pacing",
                      lambda done: ask(metrics.facts(), OVERALL_Q + extra), step_tokens,
                      prime="Overall, the recording"))

    def assemble(done: dict) -> str:
        out = ["## Overall", clean(done.get("overall", "")) or "(no overall note was written)",
               ""]
        for kind, title in (("note", "## Notes"), ("cut", "## Suggested cuts")):
            out.append(title)
            rows = [(a, lead) for k, a, lead, _ in flagged if k == kind]
            for anchor, lead in rows:
                note = clean(done.get(f"{kind}:{anchor}", ""))
                out.append(f"- [{anchor}] {lead} {note}".rstrip())
            if not rows:
                out.append("- nothing flagged")
            out.append("")
        return "\n".join(out).rstrip()

    return StepPlan("pacing", steps, assemble)
