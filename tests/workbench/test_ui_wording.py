"""The app's error texts name the page's controls, not command-line flags: the real messages
the shared code raises (a job that does not fit, a free prompt without a question, a missing
added model), as the UI shows them."""
from __future__ import annotations

import pytest

from workbench.errors import WorkbenchError
from workbench.synthesis.budget import Budget, SourceCount, refuse
from workbench.synthesis.runner import SynthesisRequest, plan
from workbench.ui.wording import flags_in, for_ui


def test_the_refusal_points_to_the_map_reduce_checkbox():
    budget = Budget(8192, 256, 9000, (SourceCount("d1", "Script", 8800, (1,)),), 200)
    raw = str(refuse(budget))
    assert flags_in(raw) == ["--map-reduce"]
    shown = for_ui(raw)
    assert flags_in(shown) == [] and 'tick "Map-reduce if it does not fit"' in shown
    assert "8,192" in shown  # the figures stay


def test_a_free_prompt_without_a_question_points_to_the_question_box():
    with pytest.raises(WorkbenchError) as err:
        plan(SynthesisRequest(project="p", task="free"), None, None)
    assert flags_in(str(err.value)) == ["--prompt"]
    assert for_ui(str(err.value)) == "a free prompt needs a question (type it in the " \
                                     "Question box)"
