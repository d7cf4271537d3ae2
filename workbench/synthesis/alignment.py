"""Draft alignment: two to four versions of one script matched scene by scene before the call,
so the model reads what changed instead of diffing long drafts in its head.

Scenes are matched by their headings first (difflib over the normalised heading sequence, so
moves and renumbering survive), then leftover scenes by content similarity. Each row of the
aligned view shows the newest text of a scene once, and for every older version either
"unchanged", a unified diff, "absent" or, for cut scenes, the old text.

Does not know token counts or how the view is packed (packing.py makes a Block of it).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Sequence

from workbench.errors import WorkbenchError
from workbench.synthesis.packing import Block, Source, render_section

MATCH_RATIO = 0.55
MAX_DIFF_LINES = 40


@dataclass
class Row:
    newest: object | None  # SectionInfo in the newest version, or None for a cut scene
    older: dict[int, object] = field(default_factory=dict)  # version index -> SectionInfo


def _norm_heading(section) -> str:
    text = section.heading or (section.text or "").split("\n", 1)[0]
    return re.sub(r"\s+", " ", text).strip().upper()


def _similarity(a, b) -> float:
    return difflib.SequenceMatcher(None, a.text or "", b.text or "", autojunk=False).ratio()


def match_scenes(old: Sequence, new: Sequence) -> dict[int, int]:
    """Map indices of `new` scenes to indices of `old` scenes they continue."""
    sm = difflib.SequenceMatcher(None, [_norm_heading(s) for s in old],
                                 [_norm_heading(s) for s in new], autojunk=False)
    pairs: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            pairs.update({j1 + k: i1 + k for k in range(i2 - i1)})
    free_old = [i for i in range(len(old)) if i not in pairs.values()]
    for j in range(len(new)):
        if j in pairs or not free_old:
            continue
        best = max(free_old, key=lambda i: (_similarity(old[i], new[j]), -i))
        if _similarity(old[best], new[j]) >= MATCH_RATIO:
            pairs[j] = best
            free_old.remove(best)
    return pairs


def align(versions: Sequence[Source]) -> list[Row]:
    """Rows in the newest draft's order; scenes cut from it follow their old neighbours."""
    if not 2 <= len(versions) <= 4:
        raise WorkbenchError(
            f"draft comparison needs two to four versions of a script, got {len(versions)}")
    scenes = [sorted(v.sections, key=lambda s: s.ordinal) for v in versions]
    newest = scenes[-1]
    rows = [Row(newest=s) for s in newest]
    for vi, old in enumerate(scenes[:-1]):
        pairs = match_scenes(old, newest)
        for j, i in pairs.items():
            rows[j].older[vi] = old[i]
        matched = set(pairs.values())
        for i, sec in enumerate(old):
            if i in matched or any(r.older.get(vi) is sec for r in rows):
                continue
            before = [r for r in rows if vi in r.older and r.older[vi].ordinal < sec.ordinal]
            at = rows.index(before[-1]) + 1 if before else 0
            rows.insert(at, Row(newest=None, older={vi: sec}))
    return rows


def _diff(old, new) -> str:
    lines = list(difflib.unified_diff((old.text or "").splitlines(),
                                      (new.text or "").splitlines(), lineterm="", n=0))[2:]
    lines = [ln for ln in lines if not ln.startswith("@@")]
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"... {len(lines) - MAX_DIFF_LINES} more changed lines"]
    return "\n".join(lines)


def aligned_block(versions: Sequence[Source]) -> Block:
    """The aligned view of the drafts, oldest to newest, as one packed block."""
    rows = align(versions)
    names = [v.label or f"v{v.version}" for v in versions]
    newest = names[-1]
    out = [f'<aligned-drafts versions="{", ".join(names)}" newest="{newest}">']
    for n, row in enumerate(rows, 1):
        if row.newest is not None:
            out.append(f"== Row {n} ({newest}) ==\n{render_section(row.newest)}")
            for vi, name in enumerate(names[:-1]):
                old = row.older.get(vi)
                if old is None:
                    out.append(f"-- {name}: absent (scene added after {name})")
                elif (old.text or "").strip() == (row.newest.text or "").strip():
                    out.append(f"-- {name} [{old.anchor}]: unchanged")
                else:
                    pct = round(100 * _similarity(old, row.newest))
                    out.append(f"-- {name} [{old.anchor}]: changed ({pct}% similar); "
                               f"lines removed (-) and added (+) since then:\n"
                               f"{_diff(old, row.newest)}")
        else:
            (vi, old), = row.older.items()
            out.append(f"== Row {n}: cut, only in {names[vi]} ==\n{render_section(old)}")
    out.append("</aligned-drafts>")
    ids = tuple(sorted({v.document_id for v in versions}))
    return Block(f"aligned:{','.join(map(str, ids))}", f"aligned drafts {', '.join(names)}",
                 "\n\n".join(out), ids)


similarity = _similarity  # public names the draft-comparison step plan reads
scene_diff = _diff
