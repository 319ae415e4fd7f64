"""Queries on the local mirror of Omie's clients and on deal -> client links.

`omie_clients` mirrors Omie's register (one row per Omie id; one document may have several rows,
which is exactly the duplicate Omie allows and the pipeline reports). `client_links` holds one
Omie client per deal, with how it was found: matched, created or adopted.

A link is settled once its deal has an invoice (the invoice names its client). Before that, a link
is looked at again when the mirror no longer shows its client as an active holder of the document
(merged, deleted or inactivated in Omie) or when deals of one document point at different clients.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omie_pipeline.domain.deal import CLIENT_COLUMNS
from omie_pipeline.store.listed import listed_in
from omie_pipeline.store.tables import (
    client_links,
    deal_issues,
    deals,
    invoices,
    omie_clients,
)
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


def remove_clients_not_synced_since(
    connection: sa.Connection, account: str, moment: datetime, keep: Iterable[int] = ()
) -> int:
    """After a full listing: drop clients it did not return (deleted in Omie).

    `keep`: clients the listing returned but could not read; they still exist in Omie.
    """
    condition = sa.and_(omie_clients.c.account == account, omie_clients.c.synced_at < moment)
    kept = list(set(keep))
    if kept:
        condition = sa.and_(condition, omie_clients.c.codigo_cliente_omie.not_in(kept))
    return connection.execute(sa.delete(omie_clients).where(condition)).rowcount or 0


def index_size(connection: sa.Connection, account: str) -> int:
    return connection.execute(
        sa.select(sa.func.count()).select_from(omie_clients).where(omie_clients.c.account == account)
    ).scalar_one()


def _indexed(row: Any) -> IndexedClient:
    return IndexedClient(int(row.codigo_cliente_omie), row.codigo_cliente_integracao or None, bool(row.inactive))


def client_index(
    connection: sa.Connection, account: str, documents: Iterable[str] | None = None
) -> dict[str, list[IndexedClient]]:
    """Document -> the Omie clients holding it (normally one); only of `documents` when given.

    Linking asks for the documents of its deals only: the mirror may hold far more clients than
    there are deals to link. Each document's clients come in Omie id order, sorted here: ordering in
    SQL would make SQLite walk the whole mirror by its key for every chunk of documents instead of
    looking the documents up by their index."""
    index: dict[str, list[IndexedClient]] = {}
    query = sa.select(
        omie_clients.c.document,
        omie_clients.c.codigo_cliente_omie,
        omie_clients.c.codigo_cliente_integracao,
        omie_clients.c.inactive,
    ).where(omie_clients.c.account == account)
    if documents is None:
        query = query.where(omie_clients.c.document.is_not(None))
    else:  # the documents alone: with `IS NOT NULL` beside them SQLite scans every document from NULL up
        query = query.where(listed_in(connection, omie_clients.c.document, set(documents)))
    for document, omie_id, integration_code, inactive in connection.execute(query).tuples():
        index.setdefault(document, []).append(IndexedClient(int(omie_id), integration_code or None, bool(inactive)))
    for holders in index.values():
        holders.sort(key=lambda holder: holder.codigo_cliente_omie)
    return index


def clients_with_document(connection: sa.Connection, account: str, document: str) -> list[IndexedClient]:
    query = sa.select(
        omie_clients.c.codigo_cliente_omie, omie_clients.c.codigo_cliente_integracao, omie_clients.c.inactive
    ).where(omie_clients.c.account == account, omie_clients.c.document == document)
    return [_indexed(row) for row in connection.execute(query.order_by(omie_clients.c.codigo_cliente_omie))]


def duplicate_documents(connection: sa.Connection, account: str) -> dict[str, list[int]]:
    """Documents that two or more active Omie clients hold, with their Omie ids.

    An inactive client does not count: inactivating the extra one is how finance settles a duplicate.
    """
    active = sa.and_(omie_clients.c.account == account, omie_clients.c.inactive.is_(False))
    repeated = (
        sa.select(omie_clients.c.document)
        .where(active, omie_clients.c.document.is_not(None))
        .group_by(omie_clients.c.document)
        .having(sa.func.count() > 1)
    )
    query = sa.select(omie_clients.c.document, omie_clients.c.codigo_cliente_omie).where(
        active, omie_clients.c.document.in_(repeated)
    )
    duplicates: dict[str, list[int]] = {}
    for row in connection.execute(query.order_by(omie_clients.c.document, omie_clients.c.codigo_cliente_omie)):
        duplicates.setdefault(row.document, []).append(int(row.codigo_cliente_omie))
    return duplicates


def _invoiced() -> sa.Exists:
    """The deal (of the enclosing query) has an invoice: its client is settled."""
    return sa.exists().where(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id)


def _held_by_active_client() -> sa.Exists:
    """The link's client is in the mirror, active, and holds the link's document."""
    return sa.exists().where(
        omie_clients.c.account == client_links.c.account,
        omie_clients.c.codigo_cliente_omie == client_links.c.codigo_cliente_omie,
        omie_clients.c.document == client_links.c.document,
        omie_clients.c.inactive.is_(False),
    )


def _links_of_pending_deals(account: str) -> sa.Select:
    """Links of valid deals not invoiced yet: the ones whose client can still change."""
    return (
        sa.select(client_links.c.document, client_links.c.codigo_cliente_omie)
        .join(deals, sa.and_(deals.c.account == client_links.c.account, deals.c.deal_id == client_links.c.deal_id))
        .where(client_links.c.account == account, deals.c.is_valid.is_(True), ~_invoiced())
    )


def _split_documents(account: str) -> sa.Select:
    links = _links_of_pending_deals(account).subquery()
    return (
        sa.select(links.c.document)
        .group_by(links.c.document)
        .having(sa.func.count(sa.distinct(links.c.codigo_cliente_omie)) > 1)
    )


def _document_linked_elsewhere() -> sa.Exists:
    """Another valid deal not invoiced yet is linked under the link's document to another client.

    Asked of a deal that is valid, not invoiced and linked under its own document: its link is one
    of the document's pending links, so the document's pending links name two clients or more
    (`_split_documents`) exactly when another one names a client other than this link's. Looked up
    per deal on the links' document index: `_split_documents` as a subquery is the grouping of every
    pending link, which SQLite redid for each page of deals, so that a run over deals already
    linked grew with the square of the deals."""
    other = client_links.alias("other_link")
    other_deal = deals.alias("other_deal")
    return sa.exists().where(
        other.c.account == client_links.c.account,
        other.c.document == client_links.c.document,
        other.c.codigo_cliente_omie != client_links.c.codigo_cliente_omie,
        other_deal.c.account == other.c.account,
        other_deal.c.deal_id == other.c.deal_id,
        other_deal.c.is_valid.is_(True),
        ~sa.exists().where(invoices.c.account == other_deal.c.account, invoices.c.deal_id == other_deal.c.deal_id),
    )


def _deals_to_link(account: str, *, client_columns: bool) -> sa.Select:
    """Valid deals to (re)link: without a link, linked under another document than the deal now has,
    or -- until invoiced -- linked to a client the mirror no longer shows as an active holder of the
    document, or sharing a document whose deals are linked to different clients.

    Each row has deal_id, document and `previous_client`: the Omie id the deal is linked to under its
    current document, if any; with `client_columns`, also updated_at, document_kind and every client
    column, which only registering a client in Omie reads (a wide row read for every deal to link was
    a third of SQLite's work in linking).
    """
    same_document = client_links.c.document == deals.c.document
    columns = [deals.c.deal_id, deals.c.document]
    if client_columns:
        columns += [deals.c.updated_at, deals.c.document_kind]
        columns += [deals.c[name] for name in CLIENT_COLUMNS if name != "document"]
    previous = sa.case((same_document, client_links.c.codigo_cliente_omie), else_=None).label("previous_client")
    to_look_at = sa.or_(
        client_links.c.deal_id.is_(None),
        deals.c.document.is_(None),
        client_links.c.document != deals.c.document,
        sa.and_(~_invoiced(), sa.or_(~_held_by_active_client(), _document_linked_elsewhere())),
    )
    return (
        sa.select(*columns, previous)
        .select_from(
            deals.outerjoin(
                client_links,
                sa.and_(client_links.c.account == deals.c.account, client_links.c.deal_id == deals.c.deal_id),
            )
        )
        .where(deals.c.account == account, deals.c.is_valid.is_(True), to_look_at)
    )


def deals_to_link(connection: sa.Connection, account: str, *, after: str | None = None, limit: int) -> list:
    """A page of the deals to (re)link that have a document (see `_deals_to_link`; no client columns):
    the first `limit` of those whose document comes after `after`, by document then deal id. The last
    document's deals may go on past the page: `deals_of_document_to_link` reads them all.

    Read by document, so that a page holds whole documents (deals of one document are decided together)
    and the next page starts where it ended, on the deals' document index."""
    query = _deals_to_link(account, client_columns=False).where(deals.c.document.is_not(None))
    if after is not None:
        query = query.where(deals.c.document > after)
    return list(connection.execute(query.order_by(deals.c.document, deals.c.deal_id).limit(limit)).all())


def deals_of_document_to_link(
    connection: sa.Connection, account: str, document: str, *, client_columns: bool = False
) -> list:
    """The deals to (re)link that have this document, by deal id (sorted here: ordering in SQL makes
    SQLite walk every deal in key order instead of looking the document up by its index); with their
    client columns when the client is to be registered from them."""
    query = _deals_to_link(account, client_columns=client_columns).where(deals.c.document == document)
    return sorted(connection.execute(query).all(), key=lambda deal: deal.deal_id)


def deals_without_document_to_link(
    connection: sa.Connection, account: str, *, after: str | None = None, limit: int
) -> list:
    """A page of the deals to link that have no document: the first `limit` after deal id `after`."""
    query = _deals_to_link(account, client_columns=False).where(deals.c.document.is_(None))
    if after is not None:
        query = query.where(deals.c.deal_id > after)
    return list(connection.execute(query.order_by(deals.c.deal_id).limit(limit)).all())


def save_links(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace links by (account, deal_id)."""
    return upsert(connection, client_links, list(rows), ["account", "deal_id"])


def current_links(connection: sa.Connection, account: str, deal_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
    """Deal id -> (document, Omie id) of its link now (another run may have made it meanwhile)."""
    wanted = set(deal_ids)
    if not wanted:
        return {}
    query = sa.select(client_links.c.deal_id, client_links.c.document, client_links.c.codigo_cliente_omie).where(
        client_links.c.account == account, listed_in(connection, client_links.c.deal_id, wanted)
    )
    return {row.deal_id: (row.document, int(row.codigo_cliente_omie)) for row in connection.execute(query)}


def remove_links(connection: sa.Connection, account: str, deal_ids: Iterable[str]) -> int:
    """Drop the links of these deals that have no invoice yet: their client is no longer known to be right.

    Without a link a deal is not invoiced; its client issue says why."""
    wanted = set(deal_ids)
    if not wanted:
        return 0
    invoiced = sa.select(invoices.c.deal_id).where(invoices.c.account == account)
    statement = sa.delete(client_links).where(
        client_links.c.account == account,
        listed_in(connection, client_links.c.deal_id, wanted),
        client_links.c.deal_id.not_in(invoiced),
    )
    return connection.execute(statement).rowcount or 0


def conflicting_links(connection: sa.Connection, account: str) -> dict[str, list[int]]:
    """Documents whose valid deals not yet invoiced are linked to more than one Omie client."""
    links = _links_of_pending_deals(account).subquery()
    query = (
        sa.select(links.c.document, links.c.codigo_cliente_omie)
        .where(links.c.document.in_(_split_documents(account)))
        .distinct()
        .order_by(links.c.document, links.c.codigo_cliente_omie)
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
    query = sa.select(deals.c.deal_id).where(deals.c.account == account, deals.c.is_valid.is_(True), ~linked, ~listed)
    return list(connection.execute(query.order_by(deals.c.deal_id)).scalars())


def link_counts(connection: sa.Connection, account: str) -> dict[str, int]:
    """Links by how they were made (matched, created, adopted)."""
    query = sa.select(client_links.c.how, sa.func.count()).where(client_links.c.account == account)
    return {how: int(count) for how, count in connection.execute(query.group_by(client_links.c.how)).all()}


@dataclass(frozen=True)
class MirroredGaps:
    """An Omie client's name and what its record lacks for billing (Omie tags), as last listed."""

    codigo_cliente_omie: int
    name: str
    gaps: tuple[str, ...]


def billing_gaps_of(connection: sa.Connection, account: str, codigo_cliente_omie: int) -> MirroredGaps | None:
    """What the mirror knows the client lacks for billing; None when it has no such client or no gap."""
    row = connection.execute(
        sa.select(
            omie_clients.c.legal_name,
            omie_clients.c.trade_name,
            omie_clients.c.billing_gaps,
        ).where(omie_clients.c.account == account, omie_clients.c.codigo_cliente_omie == codigo_cliente_omie)
    ).first()
    if row is None or not row.billing_gaps:
        return None
    gaps = tuple(tag for tag in row.billing_gaps.split(",") if tag)
    return MirroredGaps(codigo_cliente_omie, row.legal_name or row.trade_name or "", gaps)
