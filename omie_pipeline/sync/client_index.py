"""The local mirror of Omie's clients: document -> `codigo_cliente_omie`.

Matching a deal to its client by asking Omie once per deal would cost one call per deal and
trip Omie's redundancy rule. Instead the whole register is listed once (500 clients a page),
and afterwards only what changed: Omie filters listings by date with a one-day resolution, so an
incremental refresh lists from the day before the previous one and upserts by Omie id, which
makes seeing a client twice harmless. Calls grow with pages and changes, never with deals.

An incremental listing cannot see deletions; a full refresh (the first run, or on request)
removes clients Omie no longer returns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from omie_pipeline.domain.documents import mask_document, normalise_document
from omie_pipeline.domain.timeutil import SAO_PAULO, UTC, now_utc, to_sao_paulo
from omie_pipeline.omie.client import DEFAULT_PAGE_SIZE, OmieClient
from omie_pipeline.omie.models import ClientRecord
from omie_pipeline.store import Store, sync_state
from omie_pipeline.store.clients import (
    duplicate_documents,
    index_size,
    remove_clients_not_synced_since,
    save_omie_clients,
)
from omie_pipeline.sync.omie_calls import CallCounter

log = logging.getLogger("omie_pipeline.sync.client_index")

LISTED_AT_KEY = "client_index:listed_at"
WRITE_BATCH = 500
DOCUMENT_LENGTH = 20
NAME_LENGTH = 200


@dataclass
class IndexSummary:
    """What one refresh of the client mirror did."""

    full: bool
    since: date | None
    listed: int = 0
    removed: int = 0
    total: int = 0
    duplicates: dict[str, list[int]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def duplicates_for_people(self) -> dict[str, list[int]]:
        """The duplicates with CPFs masked, fit for logs and metadata."""
        return {mask_document(document): ids for document, ids in self.duplicates.items()}


def refresh_client_index(
    client: OmieClient,
    store: Store,
    account: str,
    *,
    full_refresh: bool = False,
    page_size: int = DEFAULT_PAGE_SIZE,
    now: datetime | None = None,
) -> IndexSummary:
    """List Omie's clients (all, or those changed since the day before the last listing) into the store."""
    started = now or now_utc()
    with store.connect() as connection:
        previous = sync_state.get_datetime(connection, account, LISTED_AT_KEY)
    full = full_refresh or previous is None
    since = None if full else to_sao_paulo(previous).date() - timedelta(days=1)
    summary = IndexSummary(full=full, since=since)
    counter = CallCounter(client)
    batch: list[dict] = []
    for record in client.list_clients(changed_since=since, page_size=page_size):
        batch.append(_mirror_row(record, account, started))
        if len(batch) >= WRITE_BATCH:
            summary.listed += _save(store, batch)
            batch = []
    summary.listed += _save(store, batch)
    with store.begin() as connection:
        if full:
            summary.removed = remove_clients_not_synced_since(connection, account, started)
        sync_state.set_datetime(connection, account, LISTED_AT_KEY, started)
        summary.total = index_size(connection, account)
        summary.duplicates = duplicate_documents(connection, account)
    summary.calls = counter.calls()
    log.info(
        "client index of %s: %s listing, %d clients listed, %d removed, %d in the mirror, %d documents held twice",
        account, "full" if full else f"changes since {since}", summary.listed, summary.removed, summary.total,
        len(summary.duplicates),
    )
    return summary


def _save(store: Store, rows: list[dict]) -> int:
    if not rows:
        return 0
    unique = list({row["codigo_cliente_omie"]: row for row in rows}.values())
    with store.begin() as connection:
        save_omie_clients(connection, unique)
    return len(rows)


def _mirror_row(record: ClientRecord, account: str, synced_at: datetime) -> dict:
    document = normalise_document(record.cnpj_cpf or "")[:DOCUMENT_LENGTH] or None
    return {
        "account": account,
        "codigo_cliente_omie": record.codigo_cliente_omie,
        "codigo_cliente_integracao": (record.codigo_cliente_integracao or "")[:60] or None,
        "document": document,
        "legal_name": (record.razao_social or "")[:NAME_LENGTH] or None,
        "trade_name": (record.nome_fantasia or "")[:NAME_LENGTH] or None,
        "inactive": (record.inativo or "").strip().upper() == "S",
        "changed_at": _changed_at(record),
        "synced_at": synced_at,
    }


def _changed_at(record: ClientRecord) -> datetime | None:
    info = record.info
    if info is None:
        return None
    day, clock = (info.dAlt, info.hAlt) if info.dAlt else (info.dInc, info.hInc)
    if day is None:
        return None
    return datetime.combine(day, clock or time(0), tzinfo=SAO_PAULO).astimezone(UTC)
