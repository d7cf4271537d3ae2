"""`mask`: the names given and the model families we know, with version suffixes, become
[model]; ordinary words that merely contain a family stem stay."""
from __future__ import annotations

import pytest

from workbench.compare.masking import MASK, mask


@pytest.mark.parametrize("text, expected", [
    ("As DeepSeek V4-Flash, I think", f"As {MASK}, I think"),
    ("I am Qwen3.6-27B.", f"I am {MASK}."),
    ("I am Qwen. Here is", f"I am {MASK}. Here is"),
    ("SmolLM2-135M here", f"{MASK} here"),
    ("Smol LM answers", f"{MASK} answers"),
    ("GPT-5.5 and Kimi K2.6 agree", f"{MASK} and {MASK} agree"),
    ("Llama 3 professional", f"{MASK} professional"),
    ("a glimmer of graphic phi-losophy, Philip", "a glimmer of graphic phi-losophy, Philip"),
])
def test_families_and_their_versions_are_masked(text, expected):
    assert mask(text) == expected


def test_given_names_and_aliases_are_masked_case_insensitively_longest_first():
    names = ["second-longhand", "smollm2-135m-instruct", "smollm2"]
    assert mask("I am Second-Longhand; SMOLLM2-135M-INSTRUCT wrote this", names) == \
        f"I am {MASK}; {MASK} wrote this"
    assert mask("my-own-model-x said so", ["my-own-model-x"]) == f"{MASK} said so"
    assert mask("nothing to hide", ["", "  "]) == "nothing to hide"
