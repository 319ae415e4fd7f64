"""Applying the Alembic migrations, automatically on first use of a store.

Several Dagster step processes may open a brand-new store at once, so the upgrade runs under a
lock: a PostgreSQL advisory lock, or a lock file beside the SQLite database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock

from omie_pipeline.store.tables import VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_LOCK_ID = 0x0E1E_0001  # an arbitrary constant shared by every process of this project


def alembic_config(engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision(engine: sa.Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def upgrade(engine: sa.Engine) -> bool:
    """Bring the store to the newest schema; returns whether anything was applied."""
    if current_revision(engine) == head_revision(engine):
        return False
    with _migration_lock(engine):
        if current_revision(engine) == head_revision(engine):
            return False
        command.upgrade(alembic_config(engine), "head")
        return True


@contextmanager
def _migration_lock(engine: sa.Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _PG_LOCK_ID})
            try:
                yield
            finally:
                connection.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _PG_LOCK_ID})
                connection.commit()
    elif engine.url.database and engine.url.database != ":memory:":
        with FileLock(engine.url.database + ".migrate.lock"):
            yield
    else:
        yield
