"""The shape of computed facts: a few summary lines, tables and chart data, and (for pacing)
cut markers, with one rendering each for Markdown, CSV and JSON.

Why a plain data shape: the same facts are prepended to the saved answer (Markdown), stored in
the artifact (JSON), exported (CSV tables, SRT/EDL markers) and drawn in the UI (tables and
plots), so they are built once and rendered in several places. Every cell that points into a
document holds its anchor in the citation syntax (`[Sc. 3]`, `[00:12:04]`, `[p. 7]`), so the
citation checker verifies the facts like any answer. Durations are therefore written as
"12 min 4 s", never as a clock time that would read as an anchor.

Does not know documents or templates: the per-template modules fill it in.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field

HEADING = "## Facts (computed by Longhand)"
ANSWER_HEADING = "## Answer (written by the model)"


@dataclass
class Table:
    name: str  # a stable key: "characters", "scenes", ...
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class Chart:
    name: str
    title: str
    kind: str  # "bar" | "line"
    x: str
    y: str
    color: str | None = None  # a column that splits the data into series
    rows: list[dict] = field(default_factory=list)


@dataclass
class Marker:
    """A cut point or region in a recording, for SRT/EDL export."""

    start_s: float
    end_s: float
    anchor: str
    note: str


@dataclass
class Facts:
    template: str
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    def chart(self, name: str) -> Chart | None:
        return next((c for c in self.charts if c.name == name), None)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict | None) -> "Facts | None":
        if not data:
            return None
        return cls(template=data.get("template", ""), summary=list(data.get("summary", [])),
                   tables=[Table(**t) for t in data.get("tables", [])],
                   charts=[Chart(**c) for c in data.get("charts", [])],
                   markers=[Marker(**m) for m in data.get("markers", [])])

    def to_markdown(self) -> str:
        out = [HEADING, ""]
        out += [f"- {line}" for line in self.summary]
        for t in self.tables:
            out += ["", f"### {t.title}", ""]
            out.append(markdown_table(t) if t.rows else "(none)")
        return "\n".join(out).rstrip() + "\n"

    def to_csv(self) -> str:
        """Every table as a block: its title on a row of its own, the header, the rows, then a
        blank row (a spreadsheet opens it; each block reads as its own table)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for i, t in enumerate(self.tables):
            if i:
                writer.writerow([])
            writer.writerow([t.title])
            writer.writerow(t.columns)
            writer.writerows([[_plain(c) for c in r] for r in t.rows])
        return out.getvalue()


def _plain(cell) -> str:
    return "" if cell is None else str(cell)


def _md_cell(cell) -> str:
    return _plain(cell).replace("|", "\\|").replace("\n", " ")


def markdown_table(t: Table) -> str:
    lines = ["| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in t.rows]
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """'1 h 2 min 5 s', '12 min 4 s', '8 s': a length, not a clock time (no anchor)."""
    s = int(round(seconds))
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    if h:
        return f"{h} h {m} min {sec} s"
    return f"{m} min {sec} s" if m else f"{sec} s"


def tag(anchor: str) -> str:
    return f"[{anchor}]"
