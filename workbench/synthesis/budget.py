"""The token budget: what a job costs in the chosen backend's tokens against its real window,
and, when it does not fit, a map-reduce plan over anchor-aligned chunks. Never truncates.

Counts come from `backend.count_tokens` (the tokenizer and chat template that will run the
prompt). Per-source figures are the difference a source makes to the templated prompt; the
total is the exact count of the whole prompt. Chunks never split a section, and every chunk's
prompt is counted exactly before it is accepted. A remote model counted without its own
tokenizer says so: `estimate` holds the backend's reason, shown in the JSON and the text.

Does not know how steps run (mapreduce.py, runner.py) or where documents come from.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from engine.events import Message

from workbench.errors import BudgetExceeded
from workbench.synthesis.packing import Block, Packed, Source, render_document, render_section

PART_LABEL_SLACK = 16  # chunks are counted as "part 1 of 1"; the real label may be longer


@dataclass(frozen=True)
class SourceCount:
    key: str
    label: str
    tokens: int
    document_ids: tuple[int, ...]


@dataclass(frozen=True)
class Budget:
    window: int
    reserved_output: int
    prompt_tokens: int
    sources: tuple[SourceCount, ...]
    overhead_tokens: int  # preamble, task, contract, facts, question, chat template
    estimate: str | None = None  # why the counts are an estimate (a remote without tokenizer)

    @property
    def needed(self) -> int:
        return self.prompt_tokens + self.reserved_output

    @property
    def fits(self) -> bool:
        return self.needed <= self.window

    def as_json(self) -> dict:
        """The `budget` object of `synthesize --json` (DESIGN.md §4)."""
        out = {"window": self.window, "prompt_tokens": self.prompt_tokens,
               "reserved_output": self.reserved_output}
        if self.estimate:
            out["estimate"] = self.estimate
        return out

    def as_dict(self) -> dict:
        return {**self.as_json(), "overhead_tokens": self.overhead_tokens, "fits": self.fits,
                "sources": [{"key": s.key, "label": s.label, "tokens": s.tokens,
                             "document_ids": list(s.document_ids)} for s in self.sources]}

    def describe(self) -> str:
        lines = [f"  {s.label}: {s.tokens:,} tokens" for s in self.sources]
        lines.append(f"  instructions, question and chat template: {self.overhead_tokens:,}")
        lines.append(f"  reserved for the answer: {self.reserved_output:,}")
        verdict = ("fits" if self.fits else
                   f"does not fit: {self.needed - self.window:,} tokens over")
        if self.estimate:
            lines.append(f"  counts are {self.estimate}")
        return (f"{self.needed:,} of the model's {self.window:,}-token window ({verdict})\n"
                + "\n".join(lines))


def count_budget(backend, packed: Packed, reserved_output: int) -> Budget:
    """Exact prompt count plus each block's share of it."""
    total = backend.count_tokens(packed.messages)
    empty = backend.count_tokens([packed.messages[0], Message("user", packed.tail)])
    counts = []
    for b in packed.blocks:
        with_block = backend.count_tokens(
            [packed.messages[0], Message("user", f"{b.text}\n\n{packed.tail}")])
        counts.append(SourceCount(b.key, b.label, with_block - empty, b.document_ids))
    return Budget(backend.context_window, reserved_output, total, tuple(counts), empty,
                  getattr(backend, "count_estimate", None))


def refuse(budget: Budget, what: str = "the selected documents") -> BudgetExceeded:
    """The error a job raises when it does not fit and no plan was chosen; carries `budget`."""
    err = BudgetExceeded(
        f"{what} do not fit the model's window, and nothing is cut silently.\n"
        f"{budget.describe()}\n"
        "Choose fewer documents, or run it as a map-reduce plan (--map-reduce on the command "
        "line) whose answer says it was map-reduced.")
    err.budget = budget
    return err


@dataclass(frozen=True)
class Chunk:
    index: int
    source: Source
    sections: tuple
    prompt_tokens: int  # exact tokens of this chunk's map prompt

    @property
    def first_anchor(self) -> str:
        return self.sections[0].anchor

    @property
    def last_anchor(self) -> str:
        return self.sections[-1].anchor

    @property
    def label(self) -> str:
        return f"{self.source.title}, [{self.first_anchor}]–[{self.last_anchor}]"

    def block(self, total: int) -> Block:
        part = f"{self.index + 1} of {total}"
        return Block(f"chunk:{self.index}", self.label,
                     render_document(self.source, self.sections, part=part),
                     (self.source.document_id,))


def plan_chunks(backend, sources: Sequence[Source], map_messages, reserved: int,
                max_prompt: int | None = None) -> list[Chunk]:
    """Anchor-aligned chunks whose map prompts each fit the window with `reserved` to spare
    (and, if given, stay under `max_prompt` tokens: small models read short parts better, and
    attention cost grows with the square of a part's length).

    `map_messages(block)` builds a map step's messages around a chunk block (so the count
    includes the map instruction)."""
    limit = backend.context_window - reserved
    if max_prompt is not None:
        limit = min(limit, max_prompt)
    overhead = backend.count_tokens(map_messages(Block("probe", "", "", ())))
    if overhead >= limit:
        raise BudgetExceeded(f"the map-step instructions alone take {overhead:,} of the "
                             f"{limit:,} tokens a step may use")
    chunks: list[Chunk] = []
    for src in sorted(sources, key=lambda s: (s.document_id, s.version)):
        sections = sorted(src.sections, key=lambda s: s.ordinal)
        if not sections:
            continue
        rendered = [render_section(s) for s in sections]
        whole = backend.count_tokens([Message("user", "\n\n".join(rendered))])
        per_char = whole / max(1, sum(len(r) + 2 for r in rendered))
        estimates = [max(1, int((len(r) + 2) * per_char)) + 1 for r in rendered]
        start = 0
        while start < len(sections):
            room, end = (limit - overhead) * 0.92, start
            while end < len(sections) and (end == start or room - estimates[end] >= 0):
                room -= estimates[end]
                end += 1
            while True:
                chunk = Chunk(len(chunks), src, tuple(sections[start:end]), 0)
                tokens = backend.count_tokens(map_messages(chunk.block(1)))
                if tokens + PART_LABEL_SLACK <= limit:
                    break
                if end - start == 1:
                    raise BudgetExceeded(
                        f"{src.title} [{sections[start].anchor}] alone needs {tokens:,} "
                        f"tokens, more than a step's {limit:,}; it cannot be split at an anchor")
                end = start + max(1, int((end - start) * 0.85))
            chunks.append(Chunk(len(chunks), src, chunk.sections, tokens))
            start = end
    return chunks
