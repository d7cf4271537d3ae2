"""The database side of client keys: add, find by public id, list, revoke, rotate, set limits.

Every call is one short transaction, so the app sees a key revoked or re-limited by the CLI in
another process on its next request. Returns `KeyInfo` dataclasses, which carry the stored
hash (for the caller's constant-time compare) but never a secret.
Does not know how a key is minted, parsed or hashed (workbench/client_keys.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, exc, select
from sqlalchemy.orm import Session

from workbench.errors import WorkbenchError
from workbench.library.db import WRITE_OPTION, create_db_engine, migrate, prepare
from workbench.library.keys_models import ClientKey
from workbench.library.models import utcnow

LIMIT_FIELDS = ("rpm", "tpm", "max_parallel", "models", "expires_at", "budget_usd")
_BY_KEY_ID = select(ClientKey.__table__).where(ClientKey.key_id == bindparam("key_id"))
_ANY_ACTIVE = select(ClientKey.id).where(ClientKey.revoked_at.is_(None)).limit(1)


class KeyExists(WorkbenchError):
    pass


class KeyNotFound(WorkbenchError):
    pass


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    key_id: str
    secret_hash: str
    rpm: int | None = None
    tpm: int | None = None
    max_parallel: int | None = None
    models: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    budget_usd: float | None = None
    created_at: datetime | None = None
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None

    def as_json(self) -> dict:
        """Everything but the hash."""
        return {"name": self.name, "key_id": self.key_id, "rpm": self.rpm, "tpm": self.tpm,
                "max_parallel": self.max_parallel,
                "models": list(self.models) if self.models is not None else None,
                "expires_at": self.expires_at, "budget_usd": self.budget_usd,
                "created_at": self.created_at, "rotated_at": self.rotated_at,
                "revoked_at": self.revoked_at, "active": self.revoked_at is None}


def _info(row) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.key_id, row.secret_hash, row.rpm, row.tpm,
                   row.max_parallel, tuple(row.models) if row.models is not None else None,
                   row.expires_at, row.budget_usd, row.created_at, row.rotated_at,
                   row.revoked_at)


class KeyStore:
    """Client key rows in the library's database."""

    def __init__(self, engine: Engine, owns_engine: bool = False):
        self.engine = engine
        self._write = engine.execution_options(**{WRITE_OPTION: True})
        self._owns_engine = owns_engine

    @classmethod
    def open(cls, db_path) -> "KeyStore":
        """Migrate the database (a file path or a URL) to head and connect (benches, tools);
        the product uses the Library's shared store (library/stores.py)."""
        target = prepare(db_path)
        migrate(target)
        return cls(create_db_engine(target), owns_engine=True)

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()

    def add(self, name: str, key_id: str, secret_hash: str, limits: dict) -> KeyInfo:
        try:
            with Session(self._write) as s, s.begin():
                row = ClientKey(name=name, key_id=key_id, secret_hash=secret_hash,
                                **_columns(limits))
                s.add(row)
                s.flush()
                return _info(row)
        except exc.IntegrityError as err:
            raise KeyExists(f"a key named {name!r} already exists (revoked keys keep their "
                            "name for the usage history): choose another name") from err

    def by_key_id(self, key_id: str) -> KeyInfo | None:
        """The one indexed lookup each API request makes (Core, not the ORM: a third of the
        time, and this runs per request)."""
        with self.engine.connect() as conn:
            row = conn.execute(_BY_KEY_ID, {"key_id": key_id}).first()
            conn.rollback()
        return _info(row) if row is not None else None  # a Row has the same attributes

    def any_active(self) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(_ANY_ACTIVE).first()
            conn.rollback()
        return found is not None

    def list(self) -> list[KeyInfo]:
        with Session(self.engine) as s:
            return [_info(r) for r in s.scalars(select(ClientKey).order_by(ClientKey.name))]

    def names(self, ids: set[int]) -> dict[int, str]:
        with Session(self.engine) as s:
            rows = s.execute(select(ClientKey.id, ClientKey.name).where(ClientKey.id.in_(ids)))
            return {i: n for i, n in rows}

    def revoke(self, name: str) -> KeyInfo:
        with Session(self._write) as s, s.begin():
            row = self._row(s, name)
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            s.flush()
            return _info(row)

    def rotate(self, name: str, key_id: str, secret_hash: str) -> KeyInfo:
        """The old key stops working at once; the row (and its usage) stays."""
        with Session(self._write) as s, s.begin():
            row = self._row(s, name)
            if row.revoked_at is not None:
                raise KeyNotFound(f"key {name!r} is revoked; create a new key instead")
            row.key_id, row.secret_hash, row.rotated_at = key_id, secret_hash, utcnow()
            s.flush()
            return _info(row)

    def set_limits(self, name: str, limits: dict) -> KeyInfo:
        """Only the fields given change; a value of None lifts that limit."""
        with Session(self._write) as s, s.begin():
            row = self._row(s, name)
            for column, value in _columns(limits).items():
                setattr(row, column, value)
            s.flush()
            return _info(row)

    @staticmethod
    def _row(s: Session, name: str) -> ClientKey:
        row = s.scalar(select(ClientKey).where(ClientKey.name == name))
        if row is None:
            known = ", ".join(s.scalars(select(ClientKey.name).order_by(ClientKey.name)))
            raise KeyNotFound(f"no client key named {name!r} (keys: {known or 'none yet'})")
        return row


def _columns(limits: dict) -> dict:
    unknown = set(limits) - set(LIMIT_FIELDS)
    assert not unknown, unknown
    return {k: (list(v) if k == "models" and v is not None else v) for k, v in limits.items()}
