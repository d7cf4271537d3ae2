"""A step plan resumed: the steps a job already finished (kept in its step store, as job_steps
rows are after a crash) are reused, and only the missing ones run on the embedded default."""
from __future__ import annotations

import pytest
from synthesis_docs import CYBER_BOB

from workbench.synthesis.mapreduce import StepResult
from workbench.synthesis.runner import MemorySteps, SynthesisRequest, run_synthesis

pytestmark = pytest.mark.slow

# what the model wrote after each step's begun answer ("In this scene," ...), as stored
DONE = {"scene:Sc. 1": " Bob walks Margaret's dog in the park.",
        "scene:Sc. 2": " Bob shrinks himself with a phone app.",
        "scene:Sc. 3": " Bob fixes the traffic light from inside.",
        "dialogue": " is brisk and silly.",
        "premise": " Bob, who wants to fix a traffic light."}


def test_only_the_unfinished_step_runs(wb, testdocs, backend):
    wb.import_files("p", [testdocs / CYBER_BOB])
    steps = MemorySteps()
    for key, text in DONE.items():
        steps.put(key, StepResult(key, text, 100, 20, 1.0))
    seen = []
    result = run_synthesis(SynthesisRequest("p", "coverage", max_new_tokens=40), backend,
                           wb.library, progress=seen.append, steps=steps)
    reused = [p for p in seen if "already done, reused" in p.message]
    assert len(reused) == 5 and {p.phase for p in reused} == {"step"}
    ran = [s for s in result.steps if not s.reused]
    assert len(ran) in (1, 2) and "verdict" in steps.results  # a retry may follow the step
    assert "- [Sc. 2] EXT. SUBURBAN TRAFFIC INTERSECTION--DAY: In this scene, Bob shrinks " \
           "himself with a phone app." in result.text
    verdict = result.text.split("## Verdict", 1)[1].strip()
    assert verdict.startswith("What works in this script is") and len(verdict.split()) > 8
    assert "## Premise\nThis is the story of Bob, who wants to fix a traffic light." \
        in result.text
    assert result.extra["plan"] == {"kind": "steps", "steps": 6,
                                    "reason": "a small model does short, well-posed steps best"}
