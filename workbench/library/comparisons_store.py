"""The database side of model comparisons: save one, read it back, record and list votes.

Every call is one short transaction on the library's SQLite file (WAL), so the UI and a CLI in
another process share it. Returns plain dataclasses.
Does not know how a comparison runs, how names are masked or how ratings are computed
(workbench/compare).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from workbench.errors import WorkbenchError
from workbench.library.comparisons_models import Comparison, ComparisonVote
from workbench.library.db import WRITE_OPTION, as_target, create_db_engine


class ComparisonNotFound(WorkbenchError):
    pass


@dataclass(frozen=True)
class VoteInfo:
    id: int
    comparison_id: int
    winner: str
    winner_model: str | None
    note: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class ComparisonInfo:
    id: int
    project_id: int
    request: dict
    rows: list
    order: list
    votes: tuple[VoteInfo, ...] = ()
    created_at: datetime | None = None


def _vote(row: ComparisonVote) -> VoteInfo:
    return VoteInfo(row.id, row.comparison_id, row.winner, row.winner_model, row.note,
                    row.created_at)


class ComparisonStore:
    """Comparison and vote rows in the library's database file (already at head)."""

    def __init__(self, engine: Engine, owns_engine: bool = False):
        """`engine` is normally the Library's (`library.comparisons`); only an engine this store
        made itself (`open`/`connect`) is disposed by `close`."""
        self.engine = engine
        self._owns_engine = owns_engine
        self._write = engine.execution_options(**{WRITE_OPTION: True})

    @classmethod
    def connect(cls, db_path: Path) -> "ComparisonStore":
        return cls(create_db_engine(as_target(db_path)), owns_engine=True)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def save(self, project_id: int, request: dict, rows: list, order: list) -> ComparisonInfo:
        with Session(self._write) as s, s.begin():
            row = Comparison(project_id=project_id, request=request, rows=rows, order=order)
            s.add(row)
            s.flush()
            return ComparisonInfo(row.id, project_id, dict(request), list(rows), list(order),
                                  (), row.created_at)

    def get(self, comparison_id: int) -> ComparisonInfo:
        with Session(self.engine) as s:
            row = s.get(Comparison, comparison_id)
            if row is None:
                raise ComparisonNotFound(f"no comparison with id {comparison_id}")
            return self._info(s, row)

    def for_project(self, project_id: int) -> list[ComparisonInfo]:
        """A project's comparisons, oldest first (the order votes are rated in)."""
        with Session(self.engine) as s:
            q = select(Comparison).where(Comparison.project_id == project_id)
            return [self._info(s, r) for r in s.scalars(q.order_by(Comparison.id))]

    def add_vote(self, comparison_id: int, winner: str, winner_model: str | None,
                 note: str = "") -> VoteInfo:
        with Session(self._write) as s, s.begin():
            if s.get(Comparison, comparison_id) is None:
                raise ComparisonNotFound(f"no comparison with id {comparison_id}")
            row = ComparisonVote(comparison_id=comparison_id, winner=winner,
                                 winner_model=winner_model, note=note or "")
            s.add(row)
            s.flush()
            return _vote(row)

    @staticmethod
    def _info(s: Session, row: Comparison) -> ComparisonInfo:
        votes = s.scalars(select(ComparisonVote).where(ComparisonVote.comparison_id == row.id)
                          .order_by(ComparisonVote.id))
        return ComparisonInfo(row.id, row.project_id, dict(row.request), list(row.rows),
                              list(row.order), tuple(_vote(v) for v in votes), row.created_at)
