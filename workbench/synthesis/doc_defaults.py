"""Which of a project's documents a template starts with ticked, so that a writer who opens
Synthesize and presses Run gets the job the template is for, not "everything".

- a screenplay template (coverage, shot list): the newest screenplay draft;
- the draft comparison: the two latest versions (the newest screenplay when it has two or
  more versions, the runner then compares its versions; else the two newest screenplays);
- a template for one kind (paper synthesis: papers; pacing: transcripts): all of that kind;
- the free prompt, or a template none of whose kind is in the project: every document.
"Newest" is the latest import, then the highest id. Drafts are preferred to notes, references
and style samples of the same kind. A pure function of the template and DocumentInfo rows;
does not know the UI or the database.
"""
from __future__ import annotations

from typing import Sequence

from workbench.synthesis.templates import get_template


def _newest_first(docs: Sequence) -> list:
    def key(d):
        stamp = d.imported_at.timestamp() if d.imported_at else 0.0
        return (d.role != "draft", -stamp, -d.id)
    return sorted(docs, key=key)


def default_documents(task: str, docs: Sequence) -> list[int]:
    """Ids of `docs` (DocumentInfo) ticked by default for template `task`, in `docs` order."""
    template = get_template(task)
    kinds = tuple(getattr(template, "kinds", ()) or ())
    fitting = [d for d in docs if d.kind in kinds] if kinds else []
    if not fitting:
        return [d.id for d in docs]
    if template.prepare == "align_drafts":
        newest = _newest_first(fitting)
        chosen = newest[:1] if newest[0].version >= 2 else newest[:2]
    elif template.prepare == "scene_index":
        chosen = _newest_first(fitting)[:1]
    else:
        chosen = fitting
    ids = {d.id for d in chosen}
    return [d.id for d in docs if d.id in ids]
