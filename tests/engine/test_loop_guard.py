"""The loop guard on text (engine/loop_guard.py): markup echoes, repeated lines and repeated
word runs end the answer at a clean point, and nothing already released is taken back.
The texts are what the embedded default wrote greedily (issue 15)."""
from __future__ import annotations

from engine.loop_guard import LoopGuard

DOG_LOOP = ("The scene ends with a dramatic scene where a cute little doggy is brought to the "
            "park and is shown to be a smart dog. The scene also ends with a scene where a cute "
            "little doggy is brought to the park and is shown to be a smart dog. The scene "
            "also ends with a scene where a cute little doggy is brought to the park.")


def stream(guard: LoopGuard, text: str, piece: int = 3) -> str:
    out = ""
    for k in range(0, len(text), piece):
        out += guard.feed(text[k:k + piece])
        if guard.tripped:
            return out
    return out + guard.feed("", final=True)


def test_a_repeated_sentence_is_cut_at_the_sentence_end_before_it():
    guard = LoopGuard(ngram=8)
    out = stream(guard, DOG_LOOP)
    assert out == ("The scene ends with a dramatic scene where a cute little doggy is brought "
                   "to the park and is shown to be a smart dog.")
    assert guard.tripped.startswith("loop: ")


def test_a_heading_may_appear_twice_but_not_three_times():
    text = "".join(f"## Suggested cuts\n- [00:0{k}:02] cut take {k}\n" for k in range(1, 6))
    guard = LoopGuard(ngram=8)
    out = stream(guard, text)
    assert out == "## Suggested cuts\n- [00:01:02] cut take 1\n" \
                  "## Suggested cuts\n- [00:02:02] cut take 2\n"
    assert "'## Suggested cuts' repeated" in guard.tripped


def test_echoed_prompt_markup_ends_the_answer_before_it():
    text = 'The dog is smart.\n<document id="1" title="Cyber Bob" kind="screenplay">\n[Sc. 1]'
    guard = LoopGuard(markup=("<document", "TASK ("))
    out = stream(guard, text, piece=2)
    assert out == "The dog is smart.\n" and guard.tripped == "markup: <document"
    guard = LoopGuard(markup=("TASK (",))
    assert stream(guard, "Bob wins. TASK (Screenplay coverage): write") == "Bob wins. "


def test_plain_text_passes_whole_and_in_order():
    text = ("[Sc. 1] Bob meets the dog in the park.\n[Sc. 2] The boss calls.\n"
            "[Sc. 3] The traffic light is fixed. \"Careful!\" says Bob.")
    guard = LoopGuard(ngram=8, markup=("<document",))
    assert stream(guard, text, piece=1) == text and guard.tripped is None
    off = LoopGuard()
    assert not off.active and stream(off, DOG_LOOP) == DOG_LOOP


def test_a_piece_of_a_word_repeated_over_and_over_is_kept_once():
    guard = LoopGuard(ngram=8)
    out = stream(guard, 'See <a src="https://www.youtube.com/embed_embed_embed_embed_embed_embed_')
    assert out == 'See <a src="https://www.youtube.com/embed_' and "embed_" in guard.tripped
    rule = LoopGuard(ngram=8)
    assert stream(rule, "Notes\n----------\n| a | b |") == "Notes\n----------\n| a | b |"


def test_repeats_only_stops_a_sentence_loop_and_holds_nothing_back():
    """The HTTP API's greedy default: what the embedded model wrote for Claude Code's --bare
    prompt ("I'm a human." until max_tokens) ends at its fourth copy; text streams at once."""
    from engine.loop_guard import LoopGuard

    guard = LoopGuard(repeats=4)
    out = guard.feed("Hello! I'm here to help")
    assert out == "Hello! I'm here to help"  # nothing held back
    for _ in range(3):
        out += guard.feed(" with your questions. I'm a human.")
        assert guard.tripped is None  # a sentence repeated across copies is not yet a loop
    for _ in range(3):  # each copy counts once the next one's leading space completes it
        out += guard.feed(" I'm a human.")
    assert guard.tripped is None
    out += guard.feed(" ")
    assert guard.tripped is not None and "i'm a human" in guard.tripped
    assert out.count("I'm a human.") == 6 and guard.feed(" I'm a human.") == ""


def test_repeats_spares_code_and_short_lines():
    from engine.loop_guard import LoopGuard

    guard = LoopGuard(repeats=4)
    code = "if a:\n    x = 1\n}\n}\n}\n}\nprint(x)\nreturn None\nreturn None\nreturn None\n"
    assert guard.feed(code) == code and guard.tripped is None
