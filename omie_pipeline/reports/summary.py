"""The report's summary: totals by situation, the walk from CRM to issued notes, taxes, aging, reasons.

Every figure is a Decimal sum over the deal rows, so the summary can never disagree with the
deal table it sits above. The walk (bridge) is built so that each total is the previous total
plus the steps in between, and `build_summary` refuses to return one that does not add up.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from omie_pipeline.i18n import N_, _
from omie_pipeline.reports.labels import (
    OUTCOME_ORDER,
    TAX_LABELS,
    Outcome,
    reason_label,
)
from omie_pipeline.reports.model import (
    AgingBucket,
    BridgeItem,
    BridgeLine,
    DealRow,
    ExceptionRow,
    ReasonGroup,
    StatusLine,
    Summary,
    TaxTotal,
)
from omie_pipeline.store.report_queries import TAX_NAMES, WITHHOLDABLE_TAX_NAMES

ZERO = Decimal("0.00")
IN_PROGRESS = (Outcome.SUBMITTED, Outcome.PROCESSING)
# (label, first day, last day or None): calendar days since the deal closed.
AGING_BUCKETS = (
    (N_("up to 1 day"), 0, 1),
    (N_("2 to 7 days"), 2, 7),
    (N_("8 to 15 days"), 8, 15),
    (N_("16 to 30 days"), 16, 30),
    (N_("over 30 days"), 31, None),
)


class BridgeDoesNotAddUpError(AssertionError):
    """The walk from the CRM to the issued total has a gap: a deal was counted twice or not at all."""


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum((value for value in values if value is not None), ZERO)


def _crm(deal: DealRow) -> Decimal:
    return deal.crm_amount if deal.crm_amount is not None else ZERO


def status_lines(deals: Sequence[DealRow]) -> tuple[StatusLine, ...]:
    """One line per outcome, in the report's order, even for outcomes without deals, so tables keep their shape."""
    by_outcome: dict[Outcome, list[DealRow]] = defaultdict(list)
    for deal in deals:
        by_outcome[deal.outcome].append(deal)
    return tuple(
        StatusLine(
            outcome=outcome,
            count=len(by_outcome[outcome]),
            crm_amount=_sum(deal.crm_amount for deal in by_outcome[outcome]),
            gross=_sum(deal.gross_amount for deal in by_outcome[outcome]),
            withheld=_sum(deal.withheld_total for deal in by_outcome[outcome]),
            net=_sum(deal.net_receivable for deal in by_outcome[outcome]),
        )
        for outcome in OUTCOME_ORDER
    )


def _step(
    key: str,
    label: str,
    deals: Sequence[DealRow],
    sign: int,
    amount_of: Callable[[DealRow], Decimal],
    note_of: Callable[[DealRow], str],
) -> BridgeLine:
    items = tuple(BridgeItem(deal.deal_id, deal.client_name, sign * amount_of(deal), note_of(deal)) for deal in deals)
    return BridgeLine(key, label, "step", len(items), _sum(item.amount for item in items), items)


def _first_reason(deal: DealRow) -> str:
    return reason_label(deal.reasons[0]) if deal.reasons else ""


def bridge(deals: Sequence[DealRow]) -> tuple[BridgeLine, ...]:
    """CRM closed total -> invoiced total -> issued total, with every difference one deal at a time."""
    invoiced = [deal for deal in deals if deal.outcome.is_invoiced]
    differing = [deal for deal in invoiced if deal.gross_amount != _crm(deal)]
    closed_total = _sum(_crm(deal) for deal in deals)
    invoiced_total = _sum(deal.gross_amount for deal in invoiced)
    issued = [deal for deal in deals if deal.outcome is Outcome.ISSUED]

    def of(*outcomes: Outcome) -> list[DealRow]:
        return [deal for deal in deals if deal.outcome in outcomes]

    lines = (
        BridgeLine("closed", _("Closed in the CRM"), "total", len(deals), closed_total),
        _step("blocked", _("(−) Not invoiced: open issue to resolve"), of(Outcome.BLOCKED), -1, _crm, _first_reason),
        _step(
            "pending",
            _("(−) Not invoiced: awaiting processing"),
            of(Outcome.PENDING),
            -1,
            _crm,
            lambda deal: _("not processed yet"),
        ),
        _step(
            "amount_difference",
            _("(±) Invoice amount differs from the CRM"),
            differing,
            1,
            lambda deal: deal.gross_amount - _crm(deal),
            lambda deal: (
                _("deal without an amount in the CRM")
                if deal.crm_amount is None
                else _("invoice amount differs from the CRM")
            ),
        ),
        BridgeLine("invoiced", _("Invoiced (invoices sent to Omie)"), "total", len(invoiced), invoiced_total),
        _step(
            "in_progress",
            _("(−) Waiting on Omie or the prefeitura"),
            of(*IN_PROGRESS),
            -1,
            lambda deal: deal.gross_amount,
            lambda deal: deal.outcome.label,
        ),
        _step(
            "error",
            _("(−) Rejected by the prefeitura or Omie"),
            of(Outcome.ERROR),
            -1,
            lambda deal: deal.gross_amount,
            lambda deal: deal.last_error or "",
        ),
        _step(
            "cancelled",
            _("(−) Cancelled"),
            of(Outcome.CANCELLED),
            -1,
            lambda deal: deal.gross_amount,
            lambda deal: _("invoice cancelled"),
        ),
        BridgeLine(
            "issued", _("Issued (valid NFS-e)"), "total", len(issued), _sum(deal.gross_amount for deal in issued)
        ),
    )
    _check_bridge(lines)
    return lines


def _check_bridge(lines: Sequence[BridgeLine]) -> None:
    running = None
    for line in lines:
        if line.kind == "step":
            running += line.amount
        elif running is None:
            running = line.amount
        elif running != line.amount:
            raise BridgeDoesNotAddUpError(
                f"the steps before {line.label!r} add up to {running}, but the total is {line.amount}"
            )
        else:
            running = line.amount


def tax_totals(deals: Sequence[DealRow]) -> tuple[TaxTotal, ...]:
    """Each tax on issued notes and on notes still in progress, kept apart because only the first is final."""
    issued = [deal for deal in deals if deal.outcome is Outcome.ISSUED]
    in_progress = [deal for deal in deals if deal.outcome in IN_PROGRESS]
    return tuple(
        TaxTotal(
            tax=name,
            label=TAX_LABELS[name],
            amount_issued=_sum(deal.tax(name).amount for deal in issued),
            withheld_issued=_sum(deal.tax(name).withheld_amount for deal in issued),
            notes_withheld=sum(1 for deal in issued if name in WITHHOLDABLE_TAX_NAMES and deal.tax(name).withheld),
            amount_in_progress=_sum(deal.tax(name).amount for deal in in_progress),
        )
        for name in TAX_NAMES
    )


def aging(open_items: Sequence[DealRow]) -> tuple[AgingBucket, ...]:
    """Open items by calendar days since closing."""
    buckets = []
    for label, first, last in AGING_BUCKETS:
        inside = [deal for deal in open_items if deal.days_open >= first and (last is None or deal.days_open <= last)]
        counts = Counter(deal.outcome for deal in inside)
        buckets.append(
            AgingBucket(
                label=_(label),
                min_days=first,
                max_days=last,
                count=len(inside),
                amount=_sum(deal.amount_at_stake for deal in inside),
                count_by_outcome={outcome: counts[outcome] for outcome in OUTCOME_ORDER if outcome.is_open},
                amount_by_outcome={
                    outcome: _sum(deal.amount_at_stake for deal in inside if deal.outcome is outcome)
                    for outcome in OUTCOME_ORDER
                    if outcome.is_open
                },
            )
        )
    return tuple(buckets)


def reason_groups(exceptions: Sequence[ExceptionRow]) -> tuple[ReasonGroup, ...]:
    """Exceptions by (stage, reason): how many deals, how much money, and the usual fix; largest first."""
    grouped: dict[tuple[str, str], dict[str, ExceptionRow]] = defaultdict(dict)
    for exception in exceptions:
        grouped[(exception.stage, exception.reason)].setdefault(exception.deal_id, exception)
    groups = []
    for (stage, reason), by_deal in grouped.items():
        fixes = Counter(exception.fix for exception in by_deal.values() if exception.fix)
        groups.append(
            ReasonGroup(
                stage=stage,
                reason=reason,
                label=reason_label(reason),
                count=len(by_deal),
                amount=_sum(exception.amount for exception in by_deal.values()),
                fix=fixes.most_common(1)[0][0] if fixes else None,
            )
        )
    return tuple(sorted(groups, key=lambda group: (-group.count, -group.amount, group.stage, group.reason)))


def build_summary(
    deals: Sequence[DealRow], exceptions: Sequence[ExceptionRow], open_items: Sequence[DealRow]
) -> Summary:
    """Every figure of the report from its rows, so each file shows the same numbers."""
    statuses = status_lines(deals)
    issued = next(line for line in statuses if line.outcome is Outcome.ISSUED)
    invoiced = [line for line in statuses if line.outcome.is_invoiced]
    return Summary(
        closed_count=len(deals),
        closed_amount=_sum(deal.crm_amount for deal in deals),
        invoiced_count=sum(line.count for line in invoiced),
        invoiced_amount=_sum(line.gross for line in invoiced),
        issued_count=issued.count,
        issued_amount=issued.gross,
        withheld_issued=issued.withheld,
        net_issued=issued.net,
        open_count=len(open_items),
        open_amount=_sum(deal.amount_at_stake for deal in open_items),
        exceptions_count=len({exception.deal_id for exception in exceptions}),
        by_status=statuses,
        bridge=bridge(deals),
        taxes=tax_totals(deals),
        aging=aging(open_items),
        reasons=reason_groups(exceptions),
    )
