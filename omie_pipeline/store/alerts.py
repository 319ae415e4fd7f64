"""Queries behind the alert sensors: invoices that need a person, and the `alerts_sent` record.

An alert is recorded (unique per account and key) with its first attempt taken before anything
is sent, so a restarted daemon never sends it twice; a later retry claims its attempt with a
compare-and-set on `attempts`, so two evaluators never send the same record at once; each attempt
ends by writing which channels got it. The record keeps the alert as JSON in `body`, which is
what a retry sends.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omie_pipeline.domain.invoice_status import PENDING_STATUSES, InvoiceStatus
from omie_pipeline.store.invoices import STUCK_SINCE
from omie_pipeline.store.listed import listed_in
from omie_pipeline.store.tables import alerts_sent, deals, invoices
from omie_pipeline.store.upsert import insert_if_absent

_INVOICE_COLUMNS = (
    invoices.c.account,
    invoices.c.deal_id,
    invoices.c.status,
    invoices.c.status_changed_at,
    invoices.c.submitted_at,
    invoices.c.omie_os_id,
    invoices.c.os_number,
    invoices.c.rps_status,
    invoices.c.gross_amount,
    invoices.c.last_error,
    invoices.c.fix.label("stored_fix"),
    invoices.c.last_checked_at,
    deals.c.legal_name.label("client_name"),
    deals.c.document.label("client_document"),
)
_WITH_DEAL = invoices.outerjoin(
    deals, sa.and_(deals.c.account == invoices.c.account, deals.c.deal_id == invoices.c.deal_id)
)


def _split(text: str | None) -> list[str]:
    return [part for part in (text or "").split(",") if part]


def _join(names: Iterable[str]) -> str:
    return ",".join(dict.fromkeys(names))


@dataclass(frozen=True)
class AlertRecord:
    """One row of `alerts_sent`; channel lists are names (`log`, `slack`, `webhook`)."""

    id: int
    account: str
    alert_key: str
    kind: str
    level: int
    subject: str
    body: str
    created_at: datetime
    delivered_channels: list[str]
    pending_channels: list[str]
    attempts: int
    last_error: str | None

    @classmethod
    def from_row(cls, row: Any) -> AlertRecord:
        """The record of one `alerts_sent` row, its comma-joined channel columns read as lists."""
        return cls(
            id=row.id,
            account=row.account,
            alert_key=row.alert_key,
            kind=row.kind,
            level=row.level,
            subject=row.subject,
            body=row.body,
            created_at=row.created_at,
            delivered_channels=_split(row.delivered_channels),
            pending_channels=_split(row.pending_channels),
            attempts=row.attempts,
            last_error=row.last_error,
        )


def stuck_invoices(connection: sa.Connection, since_before: datetime) -> list[dict[str, Any]]:
    """Invoices of every account in submitted/processing whose clock started at or before `since_before`.

    Each row holds the invoice's alert facts (see `omie_pipeline.alerts.messages.InvoiceFacts`):
    the client's name and raw document come from the deal, when the store has it.
    """
    query = (
        sa.select(*_INVOICE_COLUMNS, STUCK_SINCE)
        .select_from(_WITH_DEAL)
        .where(invoices.c.status.in_(sorted(PENDING_STATUSES)), since_before >= STUCK_SINCE)
        .order_by(invoices.c.account, STUCK_SINCE, invoices.c.deal_id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def failed_invoices(connection: sa.Connection, changed_since: datetime) -> list[dict[str, Any]]:
    """Invoices of every account that went to `error` at or after `changed_since`."""
    query = (
        sa.select(*_INVOICE_COLUMNS, invoices.c.status_changed_at.label("since"))
        .select_from(_WITH_DEAL)
        .where(invoices.c.status == InvoiceStatus.ERROR.value, invoices.c.status_changed_at >= changed_since)
        .order_by(invoices.c.account, invoices.c.status_changed_at, invoices.c.deal_id)
    )
    return [dict(row) for row in connection.execute(query).mappings()]


def existing_alert_keys(connection: sa.Connection, account: str, keys: Collection[str]) -> set[str]:
    """Which of `keys` already have a record for `account`."""
    wanted = set(keys)
    if not wanted:
        return set()
    query = sa.select(alerts_sent.c.alert_key).where(
        alerts_sent.c.account == account, listed_in(connection, alerts_sent.c.alert_key, wanted)
    )
    return set(connection.execute(query).scalars())


def record_alert(
    connection: sa.Connection,
    *,
    account: str,
    alert_key: str,
    kind: str,
    level: int,
    subject: str,
    body: str,
    channels: Sequence[str],
    created_at: datetime,
    claimed: bool = False,
) -> int | None:
    """Record an alert about to be sent, every channel pending; its id, or None when the key was already recorded.

    `claimed` records it with its first delivery attempt already taken by the caller.
    """
    row = {
        "account": account,
        "alert_key": alert_key,
        "kind": kind,
        "level": level,
        "subject": subject,
        "body": body,
        "created_at": created_at,
        "delivered_channels": "",
        "pending_channels": _join(channels),
        "attempts": 1 if claimed else 0,
        "last_error": None,
    }
    if not insert_if_absent(connection, alerts_sent, row):
        return None
    return connection.execute(
        sa.select(alerts_sent.c.id).where(alerts_sent.c.account == account, alerts_sent.c.alert_key == alert_key)
    ).scalar_one()


def claim_delivery(connection: sa.Connection, alert_id: int, seen_attempts: int) -> bool:
    """Take the next delivery attempt of one record; False when someone else took it first."""
    statement = (
        sa.update(alerts_sent)
        .where(alerts_sent.c.id == alert_id, alerts_sent.c.attempts == seen_attempts)
        .values(attempts=seen_attempts + 1)
    )
    return connection.execute(statement).rowcount == 1


def finish_delivery(
    connection: sa.Connection,
    alert_id: int,
    *,
    delivered: Iterable[str],
    pending: Iterable[str],
    last_error: str | None,
) -> None:
    """Write the outcome of an attempt: channels delivered so far, channels still pending, the last error."""
    current = connection.execute(
        sa.select(alerts_sent.c.delivered_channels).where(alerts_sent.c.id == alert_id)
    ).scalar_one()
    connection.execute(
        sa.update(alerts_sent)
        .where(alerts_sent.c.id == alert_id)
        .values(
            delivered_channels=_join([*_split(current), *delivered]),
            pending_channels=_join(pending),
            last_error=last_error,
        )
    )


def undelivered_alerts(
    connection: sa.Connection, *, max_attempts: int, created_before: datetime, limit: int = 50
) -> list[AlertRecord]:
    """Records with channels still pending and attempts left, created before `created_before`, oldest first."""
    query = (
        sa.select(alerts_sent)
        .where(
            alerts_sent.c.pending_channels != "",
            alerts_sent.c.attempts < max_attempts,
            alerts_sent.c.created_at <= created_before,
        )
        .order_by(alerts_sent.c.created_at, alerts_sent.c.id)
        .limit(limit)
    )
    return [AlertRecord.from_row(row) for row in connection.execute(query)]
