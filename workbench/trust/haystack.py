"""The haystack: the project's own documents, packed the way a synthesis job packs them, cut to
a target prompt length, with needles spliced into sections at chosen depths.

Why the user's documents and the synthesis packing: the question a trust check answers is
"will this model find a detail in *my* library, laid out as my jobs lay it out". So sections
keep their anchor tags ([Sc. 12], [01:12:04], [p. 7], [¶ 3]) and a needle lives inside a real
section, at a sentence boundary, taking that section's anchor: an answer that cites the anchor
can be checked exactly like a synthesis citation.

Length is the whole prompt as the backend counts it (chat template, preamble, documents,
question). The haystack is the longest run of whole sections, from the start of the library in
document order, whose prompt with the needles in place still fits the target; it never cuts a
section. Depth d% puts the needle d% of the way through the haystack's text (0: before the
first sentence, 100: after the last one).

Does not know models beyond `count_tokens`, or how answers are scored (scoring.py).
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from typing import Sequence

from engine.events import Message

from workbench.errors import WorkbenchError
from workbench.synthesis.packing import Source, assemble, document_blocks
from workbench.trust.needles import Needle

BOUNDARY_RE = re.compile(r"(?<=[.!?])[\"')\]”’]*\s+|\n+")
MAX_CHARS_PER_TOKEN = 12  # no tokenizer packs more text than this into one token
SINGLE = (
    "Answer the question from the documents above. Reply with one short sentence that states "
    "the fact, then the anchor of the section where it is written, in square brackets."
)
MULTI = (
    "Answer each question from the documents above, one numbered line per question. Each line "
    "states the fact in a short sentence, then the anchor of the section where it is written, "
    "in square brackets."
)


@dataclass(frozen=True)
class Placement:
    """Where one needle went: the host section (document, ordinal, anchor) and the character
    offset in the host's text at which the needle starts."""

    needle: Needle
    depth: float
    document_id: int
    ordinal: int
    anchor: str
    offset: int

    def as_dict(self) -> dict:
        return {"needle": self.needle.as_dict(), "depth": self.depth,
                "document_id": self.document_id, "ordinal": self.ordinal,
                "anchor": self.anchor, "offset": self.offset}


@dataclass(frozen=True)
class Haystack:
    messages: list[Message]
    placements: tuple[Placement, ...]
    sections: dict[int, list]  # {document_id: sections as sent, needles included}
    section_count: int
    prompt_tokens: int


@dataclass(frozen=True)
class Corpus:
    """The project's documents in packing order, flattened to (source index, section)."""

    sources: tuple[Source, ...]
    flat: tuple[tuple[int, object], ...]

    @classmethod
    def from_sources(cls, sources: Sequence[Source]) -> "Corpus":
        ordered = sorted(sources, key=lambda s: (s.document_id, s.version))
        flat = tuple((i, sec) for i, src in enumerate(ordered)
                     for sec in sorted(src.sections, key=lambda s: s.ordinal)
                     if (sec.text or "").strip())
        if not flat:
            raise WorkbenchError("the project's documents have no text to build a haystack from")
        return cls(tuple(ordered), flat)

    @classmethod
    def from_library(cls, library, project, document_ids: Sequence[int] = ()) -> "Corpus":
        info = library.get_project(project)
        docs = ([library.document(i) for i in document_ids] if document_ids
                else library.documents(info.id))
        for d in docs:
            if d.project_id != info.id:
                raise WorkbenchError(f"document {d.id} ({d.title}) is not in project {info.name}")
        if not docs:
            raise WorkbenchError(f"project {info.name} has no documents to build a haystack from")
        return cls.from_sources([Source(d.id, d.title, d.kind, d.version,
                                        tuple(library.sections(d.id))) for d in docs])


def question_tail(needles: Sequence[Needle]) -> str:
    if len(needles) == 1:
        return f"{SINGLE}\n\nQUESTION:\n{needles[0].question}"
    lines = "\n".join(f"{i}. {n.question}" for i, n in enumerate(needles, 1))
    return f"{MULTI}\n\nQUESTIONS:\n{lines}"


def boundaries(text: str) -> list[int]:
    """Offsets where a sentence may be inserted: start, after each sentence end, end."""
    return sorted({0, len(text), *(m.end() for m in BOUNDARY_RE.finditer(text))})


def needle_depths(depth: float, count: int) -> list[float]:
    """The first needle at `depth`, the others spread evenly through the rest of the text."""
    return [depth + i * (100.0 - depth) / count for i in range(count)]


def place(sections: Sequence, needles: Sequence[Needle], depth: float) -> list[tuple[int, int]]:
    """(section index, offset in its text) for each needle, deterministic in the inputs."""
    lengths = [len(s.text) for s in sections]
    total = sum(lengths)
    starts, acc = [], 0
    for n in lengths:
        starts.append(acc)
        acc += n
    spots = []
    for d in needle_depths(depth, len(needles)):
        point = total * min(max(d, 0.0), 100.0) / 100.0
        index = max(0, bisect.bisect_right(starts, point) - 1)
        if d >= 100.0:
            index = len(sections) - 1
        local = point - starts[index]
        cuts = boundaries(sections[index].text)
        spots.append((index, min(cuts, key=lambda c: (abs(c - local), c))))
    return spots


def splice(text: str, inserts: Sequence[tuple[int, str]]) -> str:
    """Insert sentences at offsets (applied from the end so offsets stay valid)."""
    for offset, sentence in sorted(inserts, key=lambda x: x[0], reverse=True):
        before, after = text[:offset], text[offset:]
        if before and not before[-1].isspace():
            sentence = " " + sentence
        if after and not after[0].isspace():
            sentence = sentence + " "
        text = before + sentence + after
    return text


class Builder:
    """Builds haystacks over one corpus for one backend, counting prompts exactly."""

    def __init__(self, backend, corpus: Corpus):
        self.backend = backend
        self.corpus = corpus
        self._cum_chars = []
        acc = 0
        for _, sec in corpus.flat:
            acc += len(sec.text) + len(sec.anchor) + 4
            self._cum_chars.append(acc)

    def build(self, k: int, needles: Sequence[Needle], depth: float) -> Haystack:
        """The first `k` sections with `needles` spliced in at `depth`, counted exactly."""
        chosen = self.corpus.flat[:k]
        spots = place([sec for _, sec in chosen], needles, depth)
        inserts: dict[int, list[tuple[int, str]]] = {}
        placements = []
        for needle, d, (index, offset) in zip(needles, needle_depths(depth, len(needles)),
                                              spots):
            _, sec = chosen[index]
            inserts.setdefault(index, []).append((offset, needle.text))
            placements.append(Placement(needle, round(d, 4), sec.document_id, sec.ordinal,
                                        sec.anchor, offset))
        per_source: dict[int, list] = {}
        for index, (src_i, sec) in enumerate(chosen):
            if index in inserts:
                sec = replace(sec, text=splice(sec.text, inserts[index]))
            per_source.setdefault(src_i, []).append(sec)
        sources = [replace(self.corpus.sources[i], sections=tuple(secs))
                   for i, secs in per_source.items()]
        packed = assemble(document_blocks(sources), question_tail(needles))
        by_doc: dict[int, list] = {}
        for src in sources:
            by_doc.setdefault(src.document_id, []).extend(src.sections)
        return Haystack(packed.messages, tuple(placements), by_doc, k,
                        self.backend.count_tokens(packed.messages))

    def fit(self, target: int, needles: Sequence[Needle], depth: float) -> Haystack:
        """The longest haystack (whole sections) whose prompt is at most `target` tokens; one
        section at least, even when that alone is longer (the caller sees `prompt_tokens`)."""
        n = len(self.corpus.flat)
        hi = min(n, bisect.bisect_right(self._cum_chars, target * MAX_CHARS_PER_TOKEN) + 1)
        best = self.build(1, needles, depth)
        if best.prompt_tokens > target:
            return best
        top = self.build(hi, needles, depth)
        if top.prompt_tokens <= target:
            return top
        lo = 1  # build(lo) fits, build(hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            trial = self.build(mid, needles, depth)
            if trial.prompt_tokens <= target:
                lo, best = mid, trial
            else:
                hi = mid
        return best

    def library_tokens(self, limit: int, needles: Sequence[Needle]) -> int | None:
        """Prompt tokens of the whole library with `needles`, or None if over `limit`."""
        whole = self.fit(limit, needles, 50.0)
        return whole.prompt_tokens if whole.section_count == len(self.corpus.flat) else None
