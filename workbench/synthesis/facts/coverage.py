"""Coverage facts: what a reader's coverage sheet starts from, counted from the stored scenes.

A logline slot (left for the writer or the model's `## Premise`: a logline is judgement, not a
count), page and scene count, estimated runtime, characters ranked by dialogue blocks and
scenes, locations, the INT/EXT and DAY/NIGHT split, and the scene list, each row with its
anchor. Screenplays that came in as PDF keep their real page count; others are estimated.

Does not know the model or the database.
"""
from __future__ import annotations

from collections import Counter

from workbench.synthesis.facts.model import Chart, Facts, Table, tag
from workbench.synthesis.facts.screenplay import estimated_pages, scenes_of


def _pages(src) -> tuple[float, bool]:
    pages = {s.page for s in src.sections if s.page}
    if pages:
        return float(len(pages)), False
    return estimated_pages(src.sections), True


def character_rows(scenes) -> list[list]:
    blocks, present, first = Counter(), Counter(), {}
    for sc in scenes:
        blocks.update(sc.blocks)
        for name in sc.characters:
            present[name] += 1
            first.setdefault(name, sc.anchor)
    ranked = sorted(present, key=lambda n: (-blocks[n], -present[n], n))
    return [[n, blocks[n], present[n], tag(first[n])] for n in ranked]


def scene_rows(scenes) -> list[list]:
    return [[tag(sc.anchor), sc.heading, sc.int_ext or "-", sc.location or "-",
             sc.time or "-", ", ".join(sc.characters) or "-", sum(sc.blocks.values()),
             sc.words] for sc in scenes]


def build(sources) -> Facts:
    facts = Facts("coverage")
    scenes_all = []
    for src in sources:
        scenes = scenes_of(src.sections)
        if not scenes and src.kind != "screenplay":
            continue  # notes or a reference beside the script: no coverage line of its own
        pages, estimated = _pages(src)
        how = " (estimated from standard layout)" if estimated else ""
        facts.summary += [
            f"{src.title}: logline: _(not computed: write it, or take the answer's Premise)_",
            f"{src.title}: {len(scenes)} scenes; {pages:.1f} pages{how}; runtime about "
            f"{max(1, round(pages))} min (a page a minute).",
        ]
        scenes_all += scenes
    if not scenes_all:
        facts.summary.append("No scene headings were found, so there are no scene facts.")
        return facts
    ie = Counter(sc.int_ext or "other" for sc in scenes_all)
    tod = Counter(sc.time or "unstated" for sc in scenes_all)
    facts.summary.append("INT/EXT: " + ", ".join(f"{k} {v}" for k, v in ie.most_common()))
    facts.summary.append("Time of day: " + ", ".join(f"{k} {v}" for k, v in tod.most_common()))
    chars = character_rows(scenes_all)
    if chars:
        lead = chars[0]
        facts.summary.append(f"Most dialogue: {lead[0]}, {lead[1]} dialogue blocks in "
                             f"{lead[2]} scenes (first in {lead[3]}).")
    facts.tables.append(Table("characters", "Characters by dialogue blocks",
                              ["character", "dialogue blocks", "scenes", "first scene"], chars))
    where: dict[str, list[str]] = {}
    for sc in scenes_all:
        where.setdefault(sc.location or sc.heading or "-", []).append(tag(sc.anchor))
    facts.tables.append(Table(
        "locations", "Locations",
        ["location", "scenes", "anchors"],
        [[loc, len(a), ", ".join(a)] for loc, a in sorted(where.items(),
                                                           key=lambda kv: (-len(kv[1]), kv[0]))]))
    facts.tables.append(Table("scenes", "Scene list",
                              ["scene", "heading", "INT/EXT", "location", "time",
                               "characters", "dialogue blocks", "words"],
                              scene_rows(scenes_all)))
    facts.charts.append(Chart("character_dialogue", "Dialogue blocks per character", "bar",
                              "character", "dialogue blocks",
                              rows=[{"character": r[0], "dialogue blocks": r[1]}
                                    for r in chars]))
    return facts
