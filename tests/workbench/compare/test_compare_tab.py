"""The Compare tab is part of the app, and its column views show names and figures when open
and neither model's name when blind (two scripted backends over a real screenplay)."""
from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
from compare_backends import NamingBackend

from workbench.config import Settings
from workbench.context import AppContext
from workbench.ui import tab_compare

SCENES = "screenplays/vilcans__screenplain/scene-numbers.fountain"


def test_compare_tab_columns_open_and_blind(data_dir: Path, testdocs: Path):
    ctx = AppContext.from_settings(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir))
    wb = ctx.workbench
    wb.new_project("p")
    wb.import_files("p", [testdocs / SCENES])
    wb.use_backend(NamingBackend("qwen-like", "I am Qwen, hello."), "qwen-like")
    wb.use_backend(NamingBackend("kimi-like", "As Kimi K2.6 I note"), "kimi-like")
    with gr.Blocks() as demo:
        tab_compare.build(ctx)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"lh-compare-run", "lh-compare-blind", "lh-compare-vote", "lh-compare-col-1"} <= ids
    cid = wb.compare("p", "free", "Where?", models=["qwen-like", "kimi-like"],
                     max_new_tokens=32)["comparison_id"]
    shown = tab_compare.view(wb, cid, blind=False)
    assert len(shown) == tab_compare.MAX_COLUMNS and shown[2:] == ["", ""]
    assert shown[0].startswith("<h3>qwen-like</h3>") and "I am Qwen" in shown[0]
    assert "1/1 citations verified" in shown[0] and "tok/s" in shown[1]
    for i, col in enumerate(shown[:2]):  # the cited anchor links to its passage, per column
        links = re.findall(r'<a href="#([^"]+)" class="lh-cite">', col)
        assert links and all(t.startswith(f"c{i}-src-") for t in links)
        assert all(f'<details id="{t}">' in col for t in links)
        assert "<h4>Sources</h4>" in col and "<pre" in col
    hidden = " ".join(tab_compare.view(wb, cid, blind=True)).lower()
    assert "<h3>a</h3>" in hidden and "<h3>b</h3>" in hidden
    assert "qwen" not in hidden and "kimi" not in hidden
    wb.vote(cid, "B")
    frame = tab_compare.board_frame(wb.leaderboard("p"))
    assert list(frame.columns) == tab_compare.BOARD_HEADERS and len(frame) == 2
    assert frame.iloc[0]["Wins"] == 1


def test_compare_tab_is_part_of_the_app(tmp_path):
    from workbench.ui.app import build_ui

    demo = build_ui(AppContext.from_settings(Settings(data_dir=tmp_path / "data")))
    labels = [getattr(block, "label", None) for block in demo.blocks.values()]
    assert "Compare" in labels and "Synthesize" in labels


def test_live_columns_stream_each_model_and_hide_names_when_blind(data_dir: Path,
                                                                   testdocs: Path):
    """`compare(on_model=, progress=)` feeds LiveColumns: each column gets its own model's
    deltas; a blind column is "Answer N" with the self-naming masked."""
    from workbench.ui.compare_stream import LiveColumns
    from workbench.workbench import Workbench

    wb = Workbench(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir))
    wb.new_project("p")
    wb.import_files("p", [testdocs / SCENES])
    wb.use_backend(NamingBackend("qwen-like", "I am Qwen, hello."), "qwen-like")
    wb.use_backend(NamingBackend("kimi-like", "As Kimi K2.6 I note"), "kimi-like")
    live = LiveColumns(["qwen-like", "kimi-like"])
    seen = []

    def progress(p):
        live.progress(p)
        seen.append(live.columns(blind=True, width=3))

    wb.compare("p", "free", "Where?", models=live.models, max_new_tokens=32,
               progress=progress, on_model=live.start)
    assert any("streaming…" in cols[0] and "[model], hello." in cols[0] and
               "waiting" in cols[1] for cols in seen)
    opened = live.columns(blind=False, width=3)
    assert opened[0].startswith("<h3>qwen-like · finished</h3>") and "I am Qwen" in opened[0]
    assert opened[1].startswith("<h3>kimi-like · streaming…</h3>") and "As Kimi" in opened[1]
    assert "qwen-like" not in opened[1] and opened[2] == ""
    hidden = " ".join(" ".join(cols) for cols in seen).lower()
    assert "<h3>answer 1 · " in hidden and "<h3>answer 2 · " in hidden
    assert "qwen" not in hidden and "kimi" not in hidden
    assert "kimi" not in live.status(blind=True).lower() and "answer 2" in live.status(True)
