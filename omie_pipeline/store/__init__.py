"""The state store: what the pipeline knows between runs (deals, links, invoices, alerts...)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import sqlalchemy as sa

from omie_pipeline.store import migrate
from omie_pipeline.store.engine import create_store_engine, default_db_url


class Store:
    """One database, migrated to the newest schema on first use.

    A thin holder of the engine: the queries live in plain functions of the store's modules,
    which take a connection so that callers decide the transaction boundaries.
    """

    def __init__(self, url: str | None = None, *, auto_migrate: bool = True) -> None:
        self.url = url or default_db_url()
        self.engine = create_store_engine(self.url)
        if auto_migrate:
            migrate.upgrade(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection inside a transaction, committed on success, rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection for reads."""
        with self.engine.connect() as connection:
            yield connection

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"


__all__ = ["Store"]
