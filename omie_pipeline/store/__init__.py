"""The state store: what the pipeline knows between runs (deals, links, invoices, alerts...)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from omie_pipeline.dburl import driver_message
from omie_pipeline.store import migrate
from omie_pipeline.store.engine import create_store_engine


class Store:
    """One database, migrated to the newest schema on first use.

    A thin holder of the engine: the queries live in plain functions of the store's modules,
    which take a connection so that callers decide the transaction boundaries.
    """

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.url = url
        try:
            self.engine = create_store_engine(self.url)
        except sa.exc.ArgumentError:
            raise StoreUnavailableError(
                "OMIE_PIPELINE_DB_URL is not a database URL (expected e.g. postgresql://user@host:5432/name "
                "or sqlite:////path/file.sqlite)"
            ) from None
        self.is_new = False
        """True when this opening created the store's tables: nothing was ever synced into it."""
        if auto_migrate:
            try:
                self.is_new = migrate.current_revision(self.engine) is None
                migrate.upgrade(self.engine)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
                self.engine.dispose()
                raise StoreUnavailableError(
                    f"the state store {self.engine.url.render_as_string(hide_password=True)} cannot be reached "
                    f"({driver_message(error)}); check OMIE_PIPELINE_DB_URL and that the database is up"
                ) from None

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


class StoreUnavailableError(RuntimeError):
    """The state store cannot be opened: its URL is malformed or its database cannot be reached.

    The message names OMIE_PIPELINE_DB_URL and never the password, so a command can print it as
    one line instead of a driver's traceback.
    """


__all__ = ["Store", "StoreUnavailableError"]
