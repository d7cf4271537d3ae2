"""The loop guard: stops a generation that has started to repeat itself or to echo its prompt.

Why: a small model decoding greedily falls into loops (one sentence, one heading, `TASK: ...`
over and over) and, fed a long packed prompt, copies its markup (`<document id="1" ...>`) back
out. A repetition penalty makes loops rarer; this guard ends the ones that still happen, on the
text itself, so local and remote backends share it (a remote server never sees it).

Three checks, each on text the caller has not yet been given (synthesis steps ask for them):
- markup: a `stop_markup` string (prompt markup such as `<document`) ends the answer before it;
- lines: a line that already appeared twice ends the answer before its third copy;
- n-grams: an `ngram`-word run that already appeared ends the answer at the last sentence end
  before its second copy (a run that long repeats only in a loop); a piece of a word repeated
  five times over (`embed_embed_embed_...`) is kept once.
Text is released up to the last sentence or line end, so a cut never takes back what a
consumer already has.
A fourth, `repeats` (the HTTP API's default for greedy requests), only ends a degenerate loop:
the same sentence or line of three words or more, `repeats` times in a row. It holds nothing
back (streamed text stays immediate) and spares code and tables, whose repeated lines are
rarely the same sentence four times running.

Does not know tokens or models: it sees the decoded text stream only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

WORD_RE = re.compile(r"[\w']+")
BOUNDARY_RE = re.compile(r"[.!?](?=\s)|\n")
RUN_RE = re.compile(r"(.{2,40}?)\1{4,}", re.S)
MAX_LINE_COPIES = 2


def _norm_line(line: str) -> str:
    return " ".join(WORD_RE.findall(line.casefold()))


@dataclass
class LoopGuard:
    """Feed text deltas in, get back the text that may be released; `tripped` says why it
    stopped ("loop: ..." or "markup: ..."), None while the text is still fine."""

    ngram: int = 0  # words in a run that may not repeat; 0 turns the n-gram check off
    markup: tuple[str, ...] = ()
    repeats: int = 0  # the same sentence this many times in a row ends the answer; 0: off
    text: str = ""
    released: int = 0  # characters of `text` handed out
    tripped: str | None = None
    _lines: dict = field(default_factory=dict)
    _checked_lines: int = 0  # characters of `text` whose complete lines were counted

    @property
    def active(self) -> bool:
        return bool(self.ngram or self.markup or self.repeats)

    def feed(self, delta: str, final: bool = False) -> str:
        if self.tripped is not None:
            return ""
        self.text += delta
        if not (self.ngram or self.markup):  # repeats only: release at once, stop a loop
            out = self._release(len(self.text))
            found = self._repeat_cut()
            if found is not None:
                self.tripped = found[1]
            return out
        cut = self._repeat_cut() if self.repeats else None
        markup = self._markup_cut()
        if markup is not None and (cut is None or markup[0] < cut[0]):
            cut = markup
        for found in (self._line_cut(final), self._ngram_cut(), self._run_cut()):
            if found is not None and (cut is None or found[0] < cut[0]):
                cut = found
        if cut is not None:
            end, why = cut
            self.tripped = why
            return self._release(max(end, self.released))
        if final:
            return self._release(len(self.text))
        bounds = [m.end() for m in BOUNDARY_RE.finditer(self.text, self.released)]
        end = bounds[-1] if bounds else self.released
        if self.markup:  # hold back a possible start of a markup string
            end = min(end, self._markup_safe())
        return self._release(end)

    def _release(self, end: int) -> str:
        out = self.text[self.released:end] if end > self.released else ""
        self.released = max(self.released, end)
        return out

    def _markup_safe(self) -> int:
        keep = 0
        for m in self.markup:
            for n in range(min(len(m) - 1, len(self.text)), keep, -1):
                if self.text.endswith(m[:n]):
                    keep = n
                    break
        return len(self.text) - keep

    def _markup_cut(self) -> tuple[int, str] | None:
        hits = [(i, m) for m in self.markup if (i := self.text.find(m, self.released)) >= 0]
        if not hits:
            return None
        i, m = min(hits)
        line_start = self.text.rfind("\n", 0, i) + 1
        return (line_start if not self.text[line_start:i].strip(" -*>#") else i), \
            f"markup: {m}"

    def _line_cut(self, final: bool) -> tuple[int, str] | None:
        end = len(self.text) if final else self.text.rfind("\n") + 1
        pos = self._checked_lines
        while pos < end:
            nl = self.text.find("\n", pos)
            stop = end if nl < 0 or nl >= end else nl + 1
            key = _norm_line(self.text[pos:stop])
            if key:
                self._lines[key] = self._lines.get(key, 0) + 1
                if self._lines[key] > MAX_LINE_COPIES:
                    self._checked_lines = stop
                    return pos, f"loop: the line {self.text[pos:stop].strip()[:60]!r} repeated"
            pos = stop
        self._checked_lines = max(self._checked_lines, end)
        return None

    def _repeat_cut(self) -> tuple[int, str] | None:
        """The start of the `repeats`-th identical sentence in a row, when the text ends so."""
        if self.repeats <= 1:
            return None
        window = max(0, len(self.text) - 4000)
        starts, units = [], []
        pos = window
        for m in BOUNDARY_RE.finditer(self.text, window):
            key = _norm_line(self.text[pos:m.end()])
            if key:
                starts.append(pos)
                units.append(key)
            pos = m.end()
        last = units[-self.repeats:]
        if len(last) == self.repeats and len(set(last)) == 1 and len(last[0].split()) >= 3:
            return starts[-1], f"loop: {last[0][:60]!r} {self.repeats} times in a row"
        return None

    def _run_cut(self) -> tuple[int, str] | None:
        if self.ngram <= 0:
            return None
        for m in RUN_RE.finditer(self.text, self.released):
            if any(ch.isalpha() for ch in m.group(1)):
                return m.start() + len(m.group(1)), f"loop: {m.group(1)!r} repeated"
        return None

    def _ngram_cut(self) -> tuple[int, str] | None:
        n = self.ngram
        if n <= 0:
            return None
        words = list(WORD_RE.finditer(self.text.casefold()))
        if len(words) < 2 * n:
            return None
        seen: dict[tuple, int] = {}
        for k in range(len(words) - n + 1):
            gram = tuple(w.group() for w in words[k:k + n])
            if gram in seen and k >= seen[gram] + n:
                start = words[k].start()
                bounds = [m.end() for m in BOUNDARY_RE.finditer(self.text, 0, start)]
                cut = bounds[-1] if bounds else start
                return cut, f"loop: {' '.join(gram)!r} repeated"
            seen.setdefault(gram, k)
        return None


def guard_for(params) -> LoopGuard | None:
    """The guard a GenerationParams asks for, or None when it asks for none."""
    guard = LoopGuard(params.loop_guard, tuple(m for m in params.stop_markup if m),
                      params.loop_repeats)
    return guard if guard.active else None


def filter_events(guard: LoopGuard | None, events: list, final: bool = False) -> list:
    """Text deltas through the guard (others pass); nothing after it trips."""
    from engine.events import TextDelta

    if guard is None:
        return events
    out = []
    for ev in events:
        if guard.tripped is not None:
            break
        if isinstance(ev, TextDelta):
            text = guard.feed(ev.text)
            if text:
                out.append(TextDelta(text))
        else:
            out.append(ev)
    if final and guard.tripped is None:
        rest = guard.feed("", final=True)
        if rest:
            out.append(TextDelta(rest))
    return out
