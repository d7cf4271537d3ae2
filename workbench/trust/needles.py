"""Needles: short synthetic facts planted in the user's own documents, made from a seed.

Why made up: a fact the model could know, or guess from the rest of the library, says nothing
about whether it read the context. Every needle therefore pairs invented names (built from
syllables, so they occur in no real document) with a short answer that is checked verbatim:
a prop ("a copper lantern shaped like a heron"), a line of dialogue (a code phrase someone
says), or a date. The same seed and key always give the same needle (Python's `random.Random`
seeded with a string is stable across processes and platforms).

Does not know where a needle goes (haystack.py) or how answers are judged (scoring.py).
"""
from __future__ import annotations

import random
from dataclasses import dataclass

KINDS = ("prop", "dialogue", "date")

_ONSETS = ("b", "br", "d", "dr", "f", "g", "gr", "k", "kl", "l", "m", "n", "p", "pr", "qu",
           "r", "s", "st", "t", "tr", "v", "z")
_VOWELS = ("a", "e", "i", "o", "u", "ae", "ou", "ei")
_CODAS = ("", "", "n", "r", "l", "s", "th", "x", "m")

_COLORS = ("amber", "cobalt", "crimson", "emerald", "ivory", "saffron", "violet", "silver",
           "copper", "indigo")
_MATERIALS = ("brass", "glass", "walnut", "porcelain", "pewter", "jade", "bone", "tin")
_OBJECTS = ("lantern", "music box", "compass", "hourglass", "teapot", "pocket watch",
            "snuff box", "chess knight", "bell", "inkwell")
_PLACES = ("the greenhouse", "the boathouse", "the attic", "the wine cellar", "the bell tower",
           "the night train", "the lighthouse", "the observatory")
_WORDS = ("marmalade", "thistle", "lantern", "pelican", "juniper", "quartz", "harpoon",
          "walrus", "saffron", "tinder", "orchid", "anvil")
_EVENTS = ("coronation", "shipwreck", "wedding", "duel", "eclipse festival", "grand opening")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass(frozen=True)
class Needle:
    """One planted fact: `text` goes into the haystack, `question` is asked, and an answer is
    right when it contains `answer` (after normalisation, see scoring.py)."""

    key: str  # stable id within a check, e.g. "3000:50:0:1"
    kind: str  # one of KINDS
    text: str
    question: str
    answer: str

    def as_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "text": self.text,
                "question": self.question, "answer": self.answer}


def rng_for(seed: int, *parts: object) -> random.Random:
    """A generator that depends only on the seed and the parts (not on the process)."""
    return random.Random(":".join(str(p) for p in (seed, *parts)))


def invented_name(rng: random.Random, syllables: int = 2) -> str:
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
                   for _ in range(syllables))
    return word.capitalize()


def _person(rng: random.Random) -> str:
    return f"{invented_name(rng, 2)} {invented_name(rng, 3)}"


def _prop(rng: random.Random, key: str) -> Needle:
    owner = _person(rng)
    item = f"{rng.choice(_COLORS)} {rng.choice(_MATERIALS)} {rng.choice(_OBJECTS)}"
    place = rng.choice(_PLACES)
    article = "an" if item[0] in "aeiou" else "a"
    return Needle(
        key, "prop",
        f"{owner} kept {article} {item} hidden in {place}.",
        f"What did {owner} keep hidden in {place}?",
        item,
    )


def _dialogue(rng: random.Random, key: str) -> Needle:
    speaker = _person(rng)
    phrase = f"{rng.choice(_WORDS)} {rng.randint(10, 99)}"
    place = rng.choice(_PLACES)
    return Needle(
        key, "dialogue",
        f'{speaker} whispered: "The password for {place} is {phrase}."',
        f"What password did {speaker} whisper for {place}?",
        phrase,
    )


def _date(rng: random.Random, key: str) -> Needle:
    who = _person(rng)
    event = rng.choice(_EVENTS)
    date = f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}, {rng.randint(1701, 1899)}"
    return Needle(
        key, "date",
        f"The {event} of {who} took place on {date}.",
        f"On what date did the {event} of {who} take place?",
        date,
    )


_MAKERS = {"prop": _prop, "dialogue": _dialogue, "date": _date}


def make_needle(seed: int, key: str, kind: str | None = None) -> Needle:
    """The needle for (seed, key); its kind is drawn from the seed unless given."""
    rng = rng_for(seed, "needle", key)
    kind = kind or rng.choice(KINDS)
    if kind not in _MAKERS:
        raise ValueError(f"unknown needle kind {kind!r}: choose one of {', '.join(KINDS)}")
    return _MAKERS[kind](rng, key)


def make_needles(seed: int, key: str, count: int) -> list[Needle]:
    """`count` needles for one cell, with distinct answers (so each question has one fact)."""
    out: list[Needle] = []
    attempt = 0
    while len(out) < count:
        needle = make_needle(seed, f"{key}:{attempt}")
        attempt += 1
        if all(needle.answer != n.answer for n in out):
            out.append(Needle(f"{key}:{len(out)}", needle.kind, needle.text,
                              needle.question, needle.answer))
    return out
