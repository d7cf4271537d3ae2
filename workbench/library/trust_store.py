"""The database side of trust checks: save a finished check, read the latest per model.

Every call is one short transaction on the library's SQLite file (WAL), so a job thread, the
UI and a CLI in another process can share it. Returns plain dataclasses.
Does not know how a check runs or what a good score is (workbench/trust).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from workbench.errors import WorkbenchError
from workbench.library.db import WRITE_OPTION, as_target, create_db_engine, migrate, prepare
from workbench.library.trust_models import TrustRun


class TrustRunNotFound(WorkbenchError):
    pass


@dataclass(frozen=True)
class TrustRunInfo:
    id: int
    project_id: int
    job_id: int | None
    backend: str
    model: str
    window: int
    request: dict
    score: float
    cited_score: float
    cells: list
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    cost: dict
    notes: list = field(default_factory=list)
    created_at: datetime | None = None


def _info(row: TrustRun) -> TrustRunInfo:
    return TrustRunInfo(
        id=row.id, project_id=row.project_id, job_id=row.job_id, backend=row.backend,
        model=row.model, window=row.window, request=dict(row.request), score=row.score,
        cited_score=row.cited_score, cells=list(row.cells), prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens, seconds=row.seconds, cost=dict(row.cost),
        notes=list(row.notes or []), created_at=row.created_at)


class TrustStore:
    """Trust check rows in the library's database file."""

    def __init__(self, engine: Engine, owns_engine: bool = False):
        """`engine` is normally the Library's (`library.trust`); only an engine this store
        made itself (`open`/`connect`) is disposed by `close`."""
        self.engine = engine
        self._owns_engine = owns_engine
        self._write = engine.execution_options(**{WRITE_OPTION: True})

    @classmethod
    def open(cls, db_path: Path) -> "TrustStore":
        """Migrate the file to head (creating it if needed) and connect."""
        target = prepare(db_path)
        migrate(target)
        return cls(create_db_engine(target), owns_engine=True)

    @classmethod
    def connect(cls, db_path: Path) -> "TrustStore":
        """Connect to a database already at head (e.g. one a Library has opened)."""
        return cls(create_db_engine(as_target(db_path)), owns_engine=True)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def save_run(self, project_id: int, *, backend: str, model: str, window: int,
                 request: dict, score: float, cited_score: float, cells: list,
                 prompt_tokens: int, completion_tokens: int, seconds: float, cost: dict,
                 notes: list | None = None, job_id: int | None = None) -> TrustRunInfo:
        with Session(self._write) as s, s.begin():
            row = TrustRun(project_id=project_id, job_id=job_id, backend=backend, model=model,
                           window=window, request=request, score=score,
                           cited_score=cited_score, cells=cells, prompt_tokens=prompt_tokens,
                           completion_tokens=completion_tokens, seconds=seconds, cost=cost,
                           notes=list(notes or []))
            s.add(row)
            s.flush()
            return _info(row)

    def run(self, run_id: int) -> TrustRunInfo:
        with Session(self.engine) as s:
            row = s.get(TrustRun, run_id)
            if row is None:
                raise TrustRunNotFound(f"no trust check with id {run_id}")
            return _info(row)

    def runs(self, project_id: int, backend: str | None = None, model: str | None = None,
             limit: int | None = None) -> list[TrustRunInfo]:
        """A project's checks, newest first, optionally for one backend and model."""
        q = select(TrustRun).where(TrustRun.project_id == project_id)
        if backend is not None:
            q = q.where(TrustRun.backend == backend)
        if model is not None:
            q = q.where(TrustRun.model == model)
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(q.order_by(TrustRun.id.desc()).limit(limit))]

    def for_job(self, job_id: int) -> TrustRunInfo | None:
        with Session(self.engine) as s:
            row = s.scalars(select(TrustRun).where(TrustRun.job_id == job_id)
                            .order_by(TrustRun.id.desc()).limit(1)).first()
            return None if row is None else _info(row)

    def latest(self, project_id: int, backend: str, model: str) -> TrustRunInfo | None:
        found = self.runs(project_id, backend, model, limit=1)
        return found[0] if found else None
