"""Alembic environment for the library database, kept generic so any module's tables migrate.

`db.migrate()` runs it programmatically and hands over a ready connection in
`config.attributes["connection"]`; a `sqlalchemy.url` main option works too (e.g. offline SQL).
Tables come from `Base.metadata` after `load_model_modules()`; the FTS5 table and its shadow
tables are raw SQL owned by the migrations, so autogenerate is told to ignore them.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from workbench.library.models import Base, include_name, load_model_modules

load_model_modules()
target_metadata = Base.metadata


def _configure(**kwargs) -> None:
    context.configure(target_metadata=target_metadata, render_as_batch=True,
                      include_name=include_name, compare_type=True, **kwargs)


def run_offline() -> None:
    _configure(url=context.config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _configure(connection=conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
