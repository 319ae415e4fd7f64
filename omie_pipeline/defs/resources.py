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


class OmieResource(dg.ConfigurableResource):
    """The Omie API client. Empty fields fall back to OMIE_BASE_URL, OMIE_APP_KEY, OMIE_APP_SECRET.

    One client (and so one pacing state) per resource instance: every asset of a run shares it.
    """

    base_url: str = ""
    app_key: str = ""
    app_secret: str = ""
    window_seconds: float = 0.0  # 0 = OMIE_RATE_WINDOW_SECONDS (60 s, Omie's window)
    redundant_seconds: float = -1.0  # negative = OMIE_REDUNDANT_SECONDS (60 s, Omie's interval)
    _client: object | None = PrivateAttr(default=None)

    def client(self):
        """The shared `OmieClient`, created on first use."""
        if self._client is None:
            from omie_pipeline.omie import OmieClient, OmieLimits

            settings = load_settings()
            app_key, app_secret = (self.app_key, self.app_secret) if self.app_key and self.app_secret \
                else settings.require_omie_credentials()
            window = self.window_seconds or settings.omie_rate_window_seconds
            redundant = self.redundant_seconds if self.redundant_seconds >= 0 else settings.omie_redundant_seconds
            self._client = OmieClient(self.base_url or settings.omie_base_url, app_key, app_secret,
                                      limits=OmieLimits(window_seconds=window), redundant_seconds=redundant)
        return self._client
