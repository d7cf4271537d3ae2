"""Running a step plan: each step through the runner's `run_step` (streamed, stored, reused
on resume), with the loop guard on; a step the guard stopped, or that came back empty, is run
once more with a stronger repetition penalty, and the fuller of the two answers is kept.
The assembled answer never shows a line more than twice.

Which plan runs, and the template modules that build one, live beside this file.
"""
from __future__ import annotations

import re
from typing import Callable

from workbench.synthesis.plans import StepPlan, compare_drafts, coverage, pacing, primed
from workbench.synthesis.plans import paper_synthesis, shot_list
from workbench.synthesis.plans.chooser import Choice, choose

BUILDERS = {"coverage": coverage.build, "compare_drafts": compare_drafts.build,
            "pacing": pacing.build, "paper_synthesis": paper_synthesis.build,
            "shot_list": shot_list.build}
RETRY_PENALTY = 1.35
WORD_RE = re.compile(r"[\w']+")

# run_step(key, label, messages, max_new_tokens, repetition_penalty) -> StepResult
RunStep = Callable[[str, str, list, int, float], object]


def build_plan(template: str, sources, question: str, backend, requested: str = "auto",
               step_tokens: int | None = None) -> tuple[Choice, StepPlan | None]:
    """The plan this job runs: (choice, steps) with steps None when it runs whole."""
    builder = BUILDERS.get(template)
    choice = choose(backend, template, requested, has_plan=builder is not None)
    if choice.kind != "steps":
        return choice, None
    kwargs = {"step_tokens": step_tokens} if step_tokens else {}
    plan = builder(sources, question, **kwargs)
    if plan is None or not plan.steps:
        return Choice("whole", f"the documents give the {template} plan no steps to run"), None
    return choice, plan


def describe(choice: Choice, plan: StepPlan | None) -> str:
    if plan is None:
        return f"plan: whole task in one call ({choice.reason})"
    return f"plan: {len(plan.steps)} short steps ({choice.reason})"


def plan_json(choice: Choice, plan: StepPlan | None) -> dict:
    return {"kind": choice.kind if plan is not None else "whole",
            "steps": len(plan.steps) if plan is not None else 1, "reason": choice.reason}


def _words(text: str) -> int:
    return len(WORD_RE.findall(text or ""))


def run(plan: StepPlan, run_step: RunStep, should_stop: Callable[[], bool],
        penalty: float) -> tuple[str, list]:
    """Run (or reuse) every step in order; returns (assembled answer, StepResults)."""
    done: dict[str, str] = {}
    results = []
    for step in plan.steps:
        if should_stop():
            return "", results
        messages = primed(step.build(done), step.prime)
        res = run_step(step.key, step.label, messages, step.max_new_tokens, penalty)
        results.append(res)
        if getattr(res, "guard", None) or not res.text.strip():
            retry = run_step(f"{step.key}#retry", f"{step.label} (retry)", messages,
                             step.max_new_tokens, RETRY_PENALTY)
            results.append(retry)
            if _words(retry.text) > _words(res.text):
                res = retry
        done[step.key] = _joined(step.prime, res.text)
    return no_triple_lines(plan.assemble(done)), results


def _joined(prime: str, text: str) -> str:
    if not prime:
        return text
    if not text.strip():
        return ""  # the model added nothing: no answer, not the bare prime
    glue = "" if text[0] in " ,.;:" or prime.endswith(" ") else " "
    return prime + glue + text


def no_triple_lines(text: str) -> str:
    """Drop the third and later copies of any non-empty line (steps can agree too well)."""
    seen: dict[str, int] = {}
    out = []
    for line in text.splitlines():
        key = " ".join(WORD_RE.findall(line.casefold()))
        if key:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 2:
                continue
        out.append(line)
    return "\n".join(out)
