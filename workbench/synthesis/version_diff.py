"""Two versions of one document compared scene by scene, for a writer reading a draft's
history: each row says whether a scene is unchanged, changed (with the lines removed and
added), added in the newer version or cut from it.

Reuses the draft comparison's alignment (alignment.align: headings first, then content
similarity), so the history view and the compare_drafts template agree on which scene is
which. A pure function of two section lists; does not know the database or the UI.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from workbench.synthesis import alignment
from workbench.synthesis.packing import Source


@dataclass(frozen=True)
class SceneChange:
    old_anchor: str  # "" for a scene added in the newer version
    new_anchor: str  # "" for a scene cut from it
    heading: str
    change: str  # unchanged | changed | added | cut
    lines: str = ""  # the changed lines, "-" removed and "+" added


def scene_diff(old: Sequence, new: Sequence) -> list[SceneChange]:
    """Rows in the newer version's order; cut scenes follow their old neighbours."""
    pair = [Source(0, "", "", 1, tuple(old), label="older"),
            Source(0, "", "", 2, tuple(new), label="newer")]
    out = []
    for row in alignment.align(pair):
        before = row.older.get(0)
        after = row.newest
        shown = after or before
        heading = shown.heading or (shown.text or "").split("\n", 1)[0]
        if after is None:
            out.append(SceneChange(before.anchor, "", heading, "cut"))
        elif before is None:
            out.append(SceneChange("", after.anchor, heading, "added"))
        elif (before.text or "").strip() == (after.text or "").strip():
            out.append(SceneChange(before.anchor, after.anchor, heading, "unchanged"))
        else:
            out.append(SceneChange(before.anchor, after.anchor, heading, "changed",
                                   alignment._diff(before, after)))
    return out
