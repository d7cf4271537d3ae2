"""Paper facts: title, numbered section headings with their pages, how many distinct figures
and tables are captioned, and the references (where the list starts and about how many
entries it has), read from the stored page text of each paper.

Why our own reading: the PDF importer stores one section per page, not the paper's outline;
the numbered-heading and caption patterns below are what LaTeX papers print, so they need no
layout model. The reference count is an estimate (entries are counted by their year) and is
labelled so.

Does not know the model or the PDF format.
"""
from __future__ import annotations

import re

from workbench.synthesis.facts.model import Facts, Table, tag

_SECTION = re.compile(r"^(\d{1,2}(?:\.\d{1,2})?)\.?\s+([A-Z][A-Za-z][A-Za-z ,:&'\-]{1,58})$")
_NAMED = re.compile(r"^(Abstract|Introduction|Related Work|Conclusions?|Acknowledge?ments?|"
                    r"References|Bibliography|Appendix)$", re.IGNORECASE)
_FIGURE = re.compile(r"^\s*(?:Figure|Fig\.)\s*(\d+)\s*[:.]", re.M)
_TABLE = re.compile(r"^\s*Table\s*(\d+)\s*[:.]", re.M)
_REF_YEAR = re.compile(r"\b(?:19|20)\d{2}[a-z]?\.(?=\s|$)")
_APPENDIX = re.compile(r"^(?:Appendix\b.*|[A-H]\s+(?:[A-Z][a-z\-]+\s?){1,5})$", re.M)


def _outline(pages) -> list[tuple[str, str, str]]:
    """(number, title, page anchor); numbered headings must count upward to be believed."""
    out, last = [], (0, 0)
    for p in pages:
        for line in (p.text or "").split("\n"):
            line = line.strip()
            m = _SECTION.match(line)
            if m and not line.endswith("."):
                parts = tuple(int(x) for x in m.group(1).split(".")) + (0,)
                key = parts[:2]
                if key > last and key[0] - last[0] <= 1:
                    out.append((m.group(1), m.group(2).strip(), p.anchor))
                    last = key
            elif _NAMED.match(line):
                out.append(("", line, p.anchor))
    return out


def _references(pages) -> tuple[str | None, int]:
    start, count = None, 0
    for p in pages:
        text = p.text or ""
        if start is None:
            at = re.search(r"^(?:References|Bibliography)\s*$", text, re.M | re.I)
            if not at:
                continue
            start, text = p.anchor, text[at.end():]
        end = _APPENDIX.search(text)
        count += len(_REF_YEAR.findall(text[:end.start()] if end else text))
        if end:
            break
    return start, count


def build(sources) -> Facts:
    facts = Facts("paper_synthesis")
    rows, sections = [], []
    for src in sources:
        pages = sorted((s for s in src.sections if s.kind == "page"), key=lambda s: s.ordinal)
        if not pages:
            pages = sorted(src.sections, key=lambda s: s.ordinal)
        full = "\n".join(p.text or "" for p in pages)
        figures = len(set(_FIGURE.findall(full)))
        tables = len(set(_TABLE.findall(full)))
        ref_at, refs = _references(pages)
        outline = _outline(pages)
        rows.append([src.title, len(pages), len([o for o in outline if o[0]]), figures, tables,
                     f"about {refs} from {tag(ref_at)}" if ref_at else "none found"])
        sections += [[src.title, f"{num} {title}".strip(), tag(anchor)]
                     for num, title, anchor in outline]
    if len(sources) == 1:  # one paper: its title is said above, not on every row
        sections = [r[1:] for r in sections]
        facts.summary.append(f"{src.title}: {len(pages)} pages, {figures} figures, {tables} "
                             f"tables, " + (f"about {refs} references (list starts at "
                                            f"{tag(ref_at)})." if ref_at
                                            else "no reference list found."))
    facts.tables.append(Table("papers", "Papers",
                              ["title", "pages", "numbered sections", "figures", "tables",
                               "references"], rows))
    columns = ["section", "starts at"] if len(sources) == 1 else ["paper", "section",
                                                                    "starts at"]
    facts.tables.append(Table("sections", "Sections", columns, sections))
    return facts
