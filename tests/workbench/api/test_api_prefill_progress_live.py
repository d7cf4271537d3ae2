"""The engine's PrefillProgress events never reach an HTTP client: over a prompt long enough
to be read in several chunks, the official openai SDK's stream holds only the role chunk, the
answer's pieces, the finish and the usage, and says what the non-stream answer says.

A live server on loopback, the embedded default, a real screenplay as the prompt."""
from __future__ import annotations

import openai
import pytest
from api_harness import LiveServer
from embedded_cache import shared_cache_dir

import app
from workbench.config import DEFAULT_MODEL, Settings

SCREENPLAY = "screenplays/earthbound19___ebScreenplays/Cyber_Bob_ep00001.fountain"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), cache_dir=shared_cache_dir(),
                        api_only=True)
    with LiveServer(app.build_app(settings)) as server:
        yield server


@pytest.mark.slow
def test_openai_stream_and_non_stream_carry_no_progress(live, testdocs):
    oai = openai.OpenAI(base_url=f"{live.url}/v1", api_key="unused", max_retries=0,
                        timeout=600)
    messages = [{"role": "system", "content": (testdocs / SCREENPLAY).read_text("utf-8")},
                {"role": "user", "content": "Who is Cyber Bob?"}]
    whole = oai.chat.completions.create(model=DEFAULT_MODEL, max_tokens=12, temperature=0,
                                        messages=messages)
    assert whole.usage.prompt_tokens > 1024  # read in more than one chunk
    assert whole.choices[0].message.content and whole.object == "chat.completion"
    chunks = list(oai.chat.completions.create(
        model=DEFAULT_MODEL, max_tokens=12, temperature=0, messages=messages, stream=True,
        stream_options={"include_usage": True}))
    role, *middle, finish, usage = chunks
    assert role.choices[0].delta.role == "assistant" and not role.choices[0].delta.content
    assert middle and all(c.choices[0].delta.content and c.choices[0].finish_reason is None
                          for c in middle)  # no empty chunk where the prompt was read
    assert finish.choices[0].finish_reason == whole.choices[0].finish_reason
    assert not finish.choices[0].delta.content and usage.choices == []
    assert usage.usage.prompt_tokens == whole.usage.prompt_tokens
    text = "".join(c.choices[0].delta.content for c in middle)
    assert text == whole.choices[0].message.content
