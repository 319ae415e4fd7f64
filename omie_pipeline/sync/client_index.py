"""The local mirror of Omie's clients: document -> `codigo_cliente_omie`.

Matching a deal to its client by asking Omie once per deal would cost one call per deal and
trip Omie's redundancy rule. Instead the whole register is listed once (500 clients a page),
and afterwards only what changed: Omie filters listings by date with a one-day resolution, so an
incremental refresh lists from the day before the previous one and upserts by Omie id, which
makes seeing a client twice harmless. Calls grow with pages and changes, never with deals.

An incremental listing cannot see deletions; a full refresh (the first run, or on request)
removes clients Omie no longer returns.

A record that cannot be read (a date Omie wrote in a form nobody can read) is skipped with a
warning naming the client and the field, and the listing goes on: one odd client must not leave
the whole mirror stale. A skipped client keeps what the mirror knew of it and is not removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from omie_pipeline.collector import collect_young, collector_paused
from omie_pipeline.domain.billing import billing_gaps
from omie_pipeline.domain.documents import mask_document, normalise_document
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.timeutil import from_omie_local, now_utc, to_sao_paulo
from omie_pipeline.omie.client import CLIENTS, OmieClient
from omie_pipeline.omie.models import ClientRecord, omie_date
from omie_pipeline.omie.paging import SNAKE_PAGES, walk_pages
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
WRITE_BATCH = 5000
"""Listed clients stored per transaction (ten pages): a commit per page was most of a full listing's local work."""
DOCUMENT_LENGTH = 20
NAME_LENGTH = 200


@dataclass(frozen=True)
class SkippedClient:
    """A listed client record that could not be read: its Omie id (when readable) and the fields at fault."""

    codigo_cliente_omie: Any
    fields: tuple[str, ...]
    problem: str


@dataclass
class IndexSummary:
    """What one refresh of the client mirror did."""

    full: bool
    since: date | None
    listed: int = 0
    removed: int = 0
    total: int = 0
    duplicates: dict[str, list[int]] = field(default_factory=dict)
    skipped: list[SkippedClient] = field(default_factory=list)
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
    page_size: int | None = None,
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
    with collector_paused():
        for raw in _listed_records(client, since, page_size):
            record = _readable(raw, summary)
            if record is None:
                continue
            batch.append(_mirror_row(record, account, started))
            if len(batch) >= WRITE_BATCH:
                summary.listed += save_listed_clients(store, batch)
                batch = []
        summary.listed += save_listed_clients(store, batch)
    with store.begin() as connection:
        if full:
            unreadable = [
                skip.codigo_cliente_omie for skip in summary.skipped if isinstance(skip.codigo_cliente_omie, int)
            ]
            summary.removed = remove_clients_not_synced_since(connection, account, started, keep=unreadable)
        sync_state.set_datetime(connection, account, LISTED_AT_KEY, started)
        summary.total = index_size(connection, account)
        summary.duplicates = duplicate_documents(connection, account)
    summary.calls = counter.calls()
    log.info(
        "client index of %s: %s listing, %d clients listed, %d unreadable skipped, %d removed, %d in the mirror, "
        "%d documents held twice",
        account,
        "full" if full else f"changes since {since}",
        summary.listed,
        len(summary.skipped),
        summary.removed,
        summary.total,
        len(summary.duplicates),
    )
    return summary


def _listed_records(client: OmieClient, since: date | None, page_size: int | None) -> Iterator[dict[str, Any]]:
    """`ListarClientes` page by page, as Omie sent each record: read one by one by `_readable`, so
    that a record that fails does not end the listing (as the typed `list_clients` would)."""
    param: dict[str, Any] = {"apenas_importado_api": "N"}
    if since is not None:
        param["filtrar_por_data_de"] = omie_date(since)
    return walk_pages(
        lambda page: client.call(CLIENTS, "ListarClientes", page),
        param,
        SNAKE_PAGES,
        "clientes_cadastro",
        client.page_size("ListarClientes", page_size),
    )


def _readable(raw: Any, summary: IndexSummary) -> ClientRecord | None:
    """The record, or None after a warning naming the client and the fields that cannot be read.

    Field names and pydantic's words are logged, with any CPF in them masked."""
    try:
        return ClientRecord.model_validate(raw)
    except ValidationError as error:
        codigo = raw.get("codigo_cliente_omie") if isinstance(raw, dict) else None
        codigo = codigo if isinstance(codigo, int) else (str(codigo) if codigo not in (None, "") else None)
        fields = tuple(".".join(str(part) for part in problem["loc"]) or "record" for problem in error.errors())
        problem = redact_cpfs(
            "; ".join(f"{name}: {detail['msg']}" for name, detail in zip(fields, error.errors(), strict=False))
        )
        summary.skipped.append(SkippedClient(codigo, fields, problem))
        log.warning(
            "Omie client %s skipped: %s cannot be read (%s); correct it in Omie, it is read again once it "
            "changes there",
            codigo or "(no id)",
            ", ".join(fields),
            problem,
        )
        return None


def save_listed_clients(store: Store, rows: list[dict]) -> int:
    """Store a batch of listed clients in one transaction (a client listed twice: its last record), then free
    what the batch left (`collect_young`: the listing runs with the cycle collector paused, as the pull does,
    since a mirror of 200,000 clients is held in batches long enough to reach its oldest generation)."""
    if not rows:
        return 0
    unique = list({row["codigo_cliente_omie"]: row for row in rows}.values())
    with store.begin() as connection:
        save_omie_clients(connection, unique)
    collect_young()
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
        "billing_gaps": ",".join(billing_gaps(record.model_dump())) or None,
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
    return from_omie_local(day, clock)
