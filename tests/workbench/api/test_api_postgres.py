"""The HTTP API with the library on PostgreSQL (LONGHAND_DATABASE_URL): a model added to the
library (stored on the server) is listed by `GET /v1/models` of the running app, and is gone
once removed; nothing is written to the data dir's SQLite file."""
from __future__ import annotations

import httpx
from api_harness import LiveServer, PacedEchoBackend

import app as entry
from workbench.config import Settings
from workbench.workbench import Workbench


def test_v1_models_lists_a_model_stored_on_postgres(data_dir, postgres_url):
    settings = Settings(data_dir=data_dir, model="paced-echo", api_only=True,
                        database_url=postgres_url)
    app = entry.build_app(settings)
    app.state.ctx.set_backend(PacedEchoBackend(context_window=256))
    other = Workbench(settings)  # e.g. `add-model` from a shell, with the same URL
    with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=30) as client:
        other.remotes.add("pg-flash", url="http://127.0.0.1:9/v1", protocol="openai")
        listed = client.get("/v1/models")
        assert listed.status_code == 200, listed.text
        assert "pg-flash" in {m["id"] for m in listed.json()["data"]}
        other.remotes.remove("pg-flash")
        assert "pg-flash" not in {m["id"] for m in client.get("/v1/models").json()["data"]}
    assert not (data_dir / "workbench.db").exists()
