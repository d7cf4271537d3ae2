"""The Engine tab's control module on the real embedded model: load fills the status with real
figures, chat streams real text, unload frees the weights; bad choices give specific errors; and
the tab builds inside the whole app."""
from __future__ import annotations

import gc
import socket
import weakref

import gradio as gr
import pytest

from engine.errors import BackendUnavailable, EngineError, ModelNotFound
from workbench import engine_control as control
from workbench.config import Settings
from workbench.context import AppContext
from workbench.errors import WorkbenchError
from workbench.ui.app import build_ui


@pytest.fixture
def ctx(data_dir):
    return AppContext.from_settings(Settings(data_dir=data_dir, cache_dir=Settings().cache_dir))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_embedded_model_loads_reports_chats_and_unloads(ctx):
    steps: list[tuple[float, str]] = []
    backend = control.load_choice(ctx, control.EngineChoice(source="embedded"),
                                  lambda f, text: steps.append((f, text)))
    assert ctx.loaded_backend() is backend and ctx.backend() is backend
    assert steps[0][0] == 0.0 and steps[-1] == (1.0, "Loaded")
    rows = dict(control.status_rows(backend))
    assert rows["Backend"] == "local" and rows["Model"] == "smollm2-135m-instruct"
    assert rows["Context window"] == "8,192 tokens"
    assert rows["Device placement"].startswith(("cpu:", "cuda:0:")) and "MiB" in rows[
        "Device placement"]
    assert backend.report.resident_bytes > 100 * 2**20  # 135M parameters
    assert rows["Resident memory"].endswith("MiB") and backend.report.load_s > 0
    assert rows["Load time"].endswith(("(cached)", "(cold)", "(direct)"))
    assert "| Resident memory |" in control.status_markdown(backend)

    partials = list(control.chat(backend, [], "What is the capital of France?",
                                 max_new_tokens=24))
    assert len(partials) > 3 and all(b.startswith(a) for a, b in zip(partials, partials[1:]))
    assert "Paris" in partials[-1]

    chat_handler = _handlers(ctx)["do_chat"]  # the tab streams the same backend
    shown = list(chat_handler("What is the capital of France?", []))
    history, turns, prompt = shown[-1]
    assert len(shown) > 3 and turns[0].assistant == history[1]["content"]
    # the message box is emptied once, as the message is taken; later updates leave it be
    assert shown[0][2] == "" and prompt == {"__type__": "update"}
    assert history[0] == {"role": "user", "content": "What is the capital of France?"}
    assert "Paris" in history[1]["content"]

    model_ref = weakref.ref(backend.hf_model)
    del backend
    assert control.unload(ctx) is True and ctx.loaded_backend() is None
    gc.collect()
    assert model_ref() is None  # the weights are gone, not just unreferenced by ctx
    assert control.unload(ctx) is False
    assert "No model loaded" in control.status_markdown(ctx.loaded_backend())


def test_unknown_local_model_is_a_specific_error_and_keeps_nothing(ctx, tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ModelNotFound, match="unknown model .*no-such-model"):
        control.load_choice(ctx, control.EngineChoice(source="local", path=missing))
    with pytest.raises(WorkbenchError, match="path of a model folder"):
        control.load_choice(ctx, control.EngineChoice(source="local", path="  "))
    assert ctx.loaded_backend() is None


def test_unreachable_server_is_a_specific_error_and_keeps_the_current_backend(ctx):
    sentinel = object()
    ctx.set_backend(sentinel)
    port = closed_port()
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(BackendUnavailable, match=f"127.0.0.1:{port}"):
        control.load_choice(ctx, control.EngineChoice(source="remote", base_url=url,
                                                      model="deepseek-v4-flash"))
    assert ctx.loaded_backend() is sentinel  # a failed remote choice replaces nothing


def test_bad_form_values_name_the_problem(ctx):
    bad = [(dict(source="remote", base_url="localhost:8000", model="m"), "http"),
           (dict(source="remote", base_url="http://127.0.0.1:1/v1"), "model name"),
           (dict(source="embedded", max_memory="lots"), "DEVICE=AMOUNT"),
           (dict(source="embedded", quantization="int3"), "Quantization must be")]
    for fields, words in bad:
        with pytest.raises((WorkbenchError, EngineError), match=words):
            control.load_choice(ctx, control.EngineChoice(**fields))
    with pytest.raises(WorkbenchError, match="Load a model first"):
        next(control.chat(None, [], "hello"))


def test_context_swaps_backends_under_its_lock(ctx):
    first, second = object(), object()
    assert ctx.set_backend(first) is None
    assert ctx.set_backend(second) is first and ctx.backend() is second
    assert ctx.unload_backend() is second and ctx.loaded_backend() is None


def _handlers(ctx) -> dict:
    demo = build_ui(ctx)
    return {f.fn.__name__: f.fn for f in demo.fns.values() if f.fn}


def test_tab_handlers_warn_instead_of_raising(ctx, tmp_path):
    handlers = _handlers(ctx)
    form = ["local", str(tmp_path / "missing"), "", "", "", "openai", "default", "", "", "none"]
    with pytest.warns(UserWarning, match="unknown model"):
        assert handlers["do_load"](*form) == gr.skip()
    with pytest.warns(UserWarning, match="Load a model first"):
        assert list(handlers["do_chat"]("hello", [])) == [(gr.skip(),) * 3]
    assert "No model loaded" in handlers["do_unload"]()


def test_engine_tab_builds_inside_the_app(ctx):
    demo = build_ui(ctx)
    ids = {getattr(b, "elem_id", None) for b in demo.blocks.values()}
    assert {"lh-engine-source", "lh-engine-load", "lh-engine-status",
            "lh-engine-chat", "lh-engine-prompt"} <= ids
    tabs = [b for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert "Engine" in [t.label for t in tabs]
