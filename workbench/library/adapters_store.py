"""The database side of adapters: registry rows for trained and training LoRA adapters.

Every call is one short transaction on the library's SQLite file (WAL), so a training process,
the UI and a CLI can read and write at once. Returns `AdapterInfo` dataclasses. A "training"
row whose owning process is gone (owner.py: pid, start time, host) is read as "interrupted"
(the same request resumes it from its last checkpoint), and claiming a run for training is one
check-and-set under the write lock, so two processes never train one adapter.
Does not know: adapter files, training, or evaluation (workbench/adapters).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, exc, select
from sqlalchemy.orm import Session

from workbench.errors import AdapterExists, AdapterNotFound, TrainingBusy
from workbench.library import owner
from workbench.library.adapters_models import ADAPTER_STATES, Adapter
from workbench.library.db import WRITE_OPTION, create_db_engine, migrate, prepare
from workbench.library.models import utcnow


@dataclass(frozen=True)
class AdapterInfo:
    id: int
    project_id: int
    name: str
    status: str
    path: str
    base_model: str
    base_hash: str
    dataset_hash: str
    run_key: str
    hyperparameters: dict
    dataset: dict
    metrics: dict
    step: int
    steps_total: int
    checkpoint: int | None
    pid: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


def _owner_gone(row: Adapter) -> bool:
    return row.status == "training" and owner.gone(row.pid, row.owner_started, row.owner_host)


def _claim(row: Adapter, pid: int | None) -> None:
    me = owner.current()
    if pid is not None and pid != me.pid:
        me = owner.Owner(pid, None, me.host)
    row.pid, row.owner_started, row.owner_host = me.pid, me.started, me.host


def _info(row: Adapter) -> AdapterInfo:
    status, error = row.status, row.error
    if _owner_gone(row):
        status = "interrupted"
        error = error or (f"the process that trained it ({row.pid}) is gone; run the same "
                          "train-adapter request again to resume from its last checkpoint")
    return AdapterInfo(
        id=row.id, project_id=row.project_id, name=row.name, status=status, path=row.path,
        base_model=row.base_model, base_hash=row.base_hash, dataset_hash=row.dataset_hash,
        run_key=row.run_key, hyperparameters=dict(row.hyperparameters),
        dataset=dict(row.dataset), metrics=dict(row.metrics or {}), step=row.step,
        steps_total=row.steps_total, checkpoint=row.checkpoint, pid=row.pid, error=error,
        created_at=row.created_at, finished_at=row.finished_at)


class AdapterStore:
    """Adapter rows in the library's database file."""

    def __init__(self, engine: Engine, owns_engine: bool = False):
        """`engine` is normally the Library's (`library.adapters`); only an engine this store
        made itself (`open`/`connect`) is disposed by `close`."""
        self.engine = engine
        self._owns_engine = owns_engine
        self._write = engine.execution_options(**{WRITE_OPTION: True})

    @classmethod
    def open(cls, db_path: Path) -> "AdapterStore":
        """Migrate the file to head (creating it if needed) and connect."""
        target = prepare(db_path)
        migrate(target)
        return cls(create_db_engine(target), owns_engine=True)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    @staticmethod
    def _get(s: Session, adapter_id: int) -> Adapter:
        row = s.get(Adapter, adapter_id)
        if row is None:
            raise AdapterNotFound(f"no adapter with id {adapter_id}")
        return row

    def create(self, project_id: int, name: str, path: str, *, base_model: str,
               base_hash: str, dataset_hash: str, run_key: str, hyperparameters: dict,
               dataset: dict, steps_total: int, pid: int | None) -> AdapterInfo:
        try:
            with Session(self._write) as s, s.begin():
                row = Adapter(project_id=project_id, name=name, status="training", path=path,
                              base_model=base_model, base_hash=base_hash,
                              dataset_hash=dataset_hash, run_key=run_key,
                              hyperparameters=hyperparameters, dataset=dataset, metrics={},
                              step=0, steps_total=steps_total)
                _claim(row, pid)
                s.add(row)
                s.flush()
                return _info(row)
        except exc.IntegrityError as err:
            raise AdapterExists(f"An adapter named {name!r} already exists in this project; "
                                "choose another name.") from err

    def get(self, adapter_id: int) -> AdapterInfo:
        with Session(self.engine) as s:
            return _info(self._get(s, adapter_id))

    def by_name(self, project_id: int, name: str) -> AdapterInfo:
        with Session(self.engine) as s:
            row = s.scalar(select(Adapter).where(Adapter.project_id == project_id,
                                                 Adapter.name == name))
            if row is None:
                raise AdapterNotFound(f"no adapter named {name!r} in this project")
            return _info(row)

    def named(self, name: str) -> list[AdapterInfo]:
        """Adapters called `name` in any project (model names like `base+name` carry none)."""
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(
                select(Adapter).where(Adapter.name == name).order_by(Adapter.id))]

    def ready(self) -> list[AdapterInfo]:
        """Finished adapters of every project, oldest first (what a server can offer)."""
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(
                select(Adapter).where(Adapter.status == "ready").order_by(Adapter.id))]

    def list(self, project_id: int) -> list[AdapterInfo]:
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(
                select(Adapter).where(Adapter.project_id == project_id).order_by(Adapter.id))]

    def names(self, project_id: int) -> set[str]:
        return {a.name for a in self.list(project_id)}

    def unfinished(self, project_id: int, run_key: str) -> AdapterInfo | None:
        """The newest run with this key that did not finish (crashed, cancelled or running)."""
        with Session(self.engine) as s:
            row = s.scalar(select(Adapter).where(
                Adapter.project_id == project_id, Adapter.run_key == run_key,
                Adapter.status.in_(("training", "interrupted", "cancelled", "failed")))
                .order_by(Adapter.id.desc()))
            return None if row is None else _info(row)

    def claim(self, adapter_id: int, pid: int) -> AdapterInfo:
        """Take the run over for process `pid`; refused while another live process trains it."""
        with Session(self._write) as s, s.begin():
            row = self._get(s, adapter_id)
            if row.status == "training" and row.pid not in (None, pid) and not _owner_gone(row):
                raise TrainingBusy(f"adapter {row.name!r} is being trained by process "
                                   f"{row.pid}; cancel it or wait for it to finish")
            _claim(row, pid)
            row.status, row.error, row.finished_at = "training", None, None
            return _info(row)

    def progress(self, adapter_id: int, step: int, metrics: dict | None = None) -> None:
        with Session(self._write) as s, s.begin():
            row = self._get(s, adapter_id)
            row.step = step
            if metrics is not None:
                row.metrics = {**(row.metrics or {}), **metrics}

    def finish(self, adapter_id: int, status: str, *, metrics: dict | None = None,
               checkpoint: int | None = None, error: str | None = None) -> AdapterInfo:
        if status not in ADAPTER_STATES:
            raise ValueError(f"unknown adapter status {status!r}")
        with Session(self._write) as s, s.begin():
            row = self._get(s, adapter_id)
            row.status, row.error, row.finished_at = status, error, utcnow()
            if metrics is not None:
                row.metrics = {**(row.metrics or {}), **metrics}
            if checkpoint is not None:
                row.checkpoint = checkpoint
            return _info(row)

    def set_checkpoint(self, adapter_id: int, checkpoint: int,
                       metrics: dict | None = None) -> AdapterInfo:
        with Session(self._write) as s, s.begin():
            row = self._get(s, adapter_id)
            row.checkpoint = checkpoint
            if metrics is not None:
                row.metrics = {**(row.metrics or {}), **metrics}
            return _info(row)

    def delete(self, adapter_id: int) -> None:
        with Session(self._write) as s, s.begin():
            s.delete(self._get(s, adapter_id))
