"""Remote models without a server: what add-model stores and refuses, how a remote model's
prompts are counted (given tokenizer exact; none given: the embedded one, said to be an
estimate; never an error), and the Engine tab and model dropdowns offering added models."""
from __future__ import annotations

import shutil
import socket

import pytest
from embedded_cache import shared_cache_dir

from engine.events import Message
from engine.backends.factory import make_backend
from engine.backends.remote_tokens import check_tokenizer
from engine.embedded import ensure_converted
from engine.errors import BackendUnavailable, ModelNotFound
from engine.tokens import TokenCounter
from workbench import engine_control as control
from workbench.config import Settings
from workbench.context import AppContext
from workbench.errors import WorkbenchError
from workbench.library.remotes_store import RemoteModelExists, RemoteModelNotFound
from workbench.ui.app import build_ui
from workbench.workbench import Workbench

MESSAGES = [Message("system", "Answer briefly."), Message("user", "Name a scene heading.")]
URL = "http://127.0.0.1:9/v1"


@pytest.fixture
def wb(data_dir):
    return Workbench(Settings(data_dir=data_dir, cache_dir=shared_cache_dir()))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_add_list_remove_and_names_are_case_insensitive(wb, data_dir):
    info = wb.remotes.add("Flash", url=URL + "/", protocol="OpenAI",
                          remote_model="deepseek-ai/DeepSeek-V4-Flash",
                          api_key_env="DEEPSEEK_API_KEY", context_window=1_048_576)
    assert info.base_url == URL and info.protocol == "openai"  # normalised
    assert [m.name for m in wb.remotes.list()] == ["Flash"]
    assert wb.remotes.get("flash").remote_model == "deepseek-ai/DeepSeek-V4-Flash"
    with pytest.raises(RemoteModelExists, match="already added"):
        wb.remotes.add("FLASH", url=URL)
    other = Workbench(Settings(data_dir=data_dir))  # another process's view of the library
    assert other.remotes.get("Flash") == info
    assert other.remotes.remove("flash").name == "Flash"
    assert wb.remotes.list() == []
    with pytest.raises(RemoteModelNotFound, match="no added model named 'flash'"):
        wb.remotes.remove("flash")


@pytest.mark.parametrize("name, fields, words", [
    ("my model", {}, "no spaces"),
    ("base+adapter", {}, "'\\+' is kept"),
    ("smollm2-135m-instruct", {}, "already names a model"),
    ("deepseek-reasoner", {}, "already names a model"),
    ("m", {"url": "localhost:8000"}, "http\\(s\\) URL"),
    ("m", {"protocol": "grpc"}, "openai or anthropic"),
    ("m", {"api_key_env": "sk-live-123"}, "name of an environment variable"),
    ("m", {"context_window": 0}, "positive integer"),
    ("m", {"tokenizer": "/no/such/tokenizer"}, "neither a tokenizer.json"),
])
def test_bad_add_model_input_names_the_problem_and_stores_nothing(wb, name, fields, words):
    args = {"url": URL, **fields}
    with pytest.raises(WorkbenchError, match=words):
        wb.remotes.add(name, **args)
    assert wb.remotes.list() == []


def test_without_a_tokenizer_counts_are_the_embedded_ones_and_say_estimate():
    backend = make_backend("served-id", cache_dir=shared_cache_dir(), base_url=URL,
                           context_window=4096, probe=False, name="mine")
    embedded = TokenCounter.for_embedded(shared_cache_dir())
    assert backend.model == "mine" and backend.remote_model == "served-id"
    assert backend.count_tokens(MESSAGES) == embedded.count_messages(MESSAGES) > 10
    assert "estimate" in backend.count_estimate and "--tokenizer" in backend.count_estimate


def test_a_given_tokenizer_counts_exactly(tmp_path):
    folder = ensure_converted(shared_cache_dir())
    exact = TokenCounter.from_folder(folder).count_messages(MESSAGES)
    for tokenizer in (str(folder), str(folder / "tokenizer.json"), "smollm2-135m-instruct"):
        backend = make_backend("m", cache_dir=shared_cache_dir(), base_url=URL,
                               context_window=4096, probe=False, tokenizer=tokenizer)
        assert backend.count_tokens(MESSAGES) == exact, tokenizer
        assert backend.count_estimate is None, tokenizer


def test_a_bare_tokenizer_json_counts_text_exactly_and_framing_as_an_estimate(tmp_path):
    bare = tmp_path / "tok.json"
    shutil.copy(ensure_converted(shared_cache_dir()) / "tokenizer.json", bare)
    assert check_tokenizer(str(bare), shared_cache_dir()) == str(bare)
    backend = make_backend("m", cache_dir=shared_cache_dir(), base_url=URL,
                           context_window=4096, probe=False, tokenizer=str(bare))
    counter = TokenCounter.for_embedded(shared_cache_dir())
    text_only = sum(counter.count(m.content) for m in MESSAGES)
    assert backend.count_tokens(MESSAGES) == text_only + 4 * len(MESSAGES)
    assert "no chat template" in backend.count_estimate
    with pytest.raises(ModelNotFound, match="neither a tokenizer.json"):
        check_tokenizer(str(tmp_path / "missing.json"), shared_cache_dir())


def test_engine_tab_and_dropdowns_offer_added_models(wb, data_dir):
    wb.remotes.add("cluster-flash", url=f"http://127.0.0.1:{closed_port()}/v1",
                   remote_model="deepseek-v4-flash")
    assert control.model_names(wb)[-1] == "cluster-flash"
    assert control.model_names(wb, "/models/x")[0] == "/models/x"
    ctx = AppContext(settings=wb.settings, workbench=wb)
    demo = build_ui(ctx)
    dropdowns = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert "cluster-flash" in [c[1] for c in dropdowns["lh-engine-added"].choices]
    assert "cluster-flash" in [c[1] for c in dropdowns["lh-syn-model"].choices]
    sentinel = object()
    ctx.set_backend(sentinel)
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        control.load_choice(ctx, control.EngineChoice(source="added", added="cluster-flash"))
    with pytest.raises(WorkbenchError, match="Choose an added model"):
        control.load_choice(ctx, control.EngineChoice(source="added"))
    assert ctx.loaded_backend() is sentinel
