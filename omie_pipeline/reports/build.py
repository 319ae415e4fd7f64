"""Build the reconciliation report of one account from the state store.

The report covers the deals closed on one day in São Paulo (or every day), each exactly once, plus
the rolling open items: every closed deal, whatever its day, that still waits on Omie, the
prefeitura or a person. It only reads the store; writing files is `write_report`'s job.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
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
    report_replaced_notes,
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
    return build_reports(
        store, account, [day], now, closed_statuses=closed_statuses, stuck_after_minutes=stuck_after_minutes
    )[0]


def build_reports(
    store: Store,
    account: str,
    days: Sequence[date | None],
    now: datetime,
    *,
    closed_statuses: Collection[str],
    stuck_after_minutes: int,
) -> list[Report]:
    """The reports of `account` for each of `days` (in that order), as of one `now`, from one pass over the store.

    Each deal is built once, whichever reports list it. The open items do not depend on the report's day: the
    reports share one list of them, so that `write_reports` renders their section and chart once for all days.
    The pass reads the deals closed from the first day to the last, those of days between that were not asked
    for included (and left out of every report): the days one run writes are next to each other.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    statuses = frozenset(status.strip().lower() for status in closed_statuses)
    stuck_after = timedelta(minutes=stuck_after_minutes)

    builder = DealBuilder(now, stuck_after)
    every_day = None in days
    periods: dict[date | None, tuple[list, list]] = {day: ([], []) for day in days}
    open_items, open_exceptions = [], []
    with collector_paused():
        with store.connect() as connection:
            window = _span(days)
            issues_by_deal = defaultdict(list)
            for issue in report_issue_rows(connection, account, statuses, window):
                issues_by_deal[issue.deal_id].append(issue)
            replaced_by_deal = defaultdict(list)
            for note in report_replaced_notes(connection, account, statuses, window):
                replaced_by_deal[note.deal_id].append(note)
            # One pass over one statement: a deal closed in the period and still open is built once and listed in
            # both places.
            for rows in report_deal_rows(connection, account, statuses, window):
                builder.remember_documents(rows)
                for row in rows:
                    deal, found = builder.build(
                        row, issues_by_deal.get(row.deal_id, ()), replaced_by_deal.get(row.deal_id, ())
                    )
                    period = periods.get(None if every_day else deal.closing_day) if row.in_period else None
                    if period is not None:
                        period[0].append(deal)
                        period[1].extend(found)
                    if row.is_open:
                        open_items.append(deal)
                        open_exceptions.extend(found)
        # Oldest first: what has waited longest is what finance chases first.
        open_items.sort(key=lambda deal: (-deal.days_open, deal.closing_day, deal.deal_id))
        summaries = {day: build_summary(deals, exceptions, open_items) for day, (deals, exceptions) in periods.items()}

    return [
        Report(
            account=account,
            day=day,
            generated_at=now.astimezone(UTC),
            stuck_after_minutes=stuck_after_minutes,
            deals=periods[day][0],
            exceptions=periods[day][1],
            open_items=open_items,
            open_exceptions=open_exceptions,
            summary=summaries[day],
        )
        for day in days
    ]


def _span(days: Sequence[date | None]) -> ClosingWindow:
    """From the start of the first day to the end of the last (no bounds when one of them is every day)."""
    if None in days:
        return day_window(None)
    return ClosingWindow(day_window(min(days)).start, day_window(max(days)).end)
