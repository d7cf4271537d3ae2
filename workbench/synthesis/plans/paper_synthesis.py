"""Paper synthesis as steps: one step per stretch of pages of each paper (what it claims or
shows there), then the agreements and open questions written from those notes.

Every claim line starts with the paper's title and the page anchors it came from, put there by
the assembler.
"""
from __future__ import annotations

from workbench.synthesis.packing import render_section
from workbench.synthesis.plans import (Step, StepPlan, ask, clean, group_small, trim_words,
                                       words)

MOST_PARTS = 6  # steps per paper; neighbouring pages are read together beyond that
PART_WORDS = 900

CLAIM_Q = ("These are pages of a research paper. In two sentences, say what the paper claims "
           "or shows on these pages, and on what evidence.")
AGREE_Q = ("Above are notes on research papers, page by page. In two sentences, say where "
           "they agree and where they differ.")
OPEN_Q = ("Above are notes on research papers, page by page. In two sentences, say what "
          "questions they leave open.")


def build(sources, question: str = "", step_tokens: int = 80) -> StepPlan | None:
    papers = [s for s in sorted(sources, key=lambda s: (s.document_id, s.version))
              if s.sections]
    if not papers:
        return None
    parts = []  # (key, source, sections)
    for src in papers:
        secs = sorted(src.sections, key=lambda s: s.ordinal)
        for g in group_small(secs, lambda s: words(s.text), 150, MOST_PARTS):
            parts.append((f"part:{src.document_id}:{g[0].anchor}", src, g))
    steps = [Step(key, f"{src.title}, [{g[0].anchor}]",
                  lambda done, g=g: ask(trim_words("\n\n".join(render_section(s) for s in g),
                                                   PART_WORDS), CLAIM_Q), step_tokens,
                  prime="On these pages, the paper")
             for key, src, g in parts]

    def tags(g) -> str:
        return f"[{g[0].anchor}]" if len(g) == 1 else f"[{g[0].anchor}]–[{g[-1].anchor}]"

    def notes(done: dict) -> str:
        return "\n".join(f"- {src.title} {tags(g)}: {clean(done.get(k, ''))}"
                         for k, src, g in parts)

    extra = f"\nThe reader also asks: {question.strip()}" if question.strip() else ""
    steps.append(Step("agree", "agreements", lambda d: ask(notes(d), AGREE_Q), step_tokens,
                      prime="The papers"))
    steps.append(Step("open", "open questions", lambda d: ask(notes(d), OPEN_Q + extra),
                      step_tokens, prime="It remains open"))

    def assemble(done: dict) -> str:
        return "\n".join(["## Claims", notes(done), "", "## Agreements and disagreements",
                          clean(done.get("agree", "")) or "(none written)", "",
                          "## Open questions", clean(done.get("open", "")) or "(none written)"])

    return StepPlan("paper_synthesis", steps, assemble)
