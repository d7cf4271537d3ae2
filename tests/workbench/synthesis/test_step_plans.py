"""Step plans without a model: which plan the chooser picks for which backend, and what each
template's plan is made of on real documents (steps, anchors attached by construction)."""
from __future__ import annotations

import pytest
from synthesis_docs import CYBER_BOB, MR3_ATG

from engine.models import EMBEDDED_NAME, resolve
from workbench.errors import WorkbenchError
from workbench.synthesis.plans import clean
from workbench.synthesis.plans.chooser import choose
from workbench.synthesis.plans.run import build_plan, no_triple_lines
from workbench.synthesis.runner import SynthesisRequest, load_sources
from workbench.synthesis.templates import get_template


def remote(kind: str, window: int):
    if kind == "openai":
        from engine.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend("m", "http://127.0.0.1:9/v1", context_window=window,
                                   probe=False)
    from engine.backends.anthropic import AnthropicBackend

    return AnthropicBackend("m", "http://127.0.0.1:9", context_window=window, probe=False)


def test_the_registry_says_which_models_are_small_and_which_strong():
    assert resolve(EMBEDDED_NAME).tier == "small"
    assert resolve("deepseek-v4-flash").tier == "strong"
    assert resolve("deepseek-v4-pro").tier == "strong"


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_remote_model_takes_the_whole_task_even_with_a_short_window(kind):
    backend = remote(kind, 8192)
    assert choose(backend, "coverage").kind == "whole"
    assert choose(backend, "coverage", "steps").kind == "steps"  # the user may insist
    assert build_plan("free", [], "", backend, "steps")[0].kind == "whole"  # no plan to run


def test_the_tier_hint_decides_before_the_window():
    backend = remote("openai", 1_000_000)
    backend.tier = "small"  # a registry entry may mark a remote model small
    assert choose(backend, "pacing").kind == "steps"
    backend.tier = "strong"
    assert choose(backend, "pacing").kind == "whole"
    with pytest.raises(WorkbenchError, match="unknown plan 'halves'"):
        choose(backend, "pacing", "halves")


def _sources(wb, testdocs, path, task):
    wb.import_files("p", [testdocs / path])
    return load_sources(wb.library, SynthesisRequest("p", task), get_template(task))


def test_coverage_plan_has_a_step_per_scene_and_anchors_by_construction(wb, testdocs):
    sources = _sources(wb, testdocs, CYBER_BOB, "coverage")
    backend = remote("openai", 8192)
    backend.tier = "small"
    choice, plan = build_plan("coverage", sources, "", backend)
    assert choice.kind == "steps"
    assert [s.key for s in plan.steps] == ["scene:Sc. 1", "scene:Sc. 2", "scene:Sc. 3",
                                           "dialogue", "premise", "verdict"]
    scene = plan.steps[1].build({})[-1].content
    assert "SUBURBAN TRAFFIC INTERSECTION" in scene and "<document" not in scene
    verdict = plan.steps[-1].build({"scene:Sc. 2": "Bob shrinks."})[-1].content
    assert "[Sc. 2] EXT. SUBURBAN TRAFFIC INTERSECTION--DAY: Bob shrinks." in verdict
    text = plan.assemble({"scene:Sc. 2": "[Sc. 2] Bob shrinks himself. And then he"})
    assert "- [Sc. 2] EXT. SUBURBAN TRAFFIC INTERSECTION--DAY: Bob shrinks himself." in text
    assert "And then he" not in text  # an unfinished sentence is dropped


def test_pacing_plan_has_a_note_per_flagged_cut_with_its_timecode(wb, testdocs):
    sources = _sources(wb, testdocs, MR3_ATG, "pacing")
    _, plan = build_plan("pacing", sources, "", remote("openai", 8192), "steps")
    flagged = [s.key for s in plan.steps]
    # no silences (each cue ends where the next begins): the slowest stretches are the cuts
    assert flagged == ["cut:00:02:01", "note:00:09:38", "cut:00:11:34", "note:00:13:09",
                       "overall"], flagged
    assert ">>> [00:11:34]" in plan.steps[2].build({})[-1].content
    text = plan.assemble({"cut:00:11:34": "The editor should cut the checks. They"})
    assert ("- [00:11:34] Slow stretch: 31 wpm for the next 2 min, against 49 overall. The "
            "editor should cut the checks.") in text.split("## Suggested cuts")[1]


def test_helpers_clean_answers_and_drop_third_copies():
    assert clean("## Notes\n[Sc. 1]: Bob runs. He is late. And the") == "Bob runs. He is late."
    assert no_triple_lines("a\nb\na\na\nc") == "a\nb\na\nc"
