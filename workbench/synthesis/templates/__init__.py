"""Template registry: each template is one prompt file (`<name>.md`, with `## Task` and
`## Output contract` sections) plus the few structured facts the runner needs, kept here.

Does not know how the prompt is packed or run; `prepare` names the deterministic step
(draft alignment, pacing metrics) the packer runs before the call.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from workbench.errors import WorkbenchError

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Template:
    name: str
    kinds: tuple[str, ...]  # document kinds it is written for; () = any
    prepare: str | None = None  # "align_drafts" | "pacing_metrics" | "scene_index" | None
    exports: tuple[str, ...] = ("md",)  # artifact export formats
    max_new_tokens: int = 1024  # reserved answer length by default
    needs_question: bool = False

    @property
    def title(self) -> str:
        return _sections(self.name)["title"]

    @property
    def task(self) -> str:
        return _sections(self.name)["task"]

    @property
    def contract(self) -> str:
        return _sections(self.name)["contract"]


TEMPLATES: dict[str, Template] = {t.name: t for t in (
    Template("coverage", ("screenplay",), prepare="scene_index"),
    Template("compare_drafts", ("screenplay",), prepare="align_drafts"),
    Template("paper_synthesis", ("paper",)),
    Template("pacing", ("transcript",), prepare="pacing_metrics", exports=("md", "srt")),
    Template("shot_list", ("screenplay",), prepare="scene_index", exports=("md", "csv")),
    Template("free", (), needs_question=True),
)}


def get_template(name: str) -> Template:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise WorkbenchError(
            f"unknown task {name!r}; choose one of: {', '.join(TEMPLATES)}"
        ) from None


@lru_cache(maxsize=None)
def _sections(name: str) -> dict[str, str]:
    text = (HERE / f"{name}.md").read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", text, re.M)
    parts = dict(re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, re.M | re.S))
    return {
        "title": title.group(1).strip() if title else name,
        "task": parts["Task"].strip(),
        "contract": parts["Output contract"].strip(),
    }
