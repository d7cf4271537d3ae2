"""Training examples from the library: a project's `style` documents (or chosen sections).

Why this shape: fine-tuning tools make users hand-write JSON datasets and then fail silently on
them (APP_ANCHORS.md, pain point 8). Here the dataset is built from what the library already
knows: each document's sections (scenes, paragraphs, cues) are packed in order into examples
of at most `max_tokens`, never cutting a section in two unless it alone is over the limit
(then it is split at sentence boundaries and a warning says so). The held-out split takes whole
examples, so no section is in both splits. Every problem is reported with the document and
anchor it concerns; errors (too little text, nothing selected, only empty sections) refuse the
dataset before anything is written.

Does not know: tokenizers (a `count(text) -> int` is passed in), models or training.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Sequence

from workbench.errors import DatasetRejected

Count = Callable[[str], int]
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class DatasetSettings:
    max_tokens: int = 128  # per example (the training sequence length, before the EOS token)
    min_tokens: int = 1500  # too little text below this: an adapter would learn nothing useful
    held_out_fraction: float = 0.1
    min_train_examples: int = 4


@dataclass(frozen=True)
class Example:
    text: str
    tokens: int
    document_id: int
    anchors: tuple[str, ...]


@dataclass(frozen=True)
class Issue:
    level: str  # "error" | "warning"
    message: str
    document_id: int | None = None
    anchor: str | None = None


@dataclass(frozen=True)
class Dataset:
    train: tuple[Example, ...]
    held_out: tuple[Example, ...]
    settings: DatasetSettings
    documents: tuple[tuple[int, str], ...]  # (id, title) of the documents used
    issues: tuple[Issue, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> list[str]:
        return [i.message for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[str]:
        return [i.message for i in self.issues if i.level == "warning"]

    @property
    def tokens(self) -> int:
        return sum(e.tokens for e in (*self.train, *self.held_out))

    @property
    def snapshot_hash(self) -> str:
        """sha256 of exactly what training sees: example texts, split and length limit."""
        payload = json.dumps({"train": [e.text for e in self.train],
                              "held_out": [e.text for e in self.held_out],
                              "max_tokens": self.settings.max_tokens}, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def summary(self) -> dict:
        return {"documents": [{"id": i, "title": t} for i, t in self.documents],
                "train_examples": len(self.train), "held_out_examples": len(self.held_out),
                "tokens": self.tokens, "max_tokens": self.settings.max_tokens,
                "snapshot_hash": self.snapshot_hash, "warnings": self.warnings}

    def preview(self, n: int = 5) -> list[dict]:
        """The first examples of each split, as the UI and CLI show them."""
        rows = [("train", e) for e in self.train[:n]] + [("held-out", e)
                                                           for e in self.held_out[:n]]
        return [{"split": split, "document_id": e.document_id, "anchors": list(e.anchors),
                 "tokens": e.tokens, "text": e.text} for split, e in rows]

    def to_jsonl(self) -> str:
        """The snapshot as JSON lines (kept with the adapter, used by the scale-out command)."""
        lines = [json.dumps({"split": "train", **asdict(e)}, ensure_ascii=False)
                 for e in self.train]
        lines += [json.dumps({"split": "held_out", **asdict(e)}, ensure_ascii=False)
                  for e in self.held_out]
        return "\n".join(lines) + "\n"


def build_dataset(library, project, count: Count, *, doc_ids: Sequence[int] | None = None,
                  section_ids: Iterable[int] | None = None,
                  settings: DatasetSettings | None = None, check: bool = True) -> Dataset:
    """Examples from `doc_ids` (default: the project's documents with role `style`).

    `section_ids` narrows to chosen sections. With `check`, a dataset with errors raises
    DatasetRejected listing all of them; without, it is returned for preview."""
    settings = settings or DatasetSettings()
    issues: list[Issue] = []
    docs = _documents(library, project, doc_ids, issues)
    chosen = set(section_ids) if section_ids is not None else None
    examples: list[Example] = []
    for doc in docs:
        sections = [s for s in library.sections(doc.id) if chosen is None or s.id in chosen]
        examples.extend(_pack(doc, sections, count, settings, issues))
    held_out, train = _split(examples, settings.held_out_fraction)
    total = sum(e.tokens for e in examples)
    if docs and total < settings.min_tokens:
        issues.append(Issue("error", (
            f"Too little text: the selection holds {total:,} tokens (about "
            f"{int(total * 0.75):,} words); training needs at least {settings.min_tokens:,} "
            "tokens. Add more documents with role 'style' or choose more sections.")))
    elif docs and len(train) < settings.min_train_examples:
        issues.append(Issue("error", (
            f"Too few examples: {len(train)} for training after holding out "
            f"{len(held_out)}; at least {settings.min_train_examples} are needed.")))
    dataset = Dataset(tuple(train), tuple(held_out), settings,
                      tuple((d.id, d.title) for d in docs), tuple(issues))
    if check and dataset.errors:
        raise DatasetRejected(dataset.errors)
    return dataset


def _documents(library, project, doc_ids, issues: list[Issue]) -> list:
    docs = library.documents(project)
    if doc_ids:
        by_id = {d.id: d for d in docs}
        missing = [i for i in doc_ids if i not in by_id]
        if missing:
            issues.append(Issue("error", "No document with id " + ", ".join(map(str, missing))
                                + " in this project."))
        return [by_id[i] for i in doc_ids if i in by_id]
    style = [d for d in docs if d.role == "style"]
    if not style:
        issues.append(Issue("error", (
            "No documents with role 'style' in this project: import the texts that carry "
            "the house style with --role style, or choose documents with --docs.")))
    return style


def _pack(doc, sections, count: Count, settings: DatasetSettings,
          issues: list[Issue]) -> list[Example]:
    """Consecutive sections joined by blank lines while they fit in `max_tokens`."""
    limit = settings.max_tokens
    examples: list[Example] = []
    texts: list[str] = []
    anchors: list[str] = []
    empty: list[str] = []

    def flush() -> None:
        if texts:
            text = "\n\n".join(texts)
            examples.append(Example(text, count(text), doc.id, tuple(anchors)))
            texts.clear()
            anchors.clear()

    for s in sections:
        text = s.text.strip()
        if not text:
            empty.append(s.anchor)
            continue
        n = count(text)
        if n > limit:
            flush()
            pieces = _split_long(text, count, limit)
            issues.append(Issue("warning", (
                f"{s.anchor} in “{doc.title}” has {n} tokens, more than the {limit}-token "
                f"example limit: split at sentence boundaries into {len(pieces)} examples."),
                doc.id, s.anchor))
            examples.extend(Example(p, count(p), doc.id, (s.anchor,)) for p in pieces)
            continue
        if texts and count("\n\n".join([*texts, text])) > limit:
            flush()
        texts.append(text)
        anchors.append(s.anchor)
    flush()
    if empty:
        shown = ", ".join(empty[:10]) + (" …" if len(empty) > 10 else "")
        level = "warning" if examples else "error"
        what = "were skipped" if examples else "so it adds nothing to train on"
        issues.append(Issue(level, (f"“{doc.title}” has {len(empty)} empty section"
                                    f"{'s' if len(empty) != 1 else ''} ({shown}), {what}."),
                            doc.id))
    elif not sections:
        issues.append(Issue("error", f"“{doc.title}” has no sections in the selection.",
                            doc.id))
    return examples


def _split_long(text: str, count: Count, limit: int) -> list[str]:
    """Greedy packing of whole sentences (a sentence over the limit is cut between words).

    Pieces are slices of the original text, so line breaks inside them are kept."""
    pieces: list[str] = []
    start = end = None
    for unit_start, unit_end in _units(text, count, limit):
        if start is not None and count(text[start:unit_end].strip()) > limit:
            pieces.append(text[start:end].strip())
            start = None
        start = unit_start if start is None else start
        end = unit_end
    if start is not None:
        pieces.append(text[start:end].strip())
    return [p for p in pieces if p]


def _units(text: str, count: Count, limit: int) -> list[tuple[int, int]]:
    bounds = [0, *(m.end() for m in _SENTENCE_END.finditer(text)), len(text)]
    units: list[tuple[int, int]] = []
    for a, b in zip(bounds, bounds[1:]):
        if count(text[a:b].strip()) <= limit:
            units.append((a, b))
        else:
            units.extend((a + m.start(), a + m.end()) for m in re.finditer(r"\S+\s*", text[a:b]))
    return units


def _split(examples: list[Example], fraction: float) -> tuple[list[Example], list[Example]]:
    """Every k-th example goes to held-out, so it samples the whole selection evenly."""
    if len(examples) < 2 or fraction <= 0:
        return [], list(examples)
    n_held = max(1, round(len(examples) * fraction))
    stride = len(examples) / n_held
    picks = {min(len(examples) - 1, int(stride * (i + 0.5))) for i in range(n_held)}
    held = [e for i, e in enumerate(examples) if i in picks]
    train = [e for i, e in enumerate(examples) if i not in picks]
    return held, train
