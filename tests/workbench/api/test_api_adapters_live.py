"""`base+adapter` model names over HTTP: the openai SDK lists a registered LoRA adapter and gets
an answer with it attached; the base name afterwards runs without it again.

The adapter is a real PEFT LoRA for the embedded SmolLM2-135M (rank 4 on q/v projections),
saved into the registry's layout and registered as finished. Its weights are PEFT's random
initialisation (`init_lora_weights=False`, seeded), not zeros, so the greedy answer with it
attached differs from the base's: that difference is what proves it was attached.
"""
from __future__ import annotations

import anthropic
import httpx
import openai
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir

from engine.backends.factory import make_backend
from workbench.api import create_api_app
from workbench.config import DEFAULT_MODEL, Settings

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "Name three colors."}]
MAX_TOKENS = 8
ADAPTER = "house"


def save_random_lora(hf_model, folder) -> None:
    """A PEFT LoRA for `hf_model` in the standard layout; the model is left untouched."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(7)
    config = LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                        init_lora_weights=False)
    wrapped = get_peft_model(hf_model, config)
    wrapped.save_pretrained(str(folder))
    wrapped.unload()  # takes the injected layers out of the shared model again


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from engine.models import resolve
    from workbench.adapters import registry
    from workbench.adapters.service import open_store
    from workbench.workbench import Workbench

    data_dir = tmp_path_factory.mktemp("adapters-api")
    backend = make_backend(DEFAULT_MODEL, cache_dir=shared_cache_dir())
    wb = Workbench(Settings(data_dir=data_dir))
    project = wb.new_project("house-style")
    store = open_store(wb.library)
    folder = registry.adapter_path(data_dir, project.id, ADAPTER)
    save_random_lora(backend.hf_model, folder)
    info = store.create(project.id, ADAPTER, str(folder), base_model=resolve(DEFAULT_MODEL).name,
                        base_hash="test", dataset_hash="test", run_key="test",
                        hyperparameters={"rank": 4}, dataset={}, steps_total=0, pid=None)
    store.finish(info.id, "ready")
    app = create_api_app(Settings(data_dir=data_dir), lambda: backend, adapter_store=store)
    with LiveServer(app) as live:
        yield live, backend
    store.close()
    wb.library.close()


def ask(client: openai.OpenAI, model: str):
    return client.chat.completions.create(model=model, messages=MESSAGES,
                                          max_tokens=MAX_TOKENS, temperature=0)


def test_adapter_is_listed_and_answers_with_it_attached(served):
    live, backend = served
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0,
                           timeout=300)
    with_adapter = f"{DEFAULT_MODEL}+{ADAPTER}"
    assert [m.id for m in client.models.list().data] == [DEFAULT_MODEL, with_adapter]
    assert client.models.retrieve(with_adapter).id == with_adapter

    base = ask(client, DEFAULT_MODEL).choices[0].message.content
    styled = ask(client, with_adapter)
    assert styled.model == with_adapter
    text = styled.choices[0].message.content
    assert text and text != base
    assert backend.model.endswith(f"/{ADAPTER}")  # still attached: no swap without a need
    assert ask(client, with_adapter).choices[0].message.content == text

    assert ask(client, DEFAULT_MODEL).choices[0].message.content == base  # detached again
    assert backend.model == DEFAULT_MODEL

    claude = anthropic.Anthropic(base_url=live.url, api_key="unused", max_retries=0,
                                 timeout=300)
    msg = claude.messages.create(model=with_adapter, messages=MESSAGES, max_tokens=MAX_TOKENS,
                                 extra_body={"temperature": 0})
    assert msg.model == with_adapter and msg.content[0].text == text


def test_unknown_adapter_is_a_404_in_openai_shape(served):
    live, _ = served
    client = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        ask(client, f"{DEFAULT_MODEL}+nope")
    assert "nope" in str(caught.value)
    r = httpx.post(f"{live.url}/v1/chat/completions", timeout=30, json={
        "model": f"{DEFAULT_MODEL}+nope", "messages": MESSAGES, "max_tokens": 2})
    assert r.status_code == 404
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error" and err["param"] == "model"
    assert f"{DEFAULT_MODEL}+{ADAPTER}" in err["message"]  # what is served is listed
    r = httpx.post(f"{live.url}/v1/chat/completions", timeout=30, json={
        "model": f"other-model+{ADAPTER}", "messages": MESSAGES, "max_tokens": 2})
    assert r.status_code == 404
