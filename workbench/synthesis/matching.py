"""Sentence matching: for each sentence of an answer, the job's passages that support it.

A model cites what it chooses to; a writer wants every sentence traceable. Each answer sentence
with enough content words is ranked against the job's own sections by the library's FTS5 BM25
(any of its words), and the best few candidates are kept only when they share at least
MIN_SHARED of the sentence's content words and MIN_COVERAGE of them (the threshold: BM25 ranks,
coverage decides, so an unrelated sentence gets nothing however the index scores it). A kept
passage becomes a Citation with origin "matched", verified the same way as the model's: the
longest run of the sentence's words found in the passage is cited as a quote beside the
passage's anchor and checked by citations.check against the stored text.

Hand-written because it is the product (what counts as support); the ranking itself is SQLite's.
Does not know the database (it is given a `rank(section_ids, words, limit)` callable, the
library's `rank_sections`) or the model.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable, Mapping, Sequence

from workbench.synthesis import citations as cite

Rank = Callable[[Sequence[int], Sequence[str], int], list[tuple[int, float]]]

MIN_WORDS = 4  # content words a sentence needs before it is matched at all
MIN_SHARED = 3  # content words a passage must share with the sentence
MIN_COVERAGE = 0.5  # ... and this share of the sentence's distinct content words
CANDIDATES = 4  # BM25's best, looked at per sentence
PER_SENTENCE = 2  # passages kept per sentence
MIN_QUOTE_WORDS = 3  # shortest run of words cited as a quote

# a sentence ends at . ! ? before a space, at a blank line, or before a list item or heading
# line; a single line break inside a paragraph (verse, screenplay action) does not end it
BREAK_RE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)|\n(?=\s*\n|\s*(?:[-*#>|]|\d+[.)])\s)")
ABBREVIATIONS = frozenset({"sc", "p", "pp", "mr", "mrs", "ms", "dr", "st", "vs", "e.g", "i.e",
                           "ext", "int", "no", "cf"})
WORD_RE = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each even few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just me more most my myself no nor not now of off on once only or other our ours out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself scene scenes script screenplay
""".split())


def sentences(text: str) -> list[tuple[int, int, str]]:
    """(start, end, sentence) of each non-empty sentence of `text`; "Sc. 2" and other
    abbreviations do not end one."""
    cuts, pos = [], 0
    for m in BREAK_RE.finditer(text):
        if not m.group(0).startswith("\n"):
            before = re.search(r"([\w.]+)$", text[pos:m.start()] + ".")
            word = (before.group(1) if before else "").rstrip(".").casefold()
            numbered = word.isdigit() and text[pos:m.start()].strip() == word  # "1. item"
            if word in ABBREVIATIONS or numbered:
                continue
        cuts.append((pos, m.end()))
        pos = m.end()
    cuts.append((pos, len(text)))
    out = []
    for a, b in cuts:
        raw = text[a:b]
        stripped = raw.strip()
        if stripped:
            start = a + raw.index(stripped[0])
            out.append((start, start + len(stripped), stripped))
    return out


def content_words(text: str) -> list[str]:
    """Casefolded words that carry meaning: no stopwords, no anchors, no one- or two-letter
    words (numbers stay)."""
    text = cite.ANCHOR_RE.sub(" ", text or "")
    return [w for w in WORD_RE.findall(cite.normalize(text))
            if (len(w) > 2 or w.isdigit()) and w not in STOPWORDS]


def _longest_run(sentence: str, passage: str) -> str | None:
    """The longest run of the sentence's words (as written) that occurs in the passage."""
    bare = cite.ANCHOR_RE.sub(" ", sentence)
    words = [w.strip("\"'“”‘’()[],;:.!?") for w in bare.split()]
    words = [w for w in words if w]
    haystack = cite.normalize(passage)
    best: list[str] = []
    for i in range(len(words)):
        j = i + max(len(best), 1)
        while j <= len(words) and cite.normalize(" ".join(words[i:j])) in haystack:
            if j - i > len(best):
                best = words[i:j]
            j += 1
    return " ".join(best) if len(best) >= MIN_QUOTE_WORDS else None


def _verified(doc_id: int, sec, quote: str | None, sections: Mapping[int, Sequence]) -> bool:
    """citations.check on `[anchor] "quote"`, as if the model had written it."""
    written = f"[{sec.anchor}]" + (f' "{quote}"' if quote else "")
    checked = cite.check(written, {doc_id: sections[doc_id]})
    return bool(checked) and checked[0].verified


def match(answer: str, sections: Mapping[int, Sequence], rank: Rank) -> list[cite.Citation]:
    """Matched citations for each sentence of `answer` against `sections`
    {document_id: [SectionInfo]}; start/end give the sentence's span in `answer`."""
    by_id = {s.id: (d, s) for d, secs in sections.items() for s in secs}
    out: list[cite.Citation] = []
    for start, end, sentence in sentences(answer):
        words = list(dict.fromkeys(content_words(sentence)))
        if len(words) < MIN_WORDS:
            continue
        kept = 0
        for section_id, _score in rank(list(by_id), words, CANDIDATES):
            if section_id not in by_id or kept >= PER_SENTENCE:
                continue
            doc_id, sec = by_id[section_id]
            passage = f"{sec.heading or ''}\n{sec.text}"
            have = set(content_words(passage))
            shared = [w for w in words if w in have]
            if len(shared) < MIN_SHARED or len(shared) < MIN_COVERAGE * len(words):
                continue
            quote = _longest_run(sentence, passage)
            out.append(cite.Citation(
                sec.anchor, doc_id, _verified(doc_id, sec, quote, sections), sec.id, quote,
                f"{len(shared)} of {len(words)} words of the sentence are in {sec.anchor}",
                start, end, "matched", sentence))
            kept += 1
    return out


def with_sentences(answer: str, found: Sequence[cite.Citation]) -> list[cite.Citation]:
    """The model's citations, each given the answer sentence it sits in."""
    spans = sentences(answer)
    return [replace(c, sentence=next((s for a, b, s in spans if a <= c.start < b), None))
            for c in found]

