"""The Trust tab builds inside a Blocks app and shows a stored check: summary, heat map image
and one row per planted fact with the model's answer."""
from __future__ import annotations

import gradio as gr
from trust_docs import SHERLOCK
from trust_backends import MisCitingBackend

from workbench.config import Settings
from workbench.context import AppContext
from workbench.library.trust_store import TrustStore
from workbench.trust.check import run_check
from workbench.trust.runner import TrustRequest
from workbench.ui import tab_trust


def test_trust_tab_builds_and_renders_a_stored_check(library, project_with, data_dir):
    project_with("Holmes", SHERLOCK)
    _, run = run_check(library, MisCitingBackend(),
                       TrustRequest("Holmes", lengths=("700",), depths=(0, 100), needles=2))
    ctx = AppContext.from_settings(Settings(data_dir=data_dir))
    with gr.Blocks() as demo:
        tab_trust.build(ctx)
    assert any(getattr(b, "elem_id", None) == "lh-trust-heatmap" for b in demo.blocks.values())
    store = TrustStore.connect(library.db_path)
    stored = store.run(run.id)
    store.close()
    frame = tab_trust._answers_frame(stored.cells)
    assert len(frame) == 4 and list(frame.columns) == tab_trust.ANSWER_HEADERS
    assert set(frame["Found"]) == {"yes"} and all(v.startswith("no (") for v in frame["Cited"])
    text = tab_trust._summary(stored)
    assert "mis-citing" in text and "100%" in text and "0%" in text
    image = tab_trust._image(stored)
    assert image.format == "PNG" and image.size[0] > 300


def test_trust_tab_is_part_of_the_app(tmp_path):
    from workbench.config import Settings
    from workbench.context import AppContext
    from workbench.ui.app import build_ui

    ctx = AppContext.from_settings(Settings(data_dir=tmp_path / "data"))
    demo = build_ui(ctx)
    labels = [getattr(block, "label", None) for block in demo.blocks.values()]
    assert "Trust" in labels and "Engine" in labels
