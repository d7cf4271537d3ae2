"""The shot list as steps: one step per scene listing its shots, parsed into the template's
CSV with the scene anchor and the shot number filled in by the assembler.

A step answers one shot per line as `SIZE | subject | what we see`; a line that does not parse
is kept as a description with the size left empty rather than guessed.
"""
from __future__ import annotations

import csv
import io
import re

from workbench.synthesis.packing import render_section
from workbench.synthesis.plans import Step, StepPlan, ask, scenes_of, trim_words

SIZES = ("EWS", "WS", "MS", "MCU", "CU", "ECU", "INSERT")
SHOT_RE = re.compile(r"^\s*(?:[-*\d.)]+\s*)?(" + "|".join(SIZES) + r")\b\s*[|:-]?\s*(.*)$",
                     re.I)
MOST_SHOTS = 6
SCENE_WORDS = 600
HEADER = ["scene", "shot", "size", "angle", "movement", "subject", "description"]

SHOTS_Q = ("List three shots a director of photography would shoot for this scene, one per "
           "line, each written as: SIZE | subject | what we see. SIZE is one of "
           + ", ".join(SIZES) + ".")


def parse_shots(text: str) -> list[tuple[str, str, str]]:
    out = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = SHOT_RE.match(line)
        if m:
            rest = [p.strip() for p in m.group(2).split("|")]
            subject, desc = (rest[0], " | ".join(rest[1:])) if len(rest) > 1 else ("", rest[0])
            out.append((m.group(1).upper(), subject, desc))
        elif len(line.split()) >= 3:
            out.append(("", "", line.lstrip("-* ")))
    return out[:MOST_SHOTS]


def build(sources, question: str = "", step_tokens: int = 96) -> StepPlan | None:
    scenes = scenes_of(sources)
    if not scenes:
        return None
    steps = [Step(f"shots:{s.anchor}", f"shots of [{s.anchor}]",
                  lambda done, s=s: ask(trim_words(render_section(s), SCENE_WORDS), SHOTS_Q),
                  step_tokens)
             for _, s in scenes]

    def assemble(done: dict) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(HEADER)
        for _, s in scenes:
            for n, (size, subject, desc) in enumerate(parse_shots(done.get(f"shots:{s.anchor}",
                                                                           "")), 1):
                writer.writerow([s.anchor, n, size, "", "", subject, desc])
        return f"```csv\n{buf.getvalue()}```"

    return StepPlan("shot_list", steps, assemble)
