"""Build the reconciliation report of one account from the state store.

The report covers the deals closed on one day in São Paulo (or every day), each exactly once, plus
the rolling open items: every closed deal, whatever its day, that still waits on Omie, the
prefeitura or a person. It only reads the store; writing files is `write_report`'s job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, time, timedelta

from omie_pipeline.collector import collector_paused
from omie_pipeline.domain.timeutil import SAO_PAULO, UTC
from omie_pipeline.reports.model import Report
from omie_pipeline.reports.rows import DealBuilder
from omie_pipeline.reports.summary import build_summary
from omie_pipeline.store import Store
from omie_pipeline.store.report_queries import (
    ClosingWindow,
    report_deal_rows,
    report_issue_rows,
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

    builder = DealBuilder(now, stuck_after)
    window = day_window(day)
    deals, exceptions, open_items, open_exceptions = [], [], [], []
    with collector_paused():
        with store.connect() as connection:
            issues_by_deal = defaultdict(list)
            for issue in report_issue_rows(connection, account, statuses, window):
                issues_by_deal[issue.deal_id].append(issue)
            # One pass over one statement: a deal closed in the period and still open is built once and listed in
            # both places.
            for row in report_deal_rows(connection, account, statuses, window):
                deal, found = builder.build(row, issues_by_deal.get(row.deal_id, ()))
                if row.in_period:
                    deals.append(deal)
                    exceptions.extend(found)
                if row.is_open:
                    open_items.append(deal)
                    open_exceptions.extend(found)
        # Oldest first: what has waited longest is what finance chases first.
        open_items.sort(key=lambda deal: (-deal.days_open, deal.closing_day, deal.deal_id))
        summary = build_summary(deals, exceptions, open_items)

    return Report(
        account=account,
        day=day,
        generated_at=now.astimezone(UTC),
        stuck_after_minutes=stuck_after_minutes,
        deals=deals,
        exceptions=exceptions,
        open_items=open_items,
        open_exceptions=open_exceptions,
        summary=summary,
    )
