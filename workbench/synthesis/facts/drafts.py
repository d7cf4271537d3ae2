"""Draft-comparison facts: the scene alignment of alignment.py as tables -- scenes added, cut,
moved and changed between each earlier version and the newest, with both versions' anchors, a
word-level diff summary per changed scene, and the characters whose lines changed.

A scene counts as moved when its place among the matched scenes changed (it is not on the
longest run of scenes kept in order); a changed scene reports its similarity and how many
words were added and removed (difflib over the word sequences).

Does not know the model; it reads the rows `alignment.align` builds.
"""
from __future__ import annotations

import difflib

from workbench.synthesis.alignment import align
from workbench.synthesis.facts.model import Facts, Table, tag
from workbench.synthesis.facts.screenplay import scenes_of


def _word_diff(old: str, new: str) -> tuple[int, int, int]:
    a, b = (old or "").split(), (new or "").split()
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    added = removed = 0
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op in ("replace", "delete"):
            removed += i2 - i1
        if op in ("replace", "insert"):
            added += j2 - j1
    return added, removed, round(100 * sm.ratio())


def _kept_in_order(pairs: list[tuple[int, int]]) -> set[int]:
    """Newest-draft indices on the longest increasing run of old positions."""
    best: list[list[tuple[int, int]]] = []
    for j, i in pairs:
        run = max((r for r in best if r[-1][1] < i), key=len, default=[])
        best.append(run + [(j, i)])
    return {j for j, _ in max(best, key=len, default=[])}


def _lines(section) -> dict:
    scene = scenes_of([section])
    return {k: " / ".join(v) for k, v in scene[0].lines.items()} if scene else {}


def _pair(rows, vi: int, old_name: str, new_name: str) -> tuple[list, dict]:
    out, changed_chars = [], {}
    pairs = [(j, r.older[vi].ordinal) for j, r in enumerate(rows)
             if r.newest is not None and vi in r.older]
    in_order = _kept_in_order(pairs)
    for j, r in enumerate(rows):
        old, new = r.older.get(vi), r.newest
        if new is None and old is None:
            continue
        if new is None:
            out.append(["cut", "-", f"{tag(old.anchor)} ({old_name})", old.heading or "",
                        "-", "-"])
            continue
        if old is None:
            out.append(["added", f"{tag(new.anchor)} ({new_name})", "-", new.heading or "",
                        "-", "-"])
            continue
        same = (old.text or "").strip() == (new.text or "").strip()
        moved = j not in in_order
        if same and not moved:
            continue
        added, removed, pct = _word_diff(old.text, new.text)
        what = "moved" if same else ("moved and changed" if moved else "changed")
        out.append([what, f"{tag(new.anchor)} ({new_name})", f"{tag(old.anchor)} ({old_name})",
                    new.heading or "", f"+{added} / -{removed} words" if not same else "-",
                    f"{pct}%"])
        if not same:
            before, after = _lines(old), _lines(new)
            for who in sorted(set(before) | set(after)):
                if before.get(who) != after.get(who):
                    changed_chars.setdefault(who, []).append(tag(new.anchor))
    return out, changed_chars


def build(sources) -> Facts:
    facts = Facts("compare_drafts")
    if len(sources) < 2:
        facts.summary.append("Only one version: there is nothing to compare.")
        return facts
    rows = align(sources)
    names = [v.label or f"v{v.version}" for v in sources]
    newest = names[-1]
    table, chars = [], {}
    for vi, name in enumerate(names[:-1]):
        got, who = _pair(rows, vi, name, newest)
        table += [[f"{name} -> {newest}", *r] for r in got]
        for k, v in who.items():
            chars.setdefault(k, []).extend(a for a in v if a not in chars.get(k, []))
        counts = {k: sum(1 for r in got if r[0] == k)
                  for k in ("added", "cut", "moved", "changed", "moved and changed")}
        facts.summary.append(f"{name} -> {newest}: " + ", ".join(
            f"{v} {k}" for k, v in counts.items()) + " scenes.")
    facts.tables.append(Table("alignment", "Scene changes",
                              ["versions", "change", newest, "earlier", "heading",
                               "words changed", "similar"], table))
    facts.tables.append(Table("characters_changed", "Characters whose lines changed",
                              ["character", "scenes"],
                              [[k, ", ".join(v)] for k, v in sorted(chars.items())]))
    return facts
