"""Coverage as steps: one summary per scene (tiny scenes ride with a neighbour), a note on the
dialogue of the talkiest scene, then the premise and the verdict written from the summaries.

The answer keeps the coverage contract's order (Premise, Structure, Dialogue, Verdict); each
scene line starts with its anchor and heading, put there by the assembler.
"""
from __future__ import annotations

from workbench.synthesis.packing import render_section
from workbench.synthesis.plans import (Step, StepPlan, ask, clean, group_small, scenes_of,
                                       trim_words, words)

LEAST_WORDS = 60  # a scene shorter than this is summarised together with the next
MOST_SCENE_STEPS = 24
SCENE_WORDS = 700  # words of a scene a step reads (a long scene is read from its start)

SUMMARY_Q = ("Summarise this scene for a script reader in three sentences: who is in it, "
             "what happens, and what has changed by its end.")
DIALOGUE_Q = ("In two sentences, judge the dialogue of this scene as a script reader: does "
              "it sound natural, does it reveal character, is it funny or sharp?")
PREMISE_Q = ("Above are scene-by-scene summaries of one screenplay. In two sentences, state "
             "its premise: who the main character is, what they want, and what stands in "
             "their way.")
VERDICT_Q = ("Above are scene-by-scene summaries of one screenplay. As a development "
             "executive, give your verdict in three sentences: what works, what does not, "
             "and whether the script should be developed further.")


def _tags(group) -> str:
    return " ".join(f"[{s.anchor}]" for _, s in group)


def _heading(group) -> str:
    return " / ".join((s.heading or "").strip() for _, s in group if s.heading)


def _scene_text(group) -> str:
    return "\n\n".join(trim_words(render_section(s), SCENE_WORDS) for _, s in group)


def _dialogue_lines(section) -> int:
    return sum(1 for ln in (section.text or "").splitlines()
               if ln.strip() and ln.strip().isupper() and len(ln.split()) <= 4)


def build(sources, question: str = "", step_tokens: int = 96) -> StepPlan | None:
    scenes = scenes_of(sources)
    if not scenes:
        return None
    title = sorted(sources, key=lambda s: (s.document_id, s.version))[0].title
    groups = group_small(scenes, lambda p: words(p[1].text), LEAST_WORDS, MOST_SCENE_STEPS)
    steps: list[Step] = []
    keys = []
    for g in groups:
        key = f"scene:{g[0][1].anchor}"
        keys.append((key, g))
        steps.append(Step(key, f"summary of {_tags(g)}",
                          lambda done, g=g: ask(_scene_text(g), SUMMARY_Q), step_tokens,
                          prime="In this scene,"))
    talkiest = max(scenes, key=lambda p: (_dialogue_lines(p[1]), words(p[1].text)))
    steps.append(Step("dialogue", f"dialogue of [{talkiest[1].anchor}]",
                      lambda done: ask(_scene_text([talkiest]), DIALOGUE_Q), step_tokens,
                      prime="The dialogue in this scene"))

    def summaries(done: dict) -> str:
        return f"Screenplay: {title}\n\n" + "\n".join(
            f"{_tags(g)} {_heading(g)}: {done.get(k, '')}" for k, g in keys)

    extra = f"\nThe reader also asks: {question.strip()}" if question.strip() else ""
    steps.append(Step("premise", "premise", lambda done: ask(summaries(done), PREMISE_Q),
                      step_tokens, prime="This is the story of"))
    steps.append(Step("verdict", "verdict",
                      lambda done: ask(summaries(done), VERDICT_Q + extra), step_tokens,
                      prime="What works in this script is"))

    def assemble(done: dict) -> str:
        out = ["## Premise", clean(done.get("premise", "")) or "(no premise was written)", "",
               "## Structure"]
        for key, g in keys:
            head = _heading(g)
            out.append(f"- {_tags(g)} {head + ': ' if head else ''}"
                       f"{clean(done.get(key, '')) or '(no summary was written)'}")
        out += ["", "## Dialogue",
                f"- [{talkiest[1].anchor}] {clean(done.get('dialogue', '')) or '(no note)'}",
                "", "## Verdict", clean(done.get("verdict", "")) or "(no verdict was written)"]
        return "\n".join(out)

    return StepPlan("coverage", steps, assemble)
