"""Context packing: the stable library first, the task and question last, every section tagged
with its anchor, in a deterministic order.

Why this layout: the system preamble and the documents do not depend on the task, so a prefix
cache built for one job is reused by the next job over the same documents; only the tail
(task, output contract, computed facts, question) changes. Order is by document id, then
version, then section ordinal, so the same inputs always give the same bytes.

Does not know token counts (budget.py) or which documents a job uses (runner.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from engine.events import Message

from workbench.synthesis.templates import Template

PREAMBLE = (
    "You are Longhand, a careful script and research analyst. The user's documents follow. "
    "Every section starts with its anchor in square brackets, such as [Sc. 12] for a scene, "
    "[01:12:04] for a transcript cue, [p. 7] for a page or [¶ 3] for a paragraph. "
    "Cite sources with those anchors exactly as written, and quote only words that appear in "
    "the documents, inside double quotes."
)


@dataclass(frozen=True)
class Source:
    """One document version as the job sees it; `sections` are library SectionInfo objects."""

    document_id: int
    title: str
    kind: str
    version: int
    sections: tuple = ()
    label: str = ""  # how the packer names it, e.g. "v2"; defaults to the title

    @property
    def name(self) -> str:
        return self.label or self.title


@dataclass(frozen=True)
class Block:
    """A piece of the packed library, counted as one line of the budget."""

    key: str  # "doc:3" or "aligned:3,4"
    label: str
    text: str
    document_ids: tuple[int, ...]


@dataclass(frozen=True)
class Packed:
    messages: list[Message]
    blocks: tuple[Block, ...]
    tail: str
    facts: str = ""
    notes: dict = field(default_factory=dict)


def section_tag(section) -> str:
    return f"[{section.anchor}]"


def render_section(section) -> str:
    """One section as the model sees it: anchor tag, then its heading or speaker, then text."""
    text = (section.text or "").strip()
    tag = section_tag(section)
    if section.kind == "scene":
        heading = (section.heading or "").strip()
        if heading and not text.startswith(heading):
            return f"{tag} {heading}\n{text}".rstrip()
        return f"{tag} {text}"
    if section.kind == "cue":
        speaker = (section.speaker or "").strip()
        if speaker and not text.upper().startswith(speaker.upper()):
            return f"{tag} {speaker}: {text}"
        return f"{tag} {text}"
    if section.kind == "page":
        return f"{tag}\n{text}"
    return f"{tag} {text}"


def render_document(source: Source, sections: Sequence | None = None, part: str = "") -> str:
    sections = source.sections if sections is None else sections
    ordered = sorted(sections, key=lambda s: s.ordinal)
    attrs = (f'id="{source.document_id}" title="{source.title}" kind="{source.kind}" '
             f'version="{source.version}"')
    if part:
        attrs += f' part="{part}"'
    body = "\n\n".join(render_section(s) for s in ordered)
    return f"<document {attrs}>\n{body}\n</document>"


def order_sources(sources: Sequence[Source]) -> list[Source]:
    return sorted(sources, key=lambda s: (s.document_id, s.version))


def document_blocks(sources: Sequence[Source]) -> tuple[Block, ...]:
    return tuple(
        Block(f"doc:{s.document_id}@{s.version}", f"{s.title} (v{s.version})",
              render_document(s), (s.document_id,))
        for s in order_sources(sources)
    )


def example_line(anchor: str | None) -> str:
    """A one-line pattern with a real anchor from the job: small models follow an example far
    better than a description, and a real anchor cannot teach them a fabricated one."""
    return (f"Write each point on its own line, starting with its bracketed anchor, "
            f"for example:\n[{anchor}] ...") if anchor else ""


def task_tail(template: Template, question: str = "", facts: str = "",
              lead: str = "", example: str | None = None, contract: bool = True) -> str:
    parts = [lead] if lead else []
    parts.append(f"TASK ({template.title}):\n{template.task}" if contract else template.task)
    if facts:
        parts.append(f"FACTS (computed from the documents, not by a model):\n{facts}")
    if contract:
        parts.append(f"OUTPUT CONTRACT:\n{template.contract}")
    if example:
        parts.append(example_line(example))
    if question:
        parts.append(f"QUESTION:\n{question.strip()}")
    return "\n\n".join(parts)


def first_anchor(sources: Sequence[Source]) -> str | None:
    """The anchor the examples use: the first scene if there is one, else the first section."""
    sections = [s for src in order_sources(sources)
                for s in sorted(src.sections, key=lambda s: s.ordinal)]
    scene = next((s for s in sections if s.kind == "scene"), None)
    return (scene or (sections[0] if sections else None)).anchor if sections else None


def assemble(blocks: Sequence[Block], tail: str, facts: str = "",
             notes: dict | None = None) -> Packed:
    library = "\n\n".join(b.text for b in blocks)
    user = f"{library}\n\n{tail}" if library else tail
    return Packed(
        messages=[Message("system", PREAMBLE), Message("user", user)],
        blocks=tuple(blocks), tail=tail, facts=facts, notes=dict(notes or {}),
    )


def pack(sources: Sequence[Source], template: Template, question: str = "",
         facts: str = "", blocks: Sequence[Block] | None = None) -> Packed:
    """Whole-in-context prompt: documents (or prepared blocks), then task, facts, question."""
    blocks = document_blocks(sources) if blocks is None else tuple(blocks)
    tail = task_tail(template, question, facts, example=first_anchor(sources))
    return assemble(blocks, tail, facts)
