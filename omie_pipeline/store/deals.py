"""Queries on closed deals and their issues.

`deals` keeps the latest version of each closed deal, valid or not. `deal_issues` keeps one row per
(deal, stage, field, reason): seeing a problem again refreshes it (and reopens it if it had been
resolved), and a problem that no longer shows is closed with `resolved_at`, so that the open
issues are always what still needs fixing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omie_pipeline.store.listed import listed_in
from omie_pipeline.store.tables import client_links, deal_issues, deals
from omie_pipeline.store.upsert import upsert

ISSUE_KEY = ("account", "deal_id", "stage", "field", "reason")
_ISSUE_REFRESHED = ("message", "fix", "raw_value", "last_seen_at", "resolved_at")


@dataclass(frozen=True)
class IssueRecord:
    """One problem of one deal at one stage, ready to store (raw value already masked)."""

    deal_id: str
    stage: str
    field: str
    reason: str
    message: str
    fix: str | None = None
    raw_value: str | None = None


def save_deals(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Insert or replace deals by (account, deal_id): the newest pull wins."""
    return upsert(connection, deals, list(rows), ["account", "deal_id"])


def refresh_deal_statistics(connection: sa.Connection) -> None:
    """Let SQLite's planner know the deals table as it now stands (`ANALYZE deals`, a few hundredths of a
    second at 100,000 deals). Without statistics it reads an account's deals through the document index even
    when the account is most of the table, a lookup per row where one pass would do: the report over 100,000
    deals spent 0.1 CPU s more so. PostgreSQL gathers its own (autovacuum), so this is SQLite's alone."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("ANALYZE deals")


def stored_versions(connection: sa.Connection, account: str, deal_ids: Iterable[str]) -> dict[str, datetime | None]:
    """`updated_at` of those of these deals that are already stored."""
    wanted = set(deal_ids)
    if not wanted:
        return {}
    query = sa.select(deals.c.deal_id, deals.c.updated_at).where(
        deals.c.account == account, listed_in(connection, deals.c.deal_id, wanted)
    )
    return dict(connection.execute(query).tuples().all())


def record_issues(connection: sa.Connection, account: str, issues: Sequence[IssueRecord], now: datetime) -> int:
    """Store or refresh issues; a resolved one that shows again is open again."""
    rows = [
        {
            "account": account,
            "deal_id": issue.deal_id,
            "stage": issue.stage,
            "field": issue.field,
            "reason": issue.reason,
            "message": issue.message,
            "fix": issue.fix,
            "raw_value": issue.raw_value,
            "first_seen_at": now,
            "last_seen_at": now,
            "resolved_at": None,
        }
        for issue in _distinct(issues)
    ]
    return upsert(connection, deal_issues, rows, ISSUE_KEY, update_columns=_ISSUE_REFRESHED)


def _distinct(issues: Sequence[IssueRecord]) -> list[IssueRecord]:
    """One issue per key (the last wins): one statement may not touch a row twice on PostgreSQL."""
    by_key = {(issue.deal_id, issue.stage, issue.field, issue.reason): issue for issue in issues}
    return list(by_key.values())


def resolve_issues_not_seen(
    connection: sa.Connection,
    account: str,
    stage: str,
    seen: Mapping[str, AbstractSet[tuple[str, str]]],
    now: datetime,
) -> int:
    """For each deal in `seen`, close its open issues at `stage` whose (field, reason) was not seen now."""
    if not seen:
        return 0
    open_rows = connection.execute(
        sa.select(deal_issues.c.id, deal_issues.c.deal_id, deal_issues.c.field, deal_issues.c.reason).where(
            deal_issues.c.account == account,
            listed_in(connection, deal_issues.c.deal_id, seen),
            deal_issues.c.stage == stage,
            deal_issues.c.resolved_at.is_(None),
        )
    ).all()
    ids = [row.id for row in open_rows if (row.field, row.reason) not in seen[row.deal_id]]
    if ids:
        connection.execute(
            sa.update(deal_issues).where(listed_in(connection, deal_issues.c.id, ids)).values(resolved_at=now)
        )
    return len(ids)


def open_issue_counts(connection: sa.Connection, account: str, stage: str | None = None) -> Counter[str]:
    """Open issues by reason, optionally of one stage."""
    query = sa.select(deal_issues.c.reason, sa.func.count()).where(
        deal_issues.c.account == account, deal_issues.c.resolved_at.is_(None)
    )
    if stage is not None:
        query = query.where(deal_issues.c.stage == stage)
    return Counter(dict(connection.execute(query.group_by(deal_issues.c.reason)).all()))


def open_issue_times(connection: sa.Connection, account: str, stage: str, reason: str) -> dict[str, datetime]:
    """Deal id -> when an open issue of this stage and reason was last seen."""
    query = (
        sa.select(deal_issues.c.deal_id, sa.func.max(deal_issues.c.last_seen_at))
        .where(
            deal_issues.c.account == account,
            deal_issues.c.stage == stage,
            deal_issues.c.reason == reason,
            deal_issues.c.resolved_at.is_(None),
        )
        .group_by(deal_issues.c.deal_id)
    )
    return dict(connection.execute(query).tuples().all())


def open_issues(connection: sa.Connection, account: str, stage: str | None = None, limit: int | None = None) -> list:
    """Open issues, oldest first: deal_id, stage, field, reason, message, fix, raw_value."""
    query = sa.select(
        deal_issues.c.deal_id,
        deal_issues.c.stage,
        deal_issues.c.field,
        deal_issues.c.reason,
        deal_issues.c.message,
        deal_issues.c.fix,
        deal_issues.c.raw_value,
    ).where(deal_issues.c.account == account, deal_issues.c.resolved_at.is_(None))
    if stage is not None:
        query = query.where(deal_issues.c.stage == stage)
    query = query.order_by(deal_issues.c.deal_id, deal_issues.c.id)
    if limit is not None:
        query = query.limit(limit)
    return list(connection.execute(query).all())


def invalid_deals_without_issue(connection: sa.Connection, account: str) -> list[str]:
    """Invalid deals with no open validation issue: they would be invisible to finance."""
    has_issue = sa.exists().where(
        deal_issues.c.account == deals.c.account,
        deal_issues.c.deal_id == deals.c.deal_id,
        deal_issues.c.stage == "validation",
        deal_issues.c.resolved_at.is_(None),
    )
    query = sa.select(deals.c.deal_id).where(deals.c.account == account, deals.c.is_valid.is_(False), ~has_issue)
    return list(connection.execute(query.order_by(deals.c.deal_id)).scalars())


def deal_counts(connection: sa.Connection, account: str) -> dict[str, int]:
    """Stored deals: total, valid, invalid, linked to a client."""
    total, valid = connection.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((deals.c.is_valid.is_(True), 1), else_=0)), 0)
        ).where(deals.c.account == account)
    ).one()
    linked = connection.execute(
        sa.select(sa.func.count()).select_from(client_links).where(client_links.c.account == account)
    ).scalar_one()
    return {"stored": int(total), "valid": int(valid), "invalid": int(total) - int(valid), "linked": int(linked)}
