"""Shot-list facts: every scene with its location, INT/EXT, time of day and the characters
present, the breakdown a first assistant director starts a shot list from.

Does not know the model; the shots themselves are the model's answer.
"""
from __future__ import annotations

from workbench.synthesis.facts.model import Facts, Table, tag
from workbench.synthesis.facts.screenplay import scenes_of


def build(sources) -> Facts:
    facts = Facts("shot_list")
    scenes = [sc for src in sources for sc in scenes_of(src.sections)]
    locations = {sc.location for sc in scenes if sc.location}
    facts.summary.append(f"{len(scenes)} scenes at {len(locations)} locations.")
    facts.tables.append(Table(
        "scenes", "Scenes to shoot",
        ["scene", "INT/EXT", "location", "time", "characters present", "words"],
        [[tag(sc.anchor), sc.int_ext or "-", sc.location or sc.heading or "-", sc.time or "-",
          ", ".join(sc.characters) or "-", sc.words] for sc in scenes]))
    return facts
