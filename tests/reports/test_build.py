"""The report's figures against the state store itself, on SQLite and PostgreSQL.

Expected values are sums the database computes (SQL SUM / COUNT over the tables), never figures
typed into the test, so a report that drops, doubles or misplaces a deal fails here.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.reports.labels import Outcome
from omie_pipeline.reports.rows import UnknownInvoiceStatusError
from omie_pipeline.store.tables import deal_issues, deals, invoices

from .conftest import ACCOUNT, CLOSED, CPF_JOAO, CPF_MARIA, CPF_TYPO, DAY, NOW, STUCK_AFTER_MINUTES, build

TAXES = ("iss", "pis", "cofins", "csll", "ir", "inss", "ibs", "cbs")
WITHHOLDABLE = ("iss", "pis", "cofins", "csll", "ir", "inss")
DAY_START = datetime.combine(DAY, time.min, tzinfo=SAO_PAULO)
DAY_END = DAY_START + timedelta(days=1)


def _closed_on_day():
    """The store's own definition of the day's closed deals, written independently of the report's query."""
    moment = sa.func.coalesce(deals.c.closed_at, deals.c.pulled_at)
    return sa.and_(
        deals.c.account == ACCOUNT,
        sa.or_(deals.c.status == "won", deals.c.is_valid.is_(False)),
        moment >= DAY_START,
        moment < DAY_END,
    )


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def test_every_closed_deal_of_the_day_appears_exactly_once(seeded) -> None:
    report = build(seeded)
    with seeded.store.connect() as connection:
        expected = [row.deal_id for row in connection.execute(sa.select(deals.c.deal_id).where(_closed_on_day()))]
    listed = Counter(deal.deal_id for deal in report.deals)
    assert listed == Counter(expected)
    assert set(listed) == seeded.deal_ids_on_day
    assert all(count == 1 for count in listed.values())
    assert not {"D-OPEN", "D-LOST", "D-OTHER", "D-0901", "D-0701"} & set(listed)


def test_a_deal_closed_late_in_the_evening_belongs_to_its_sao_paulo_day(seeded) -> None:
    report = build(seeded)
    late = next(deal for deal in report.deals if deal.deal_id == "D-1013")
    assert late.closed_at.astimezone(SAO_PAULO).date() == DAY
    assert late.closed_at.date() == DAY + timedelta(days=1)  # the next day in UTC
    next_day = build(seeded, DAY + timedelta(days=1))
    assert "D-1013" not in {deal.deal_id for deal in next_day.deals}


def test_totals_by_status_equal_the_store_sums(seeded) -> None:
    report = build(seeded)
    query = (
        sa.select(
            invoices.c.status,
            sa.func.count().label("n"),
            sa.func.sum(invoices.c.gross_amount).label("gross"),
            sa.func.sum(invoices.c.withheld_total).label("withheld"),
            sa.func.sum(invoices.c.net_amount).label("net"),
        )
        .select_from(
            deals.join(invoices, sa.and_(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id))
        )
        .where(_closed_on_day())
        .group_by(invoices.c.status)
    )
    with seeded.store.connect() as connection:
        by_status = {row.status: row for row in connection.execute(query)}
        closed_count, closed_amount = connection.execute(
            sa.select(sa.func.count(), sa.func.sum(deals.c.amount)).where(_closed_on_day())
        ).one()
        not_invoiced = connection.execute(
            sa.select(sa.func.count(), sa.func.sum(deals.c.amount)).where(
                _closed_on_day(),
                ~sa.exists().where(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id),
            )
        ).one()
    assert set(by_status) == {"issued", "processing", "submitted", "error", "cancelled"}
    summary = report.summary
    for status, row in by_status.items():
        line = summary.status(Outcome(status))
        assert (line.count, line.gross, line.withheld, line.net) == (
            row.n,
            _money(row.gross),
            _money(row.withheld),
            _money(row.net),
        ), status
    assert (summary.closed_count, summary.closed_amount) == (closed_count, _money(closed_amount))
    assert summary.invoiced_amount == sum(_money(row.gross) for row in by_status.values())
    assert summary.issued_amount == _money(by_status["issued"].gross)
    assert summary.net_issued == _money(by_status["issued"].net)
    blocked, pending = summary.status(Outcome.BLOCKED), summary.status(Outcome.PENDING)
    assert blocked.count + pending.count == not_invoiced[0]
    assert blocked.crm_amount + pending.crm_amount == _money(not_invoiced[1])


def test_tax_totals_equal_the_store_sums(seeded) -> None:
    report = build(seeded)
    joined = deals.join(invoices, sa.and_(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id))
    with seeded.store.connect() as connection:

        def total(column, *statuses):
            return _money(
                connection.execute(
                    sa.select(sa.func.sum(column))
                    .select_from(joined)
                    .where(_closed_on_day(), invoices.c.status.in_(statuses))
                ).scalar()
            )

        for name in TAXES:
            line = report.summary.tax(name)
            assert line.amount_issued == total(invoices.c[f"{name}_amount"], "issued"), name
            assert line.amount_in_progress == total(invoices.c[f"{name}_amount"], "submitted", "processing"), name
            if name in WITHHOLDABLE:
                assert line.withheld_issued == total(invoices.c[f"{name}_withheld_amount"], "issued"), name
                withheld_notes = connection.execute(
                    sa.select(sa.func.count())
                    .select_from(joined)
                    .where(_closed_on_day(), invoices.c.status == "issued", invoices.c[f"{name}_withheld"].is_(True))
                ).scalar()
                assert line.notes_withheld == withheld_notes, name
    # The taxes withheld add up to what the issued notes say was withheld in all.
    assert sum(line.withheld_issued for line in report.summary.taxes) == report.summary.withheld_issued
    assert report.summary.tax("inss").withheld_issued > 0 and report.summary.tax("iss").withheld_issued > 0


def test_the_walk_from_crm_to_issued_explains_every_difference_deal_by_deal(seeded) -> None:
    report = build(seeded)
    lines = {line.key: line for line in report.summary.bridge}
    steps = [line for line in report.summary.bridge if line.kind == "step"]
    for line in steps:
        assert line.amount == sum((item.amount for item in line.items), Decimal("0.00")), line.key
        assert line.count == len(line.items)
    assert lines["closed"].amount + sum(line.amount for line in steps) == lines["issued"].amount
    # Every deal that is closed but not issued is behind exactly one "not issued" step.
    explained = Counter(
        item.deal_id for key in ("blocked", "pending", "in_progress", "error", "cancelled") for item in lines[key].items
    )
    not_issued = {deal.deal_id for deal in report.deals if deal.outcome is not Outcome.ISSUED}
    assert set(explained) == not_issued and set(explained.values()) == {1}
    mismatch = lines["amount_difference"].items
    assert [item.deal_id for item in mismatch] == ["D-1012"]
    deal = next(deal for deal in report.deals if deal.deal_id == "D-1012")
    assert mismatch[0].amount == deal.gross_amount - deal.crm_amount


def test_exceptions_carry_their_reasons_messages_and_fixes(seeded) -> None:
    report = build(seeded)
    by_deal: dict[str, list] = {}
    for exception in report.exceptions:
        by_deal.setdefault(exception.deal_id, []).append(exception)
    for deal_id, reasons in seeded.expected_reasons.items():
        assert {exception.reason for exception in by_deal.get(deal_id, [])} == reasons, deal_id
    for exception in report.exceptions:
        assert exception.message and exception.fix, exception
    with seeded.store.connect() as connection:
        open_issues = connection.execute(
            sa.select(deal_issues.c.deal_id, deal_issues.c.reason, deal_issues.c.fix).where(
                deal_issues.c.account == ACCOUNT, deal_issues.c.resolved_at.is_(None)
            )
        ).all()
    on_day = {deal.deal_id for deal in report.deals}
    for issue in open_issues:
        if issue.deal_id in on_day:
            assert any(e.reason == issue.reason and e.fix == issue.fix for e in by_deal[issue.deal_id]), issue
    assert "D-1015" not in by_deal  # its only issue was resolved
    error = next(e for e in by_deal["D-1006"] if e.reason == "rejected")
    assert error.message.startswith("E0310") and "LC 116" in error.fix
    groups = {(group.stage, group.reason): group for group in report.summary.reasons}
    assert sum(group.count for group in groups.values()) == sum(
        len({e.reason for e in found}) for found in by_deal.values()
    )
    assert groups[("invoice", "rejected")].amount == next(d for d in report.deals if d.deal_id == "D-1006").gross_amount
    # The deal row says the same as its exceptions.
    pending = next(deal for deal in report.deals if deal.deal_id == "D-1011")
    assert pending.outcome is Outcome.PENDING and pending.last_error and pending.fix


def test_open_items_cover_every_unsettled_deal_whatever_its_day(seeded) -> None:
    report = build(seeded)
    assert {deal.deal_id for deal in report.open_items} == seeded.open_deal_ids
    with seeded.store.connect() as connection:
        open_gross = connection.execute(
            sa.select(sa.func.sum(invoices.c.gross_amount)).where(
                invoices.c.account == ACCOUNT, invoices.c.status.in_(("submitted", "processing", "error"))
            )
        ).scalar()
        uninvoiced = connection.execute(
            sa.select(sa.func.sum(deals.c.amount)).where(
                deals.c.account == ACCOUNT,
                sa.or_(deals.c.status == "won", deals.c.is_valid.is_(False)),
                ~sa.exists().where(invoices.c.account == deals.c.account, invoices.c.deal_id == deals.c.deal_id),
            )
        ).scalar()
    assert report.summary.open_amount == _money(open_gross) + _money(uninvoiced)
    assert sum(bucket.amount for bucket in report.summary.aging) == report.summary.open_amount
    assert sum(bucket.count for bucket in report.summary.aging) == len(report.open_items)
    days = [deal.days_open for deal in report.open_items]
    assert days == sorted(days, reverse=True)
    oldest = report.open_items[0]
    assert oldest.deal_id == "D-0601"
    assert oldest.days_open == (NOW.date() - oldest.closing_day).days
    assert any(bucket.max_days is None and bucket.count == 1 for bucket in report.summary.aging)


def test_days_open_run_from_closing_to_issue_in_sao_paulo_days(seeded) -> None:
    report = {deal.deal_id: deal for deal in build(seeded).deals}
    for deal in report.values():
        if deal.outcome is Outcome.ISSUED:
            assert deal.days_open == (deal.issued_at.astimezone(SAO_PAULO).date() - deal.closing_day).days
        elif deal.outcome.is_open:
            assert deal.days_open == (NOW.date() - deal.closing_day).days
    assert report["D-1003"].days_open == 2 and report["D-1001"].days_open == 0


def test_cpfs_are_masked_everywhere_and_cnpjs_shown(seeded) -> None:
    report = build(seeded)
    dumped = repr(report.deals) + repr(report.exceptions) + repr(report.open_items) + repr(report.summary)
    for cpf in (CPF_MARIA, CPF_JOAO, CPF_TYPO):
        assert cpf not in dumped
        assert f"{cpf[:3]}.{cpf[3:6]}.{cpf[6:9]}-{cpf[9:]}" not in dumped
    documents = {deal.deal_id: deal.client_document for deal in report.deals}
    assert documents["D-1002"] == "***.982.247-**"
    assert documents["D-1001"] == "11.222.333/0001-81"
    assert documents["D-1003"] == "12.ABC.345/01DE-35"


def test_the_report_of_every_day_holds_every_closed_deal_once(seeded) -> None:
    report = build(seeded, None)
    with seeded.store.connect() as connection:
        expected = connection.execute(
            sa.select(sa.func.count()).where(
                deals.c.account == ACCOUNT, sa.or_(deals.c.status == "won", deals.c.is_valid.is_(False))
            )
        ).scalar()
    ids = [deal.deal_id for deal in report.deals]
    assert len(ids) == len(set(ids)) == expected
    assert report.period_label == "every day"


def test_an_invoice_status_outside_the_lifecycle_is_an_error_naming_the_deal(seeded) -> None:
    with seeded.store.begin() as connection:
        connection.execute(invoices.update().where(invoices.c.deal_id == "D-1004").values(status="billed"))
    with pytest.raises(UnknownInvoiceStatusError, match="D-1004.*billed"):
        build(seeded)


def test_a_naive_now_is_refused(seeded) -> None:
    from omie_pipeline.reports import build_report

    with pytest.raises(ValueError, match="timezone-aware"):
        build_report(
            seeded.store, ACCOUNT, DAY, datetime(2026, 11, 26, 12, 0), closed_statuses={"won"}, stuck_after_minutes=30
        )


def test_reports_of_several_days_built_together_equal_each_days_own(seeded) -> None:
    """One pass for several days gives each day the report it has alone, and one list of open items for all."""
    from omie_pipeline.reports import build_reports

    earlier = DAY - timedelta(days=2)
    together = build_reports(
        seeded.store, ACCOUNT, [earlier, DAY], NOW, closed_statuses=CLOSED, stuck_after_minutes=STUCK_AFTER_MINUTES
    )
    alone = [build(seeded, earlier), build(seeded)]
    assert [report.day for report in together] == [earlier, DAY]
    for joint, single in zip(together, alone, strict=True):
        assert joint.deals == single.deals and joint.exceptions == single.exceptions
        assert joint.summary == single.summary and joint.open_items == single.open_items
    assert together[0].deals and together[1].deals
    # The day between them was read, not reported: its deals are in neither day.
    between = {deal.deal_id for deal in build(seeded, DAY - timedelta(days=1)).deals}
    assert between and not between & {deal.deal_id for report in together for deal in report.deals}
    assert together[0].open_items is together[1].open_items
