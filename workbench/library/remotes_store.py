"""The database side of remote models: add, list, find by name (case-insensitive), remove.

Every call is one short transaction on the library's SQLite file (WAL), so the app and a CLI in
another process see the same models. Returns `RemoteModelInfo` dataclasses.
Does not know what a valid URL or tokenizer is (workbench/remote_models.py checks those first),
nor how a server is reached (engine/backends).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, exc, select
from sqlalchemy.orm import Session

from workbench.errors import WorkbenchError
from workbench.library.db import WRITE_OPTION, create_db_engine, migrate, prepare
from workbench.library.remotes_models import RemoteModel


class RemoteModelExists(WorkbenchError):
    pass


class RemoteModelNotFound(WorkbenchError):
    pass


@dataclass(frozen=True)
class RemoteModelInfo:
    name: str
    base_url: str
    protocol: str
    remote_model: str
    tokenizer: str | None = None
    api_key_env: str | None = None
    context_window: int | None = None
    created_at: datetime | None = None

    def as_json(self) -> dict:
        return {"name": self.name, "url": self.base_url, "protocol": self.protocol,
                "remote_model": self.remote_model, "tokenizer": self.tokenizer,
                "api_key_env": self.api_key_env, "context_window": self.context_window}


def _info(row: RemoteModel) -> RemoteModelInfo:
    return RemoteModelInfo(row.name, row.base_url, row.protocol, row.remote_model,
                           row.tokenizer, row.api_key_env, row.context_window, row.created_at)


class RemoteModelStore:
    """Remote model rows in the library's database file."""

    def __init__(self, engine: Engine, owns_engine: bool = False):
        """`engine` is normally the Library's (`library.remotes`); only an engine this store
        made itself (`open`/`connect`) is disposed by `close`."""
        self.engine = engine
        self._owns_engine = owns_engine
        self._write = engine.execution_options(**{WRITE_OPTION: True})

    @classmethod
    def open(cls, db_path: Path) -> "RemoteModelStore":
        """Migrate the file to head (creating it if needed) and connect."""
        target = prepare(db_path)
        migrate(target)
        return cls(create_db_engine(target), owns_engine=True)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def add(self, info: RemoteModelInfo) -> RemoteModelInfo:
        try:
            with Session(self._write) as s, s.begin():
                row = RemoteModel(name=info.name, key=info.name.lower(), base_url=info.base_url,
                                  protocol=info.protocol, remote_model=info.remote_model,
                                  tokenizer=info.tokenizer, api_key_env=info.api_key_env,
                                  context_window=info.context_window)
                s.add(row)
                s.flush()
                return _info(row)
        except exc.IntegrityError as err:
            raise RemoteModelExists(
                f"a model named {info.name!r} is already added; remove it first "
                f"(remove-model {info.name}) or choose another name") from err

    def get(self, name: str) -> RemoteModelInfo | None:
        with Session(self.engine) as s:
            row = s.scalar(select(RemoteModel).where(RemoteModel.key == name.strip().lower()))
            return _info(row) if row is not None else None

    def list(self) -> list[RemoteModelInfo]:
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(select(RemoteModel).order_by(RemoteModel.name))]

    def remove(self, name: str) -> RemoteModelInfo:
        with Session(self._write) as s, s.begin():
            row = s.scalar(select(RemoteModel).where(RemoteModel.key == name.strip().lower()))
            if row is None:
                known = ", ".join(r.name for r in s.scalars(select(RemoteModel))) or "none yet"
                raise RemoteModelNotFound(f"no added model named {name!r} (added: {known})")
            info = _info(row)
            s.delete(row)
            return info
