"""Build the reconciliation report of one account from the state store.

The report covers the deals closed on one day in São Paulo (or every day), each exactly once, plus
the rolling open items: every closed deal, whatever its day, that still waits on Omie, the
prefeitura or a person. It only reads the store; writing files is `write_report`'s job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, time, timedelta

from omie_pipeline.domain.timeutil import SAO_PAULO, UTC
from omie_pipeline.reports.model import Report
from omie_pipeline.reports.rows import build_deal
from omie_pipeline.reports.summary import build_summary
from omie_pipeline.store import Store
from omie_pipeline.store.report_queries import (
    ClosingWindow,
    closed_deal_rows,
    open_deal_rows,
    open_issue_rows,
)


def day_window(day: date | None) -> ClosingWindow:
    """The UTC bounds of one São Paulo calendar day (no bounds for None: every day)."""
    if day is None:
        return ClosingWindow()
    start = datetime.combine(day, time.min, tzinfo=SAO_PAULO)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=SAO_PAULO)
    return ClosingWindow(start.astimezone(UTC), end.astimezone(UTC))


def build_report(
    store: Store,
    account: str,
    day: date | None,
    now: datetime,
    *,
    closed_statuses: Collection[str],
    stuck_after_minutes: int,
) -> Report:
    """The report of `account` for deals closed on `day` (None: every day), as of `now` (aware).

    `closed_statuses` and `stuck_after_minutes` are the settings' (OMIE_PIPELINE_CLOSED_STATUSES,
    OMIE_PIPELINE_STUCK_AFTER_MINUTES): the callers pass them, so that the report, the checks and
    the alerts share one definition of "closed" and "stuck".
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    statuses = frozenset(status.strip().lower() for status in closed_statuses)
    stuck_after = timedelta(minutes=stuck_after_minutes)

    with store.connect() as connection:
        day_rows = closed_deal_rows(connection, account, statuses, day_window(day))
        open_rows = open_deal_rows(connection, account, statuses)
        deal_ids = {row.deal_id for row in day_rows} | {row.deal_id for row in open_rows}
        issues_by_deal = defaultdict(list)
        for issue in open_issue_rows(connection, account, deal_ids):
            issues_by_deal[issue.deal_id].append(issue)

    # An open deal closed in the period is in both lists: built once, from the same row.
    built: dict[str, tuple] = {}

    def build(row) -> tuple:
        if row.deal_id not in built:
            built[row.deal_id] = build_deal(row, issues_by_deal[row.deal_id], now, stuck_after)
        return built[row.deal_id]

    deals, exceptions = [], []
    for row in day_rows:
        deal, found = build(row)
        deals.append(deal)
        exceptions.extend(found)
    open_items, open_exceptions = [], []
    for row in open_rows:
        deal, found = build(row)
        open_items.append(deal)
        open_exceptions.extend(found)
    # Oldest first: what has waited longest is what finance chases first.
    open_items.sort(key=lambda deal: (-deal.days_open, deal.closing_day, deal.deal_id))

    return Report(
        account=account,
        day=day,
        generated_at=now.astimezone(UTC),
        stuck_after_minutes=stuck_after_minutes,
        deals=deals,
        exceptions=exceptions,
        open_items=open_items,
        open_exceptions=open_exceptions,
        summary=build_summary(deals, exceptions, open_items),
    )
