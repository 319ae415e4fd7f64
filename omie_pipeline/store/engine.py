"""Engines for the state store: SQLite by default, PostgreSQL in production.

SQLite gets WAL and a busy timeout because Dagster runs steps in separate processes that write
to the same file; PostgreSQL URLs are pinned to psycopg2, the driver dagster-postgres also uses.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL

from omie_pipeline.dburl import normalise_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_db_url(home: Path | str) -> str:
    """The embedded default: a SQLite file in the Dagster home folder."""
    return f"sqlite:///{Path(home).resolve() / 'omie_pipeline.sqlite'}"


def create_store_engine(url: str | URL) -> sa.Engine:
    """An engine tuned for the dialect; creates the SQLite file's folder when needed."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Let SQLAlchemy issue BEGIN itself (see _sqlite_begin_immediate) instead of pysqlite's
    # implicit, deferred transactions, so that two writers queue instead of deadlocking.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
