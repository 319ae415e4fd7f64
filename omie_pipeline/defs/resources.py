"""Dagster resources: thin adapters over the state store and the Omie client."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping

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

    Pacing only works if every caller in a process shares one client per app key, whatever
    copies of this resource Dagster makes: clients are therefore kept per process, keyed by
    their settings.
    """

    base_url: str = ""
    app_key: str = ""
    app_secret: str = ""
    window_seconds: float = 0.0  # 0 = OMIE_RATE_WINDOW_SECONDS (60 s, Omie's window)
    redundant_seconds: float = -1.0  # negative = OMIE_REDUNDANT_SECONDS (60 s, Omie's interval)

    def client(self, store: Store | None = None):
        """The process's `OmieClient` for these settings, created on first use. With the state store,
        the misuse guard counts faults there, where every process of the app key adds to one count
        (as Omie counts), not in this process alone."""
        settings = load_settings()
        app_key, app_secret = (self.app_key, self.app_secret) if self.app_key and self.app_secret \
            else settings.require_omie_credentials()
        window = self.window_seconds or settings.omie_rate_window_seconds
        redundant = self.redundant_seconds if self.redundant_seconds >= 0 else settings.omie_redundant_seconds
        return shared_omie_client(self.base_url or settings.omie_base_url, app_key, app_secret, window, redundant,
                                  settings.page_sizes, store)


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def shared_omie_client(base_url: str, app_key: str, app_secret: str, window_seconds: float,
                       redundant_seconds: float, page_sizes: Mapping[str, int] | None = None,
                       store: Store | None = None):  # fmt: skip
    """One client per (URL, key, secret, window, interval, page sizes, store of its fault streaks) in this process."""
    from omie_pipeline.omie import OmieClient, OmieLimits
    from omie_pipeline.store.fault_streaks import StoredFaultStreaks

    key = (base_url, app_key, hashlib.sha256(app_secret.encode()).hexdigest(), window_seconds, redundant_seconds,
           tuple(sorted((page_sizes or {}).items())), store.url if store is not None else None)
    with _clients_lock:
        if key not in _clients:
            ledger = StoredFaultStreaks(store, app_key) if store is not None else None
            _clients[key] = OmieClient(base_url, app_key, app_secret, limits=OmieLimits(window_seconds=window_seconds),
                                       redundant_seconds=redundant_seconds, page_sizes=page_sizes,
                                       fault_ledger=ledger)
        return _clients[key]


class DealSourceResource(dg.ConfigurableResource):
    """Where closed deals come from. Empty fields fall back to SALESOS_DEALS_URL, SALESOS_DEALS_TABLE,
    SALESOS_DEALS_MAPPING and OMIE_PIPELINE_CLOSED_STATUSES (comma-separated, default "won")."""

    url: str = ""
    table: str = ""
    mapping: str = ""
    closed_statuses: str = ""

    def source(self):
        """The configured `DealSource` (CSV file or SQL table, view or query)."""
        from omie_pipeline.sources import open_source

        settings = load_settings()
        mapping = self.mapping or settings.salesos_deals_mapping
        return open_source(self.url or settings.salesos_deals_url, self.table or settings.salesos_deals_table, mapping)

    def max_amount(self):
        """The largest amount one deal may carry (OMIE_PIPELINE_MAX_DEAL_AMOUNT)."""
        return load_settings().omie_pipeline_max_deal_amount

    def statuses(self) -> frozenset[str]:
        """The statuses that count as closed, lower-cased."""
        if self.closed_statuses:
            return frozenset(s.strip().lower() for s in self.closed_statuses.split(",") if s.strip())
        return load_settings().closed_statuses
