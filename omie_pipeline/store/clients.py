"""Queries on the local mirror of Omie's clients and on deal -> client links.

`omie_clients` mirrors Omie's register (one row per Omie id; one document may have several rows,
which is exactly the duplicate Omie allows and the pipeline reports). `client_links` holds one
Omie client per deal, with how it was found: matched, created or adopted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from omie_pipeline.domain.deal import CLIENT_COLUMNS
from omie_pipeline.store.tables import client_links, deal_issues, deals, omie_clients
from omie_pipeline.store.upsert import upsert


@dataclass(frozen=True)
class IndexedClient:
    """One Omie client as the mirror knows it."""

    codigo_cliente_omie: int
    codigo_cliente_integracao: str | None
    inactive: bool


def save_omie_clients(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or refresh mirrored clients by (account, codigo_cliente_omie)."""
    return upsert(connection, omie_clients, list(rows), ["account", "codigo_cliente_omie"])


def remove_clients_not_synced_since(connection: sa.Connection, account: str, moment: datetime) -> int:
    """After a full listing: drop clients it did not return (deleted in Omie)."""
    result = connection.execute(
        sa.delete(omie_clients).where(omie_clients.c.account == account, omie_clients.c.synced_at < moment)
    )
    return result.rowcount or 0


def index_size(connection: sa.Connection, account: str) -> int:
    return connection.execute(
        sa.select(sa.func.count()).select_from(omie_clients).where(omie_clients.c.account == account)
    ).scalar_one()


def _indexed(row: Any) -> IndexedClient:
    return IndexedClient(int(row.codigo_cliente_omie), row.codigo_cliente_integracao or None, bool(row.inactive))


def client_index(connection: sa.Connection, account: str) -> dict[str, list[IndexedClient]]:
    """Document -> the Omie clients holding it (normally one)."""
    index: dict[str, list[IndexedClient]] = {}
    query = sa.select(
        omie_clients.c.document, omie_clients.c.codigo_cliente_omie, omie_clients.c.codigo_cliente_integracao,
        omie_clients.c.inactive,
    ).where(omie_clients.c.account == account, omie_clients.c.document.is_not(None))
    for row in connection.execute(query.order_by(omie_clients.c.codigo_cliente_omie)):
        index.setdefault(row.document, []).append(_indexed(row))
    return index


def clients_with_document(connection: sa.Connection, account: str, document: str) -> list[IndexedClient]:
    query = sa.select(
        omie_clients.c.codigo_cliente_omie, omie_clients.c.codigo_cliente_integracao, omie_clients.c.inactive
    ).where(omie_clients.c.account == account, omie_clients.c.document == document)
    return [_indexed(row) for row in connection.execute(query.order_by(omie_clients.c.codigo_cliente_omie))]


def duplicate_documents(connection: sa.Connection, account: str) -> dict[str, list[int]]:
    """Documents that two or more Omie clients hold, with their Omie ids."""
    repeated = (
        sa.select(omie_clients.c.document)
        .where(omie_clients.c.account == account, omie_clients.c.document.is_not(None))
        .group_by(omie_clients.c.document)
        .having(sa.func.count() > 1)
    )
    query = sa.select(omie_clients.c.document, omie_clients.c.codigo_cliente_omie).where(
        omie_clients.c.account == account, omie_clients.c.document.in_(repeated)
    )
    duplicates: dict[str, list[int]] = {}
    for row in connection.execute(query.order_by(omie_clients.c.document, omie_clients.c.codigo_cliente_omie)):
        duplicates.setdefault(row.document, []).append(int(row.codigo_cliente_omie))
    return duplicates


def deals_to_link(connection: sa.Connection, account: str) -> list:
    """Valid deals with no link, or linked under another document than the deal now has.

    Each row has deal_id, updated_at, document, document_kind and every client column.
    """
    linked_same_document = sa.exists().where(
        client_links.c.account == deals.c.account,
        client_links.c.deal_id == deals.c.deal_id,
        client_links.c.document == deals.c.document,
    )
    columns = [deals.c.deal_id, deals.c.updated_at, deals.c.document_kind] + [deals.c[name] for name in CLIENT_COLUMNS]
    query = sa.select(*columns).where(deals.c.account == account, deals.c.is_valid.is_(True), ~linked_same_document)
    return list(connection.execute(query.order_by(deals.c.deal_id)).all())


def save_links(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace links by (account, deal_id)."""
    return upsert(connection, client_links, list(rows), ["account", "deal_id"])


def linked_deal_ids(connection: sa.Connection, account: str, deal_ids: Iterable[str], document: str) -> set[str]:
    """Which of these deals are already linked under this document (by this or another run)."""
    wanted = list(deal_ids)
    if not wanted:
        return set()
    query = sa.select(client_links.c.deal_id).where(
        client_links.c.account == account, client_links.c.deal_id.in_(wanted), client_links.c.document == document
    )
    return set(connection.execute(query).scalars())


def conflicting_links(connection: sa.Connection, account: str) -> dict[str, list[int]]:
    """Documents whose deals are linked to more than one Omie client."""
    spread = (
        sa.select(client_links.c.document)
        .where(client_links.c.account == account)
        .group_by(client_links.c.document)
        .having(sa.func.count(sa.distinct(client_links.c.codigo_cliente_omie)) > 1)
    )
    query = (
        sa.select(client_links.c.document, client_links.c.codigo_cliente_omie)
        .where(client_links.c.account == account, client_links.c.document.in_(spread))
        .distinct()
        .order_by(client_links.c.document, client_links.c.codigo_cliente_omie)
    )
    conflicts: dict[str, list[int]] = {}
    for row in connection.execute(query):
        conflicts.setdefault(row.document, []).append(int(row.codigo_cliente_omie))
    return conflicts


def valid_deals_without_outcome(connection: sa.Connection, account: str) -> list[str]:
    """Valid deals with neither a link nor an open client issue: nobody would see them."""
    linked = sa.exists().where(client_links.c.account == deals.c.account, client_links.c.deal_id == deals.c.deal_id)
    listed = sa.exists().where(
        deal_issues.c.account == deals.c.account,
        deal_issues.c.deal_id == deals.c.deal_id,
        deal_issues.c.stage == "client",
        deal_issues.c.resolved_at.is_(None),
    )
    query = sa.select(deals.c.deal_id).where(
        deals.c.account == account, deals.c.is_valid.is_(True), ~linked, ~listed
    )
    return list(connection.execute(query.order_by(deals.c.deal_id)).scalars())


def link_counts(connection: sa.Connection, account: str) -> dict[str, int]:
    """Links by how they were made (matched, created, adopted)."""
    query = sa.select(client_links.c.how, sa.func.count()).where(client_links.c.account == account)
    return {how: int(count) for how, count in connection.execute(query.group_by(client_links.c.how)).all()}
