"""The table of remote models: a name the user chose for a model on an OpenAI- or
Anthropic-compatible server (vLLM, SGLang, DeepSeek's API, another Longhand).

Why a row: a remote model is used by name everywhere a local one is (`--model NAME`, the Engine
tab, every model dropdown, the HTTP API's /v1/models), so it must outlive the process and be
shared by the app and the CLI. API keys are never stored: only the name of the environment
variable that holds one.
Does not know how rows are read (remotes_store.py) or how a server is reached (engine/backends).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workbench.library.models import Base, UTCDateTime, utcnow


class RemoteModel(Base):
    __tablename__ = "remote_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # as the user typed it
    key: Mapped[str] = mapped_column(String(200), unique=True)  # lower-cased name: lookups
    base_url: Mapped[str] = mapped_column(Text)
    protocol: Mapped[str] = mapped_column(String(20))  # "openai" | "anthropic"
    remote_model: Mapped[str] = mapped_column(Text)  # the id the server knows
    tokenizer: Mapped[str | None] = mapped_column(Text, nullable=True)
    api_key_env: Mapped[str | None] = mapped_column(String(200), nullable=True)
    context_window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
