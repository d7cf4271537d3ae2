"""Draft comparison as steps: one step per added, cut or rewritten scene from the alignment
(workbench/synthesis/alignment.py), each reading only that scene or its diff, then a summary
and a recommendation written from the list of changes.

What changed is computed, not asked: every scene line starts with its anchor, its version and
what happened to it (`[Sc. 4] (v2) Added: INT. LAB--NIGHT.`); the model says what it does.
"""
from __future__ import annotations

from workbench.synthesis import alignment
from workbench.synthesis.packing import render_section
from workbench.synthesis.plans import Step, StepPlan, ask, clean, trim_words

MOST_CHANGES = 12
SCENE_WORDS = 600

ADDED_Q = ("This scene is new in the latest draft of a screenplay. In two sentences, say "
           "what it adds to the story.")
CUT_Q = ("This scene was cut from the latest draft of a screenplay. In two sentences, say "
         "what the story loses without it.")
CHANGED_Q = ("Lines starting with - were removed from this scene and lines starting with + "
             "were added in the latest draft. In two sentences, say what changed and whether "
             "it helps the scene.")
SUMMARY_Q = ("Above is the list of changes between two drafts of a screenplay. In two "
             "sentences, summarise how the script changed.")
ADVICE_Q = ("Above is the list of changes between two drafts of a screenplay. In two "
            "sentences, recommend which draft to keep working from, and why.")


def _changes(versions) -> list[dict]:
    rows = alignment.align(versions)
    names = [v.label or f"v{v.version}" for v in versions]
    newest, before = names[-1], len(names) - 2  # compare the newest with the one before it
    out = []
    for row in rows:
        if row.newest is None:
            (vi, old), = row.older.items()
            out.append({"kind": "cut", "section": old, "version": names[vi],
                        "lead": f"Cut (was in {names[vi]})", "text": render_section(old),
                        "q": CUT_Q, "prime": "Without this scene,"})
            continue
        old = row.older.get(before)
        heading = (row.newest.heading or "").strip()
        if old is None:
            out.append({"kind": "added", "section": row.newest, "version": newest,
                        "lead": f"Added{': ' + heading if heading else ''}",
                        "text": render_section(row.newest), "q": ADDED_Q,
                        "prime": "This new scene"})
        elif (old.text or "").strip() != (row.newest.text or "").strip():
            diff = alignment.scene_diff(old, row.newest)
            pct = round(100 * alignment.similarity(old, row.newest))
            out.append({"kind": "changed", "section": row.newest, "version": newest,
                        "lead": f"Rewritten ({pct}% similar to [{old.anchor}] in "
                                f"{names[before]})",
                        "text": f"{render_section(row.newest).splitlines()[0]}\n{diff}",
                        "q": CHANGED_Q, "prime": "In the new draft,"})
    return out[:MOST_CHANGES]


def build(sources, question: str = "", step_tokens: int = 80) -> StepPlan | None:
    versions = sorted(sources, key=lambda s: (s.document_id, s.version))
    if len(versions) < 2:
        return None
    changes = _changes(versions)
    steps = [Step(f"{c['kind']}:{c['section'].anchor}",
                  f"{c['kind']} scene [{c['section'].anchor}]",
                  lambda done, c=c: ask(trim_words(c["text"], SCENE_WORDS), c["q"]),
                  step_tokens, prime=c["prime"])
             for c in changes]

    def line(c: dict, done: dict) -> str:
        note = clean(done.get(f"{c['kind']}:{c['section'].anchor}", ""))
        return f"- [{c['section'].anchor}] ({c['version']}) {c['lead']}. {note}".rstrip()

    def listing(done: dict) -> str:
        return "\n".join(line(c, done) for c in changes) or "No scene changed."

    extra = f"\nThe writer also asks: {question.strip()}" if question.strip() else ""
    if changes:
        steps.append(Step("summary", "summary of changes",
                          lambda done: ask(listing(done), SUMMARY_Q + extra), step_tokens,
                          prime="Between the drafts,"))
        steps.append(Step("advice", "recommendation",
                          lambda done: ask(listing(done), ADVICE_Q), step_tokens,
                          prime="Keep working from"))
    counts = {k: sum(1 for c in changes if c["kind"] == k) for k in ("added", "cut", "changed")}

    def assemble(done: dict) -> str:
        tally = (f"{counts['added']} scene(s) added, {counts['cut']} cut, "
                 f"{counts['changed']} rewritten between {versions[-2].label or 'v?'} and "
                 f"{versions[-1].label or 'v?'}.")
        return "\n".join(["## Summary of changes", f"{tally} {clean(done.get('summary', ''))}"
                          .strip(), "", "## Scene by scene", listing(done), "",
                          "## Recommendation",
                          clean(done.get("advice", "")) or "No change to weigh."])

    return StepPlan("compare_drafts", steps, assemble)
