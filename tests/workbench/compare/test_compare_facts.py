"""Computed facts in the Compare tab and the Synthesize tab: shown once, as tables and charts,
and left out of each model's column (two scripted backends over a real screenplay)."""
from __future__ import annotations

from pathlib import Path

import gradio as gr
from compare_backends import NamingBackend

from workbench.config import Settings
from workbench.context import AppContext
from workbench.synthesis.facts import HEADING, Facts
from workbench.ui import facts_views, tab_compare, tab_synthesize

CYBER_BOB = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"


def test_compare_shows_the_facts_once_and_columns_without_them(data_dir: Path,
                                                               testdocs: Path):
    ctx = AppContext.from_settings(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir))
    wb = ctx.workbench
    wb.new_project("p")
    wb.import_files("p", [testdocs / CYBER_BOB])
    wb.use_backend(NamingBackend("qwen-like", "I am Qwen, hello."), "qwen-like")
    wb.use_backend(NamingBackend("kimi-like", "As Kimi K2.6 I note"), "kimi-like")
    with gr.Blocks() as demo:
        tab_compare.build(ctx)
        tab_synthesize.build(ctx)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"lh-compare-facts", "lh-compare-facts-bar", "lh-compare-facts-line",
            "lh-syn-facts", "lh-syn-facts-bar", "lh-syn-facts-line"} <= ids

    data = wb.compare("p", "coverage", models=["qwen-like", "kimi-like"], max_new_tokens=32)
    facts = Facts.from_json(data["facts"])
    assert facts.template == "coverage"
    assert facts.table("characters").rows[0][:2] == ["BOB", 16]
    for r in data["rows"]:  # every stored answer starts with the same facts
        assert wb.artifact(r["artifact_id"]).text.startswith(HEADING)
    shown = tab_compare.view(wb, data["comparison_id"], blind=False)
    for col in shown[:2]:
        assert HEADING not in col and "| BOB | 16 |" not in col
        assert 'opens at [<a href="#c' in col and 'class="lh-cite">¶ 1</a>]' in col
    assert "As Kimi K2.6 I note" in shown[1]
    hidden = tab_compare.view(wb, data["comparison_id"], blind=True)
    assert all(HEADING not in col for col in hidden)

    md = wb.export_comparison(data["comparison_id"], "md")
    assert md.count(HEADING) == 1 and md.index(HEADING) < md.index("## qwen-like")
    assert "| BOB | 16 | 2 | [Sc. 1] |" in md
    assert wb.comparison_json(data["comparison_id"])["facts"] == data["facts"]

    page, bar, line = facts_views.values(facts)
    assert page.count('class="lh-facts-table"') == len(facts.tables)
    assert "<td>BOB</td><td>16</td><td>2</td><td>[Sc. 1]</td>" in page
    assert bar.visible and list(bar.value["data"][0]) == ["BOB", 16]
    assert not line.visible
    empty = facts_views.values(None)
    assert empty[0] == "" and not empty[1].visible
