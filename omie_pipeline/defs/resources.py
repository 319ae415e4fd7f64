"""Dagster resources: thin adapters over the state store and the Omie client."""

from __future__ import annotations

import dagster as dg
from pydantic import PrivateAttr

from omie_pipeline.settings import load_settings
from omie_pipeline.store import Store


class StoreResource(dg.ConfigurableResource):
    """The state store: `db_url`, else OMIE_PIPELINE_DB_URL, else the SQLite file under DAGSTER_HOME."""

    db_url: str = ""
    _store: Store | None = PrivateAttr(default=None)

    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_url or load_settings().omie_pipeline_db_url)
        return self._store

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._store is not None:
            self._store.dispose()
