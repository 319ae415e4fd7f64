"""The report's summary: totals by situation, the walk from CRM to issued notes, taxes, aging, reasons.

Every figure is a Decimal sum over the deal rows, so the summary can never disagree with the
deal table it sits above. The walk (bridge) is built so that each total is the previous total
plus the steps in between, and `build_summary` refuses to return one that does not add up.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from functools import partial
from operator import attrgetter, is_not

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


# A report of 100,000 deals sums each figure over every deal: the fields are read with `attrgetter` and the
# NULLs left out with `filter`, both in C, instead of a generator's step per deal.
_present = partial(is_not, None)
_deal_id = attrgetter("deal_id")
_client_name = attrgetter("client_name")
_outcome = attrgetter("outcome")
_crm_amount = attrgetter("crm_amount")
_gross_amount = attrgetter("gross_amount")
_at_stake = attrgetter("amount_at_stake")


def _sum(values: Iterable[Decimal | None]) -> Decimal:
    return sum(filter(_present, values), ZERO)


def _crm(deal: DealRow) -> Decimal:
    return deal.crm_amount if deal.crm_amount is not None else ZERO


def _by_outcome(deals: Sequence[DealRow]) -> dict[Outcome, list[DealRow]]:
    """The deals of each outcome (every outcome a key), each list in the deals' order."""
    by_outcome: dict[Outcome, list[DealRow]] = {outcome: [] for outcome in OUTCOME_ORDER}
    for deal in deals:
        by_outcome[deal.outcome].append(deal)
    return by_outcome


def status_lines(by_outcome: dict[Outcome, list[DealRow]]) -> tuple[StatusLine, ...]:
    """One line per outcome, in the report's order, even for outcomes without deals, so tables keep their shape."""
    return tuple(
        StatusLine(
            outcome=outcome,
            count=len(by_outcome[outcome]),
            crm_amount=_sum(map(_crm_amount, by_outcome[outcome])),
            gross=_sum(map(_gross_amount, by_outcome[outcome])),
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
    note_of: Callable[[DealRow], str] | str,
) -> BridgeLine:
    """`note_of`: each deal's note, or the one note of every deal of the step."""
    amounts = [sign * amount for amount in map(amount_of, deals)]
    notes = [note_of] * len(deals) if isinstance(note_of, str) else map(note_of, deals)
    items = tuple(map(BridgeItem, map(_deal_id, deals), map(_client_name, deals), amounts, notes))
    return BridgeLine(key, label, "step", len(items), sum(amounts, ZERO), items)


def _first_reason() -> Callable[[DealRow], str]:
    """A deal's first reason's label, each reason's worked out once."""
    labels: dict[str, str] = {}

    def first_reason(deal: DealRow) -> str:
        if not deal.reasons:
            return ""
        reason = deal.reasons[0]
        if reason not in labels:
            labels[reason] = reason_label(reason)
        return labels[reason]

    return first_reason


def bridge(deals: Sequence[DealRow], by_outcome: dict[Outcome, list[DealRow]]) -> tuple[BridgeLine, ...]:
    """CRM closed total -> invoiced total -> issued total, with every difference one deal at a time.

    `by_outcome`: the deals of each outcome (`_by_outcome`)."""
    invoiced_outcomes = frozenset(outcome for outcome in Outcome if outcome.is_invoiced)
    invoiced = [deal for deal in deals if deal.outcome in invoiced_outcomes]
    differing = [deal for deal in invoiced if deal.gross_amount != _crm(deal)]
    closed_total = _sum(map(_crm_amount, deals))
    invoiced_total = _sum(map(_gross_amount, invoiced))
    issued = by_outcome[Outcome.ISSUED]
    labels = {outcome: outcome.label for outcome in IN_PROGRESS}

    def of(*outcomes: Outcome) -> list[DealRow]:
        if len(outcomes) == 1:
            return by_outcome[outcomes[0]]
        return [deal for deal in deals if deal.outcome in outcomes]

    lines = (
        BridgeLine("closed", _("Closed in the CRM"), "total", len(deals), closed_total),
        _step("blocked", _("(−) Not invoiced: open issue to resolve"), of(Outcome.BLOCKED), -1, _crm, _first_reason()),
        _step(
            "pending",
            _("(−) Not invoiced: awaiting processing"),
            of(Outcome.PENDING),
            -1,
            _crm,
            _("not processed yet"),
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
            lambda deal: labels[deal.outcome],
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
            _("invoice cancelled"),
        ),
        BridgeLine("issued", _("Issued (valid NFS-e)"), "total", len(issued), _sum(map(_gross_amount, issued))),
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


def tax_totals(deals: Sequence[DealRow], by_outcome: dict[Outcome, list[DealRow]]) -> tuple[TaxTotal, ...]:
    """Each tax on issued notes and on notes still in progress, kept apart because only the first is final."""
    issued = by_outcome[Outcome.ISSUED]
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
    """Open items by calendar days since closing.

    One pass over the items: which buckets hold an age is worked out once per distinct age, and each
    bucket's amounts are summed per outcome from its own items, in their order."""
    members: list[list[DealRow]] = [[] for _bucket in AGING_BUCKETS]
    holding: dict[int, list[list[DealRow]]] = {}
    for deal in open_items:
        days = deal.days_open
        targets = holding.get(days)
        if targets is None:
            targets = holding[days] = [
                inside
                for inside, (_label, first, last) in zip(members, AGING_BUCKETS, strict=True)
                if days >= first and (last is None or days <= last)
            ]
        for inside in targets:
            inside.append(deal)
    open_outcomes = [outcome for outcome in OUTCOME_ORDER if outcome.is_open]
    buckets = []
    for (label, first, last), inside in zip(AGING_BUCKETS, members, strict=True):
        stakes = list(map(_at_stake, inside))
        by_outcome: dict[Outcome, list[Decimal]] = defaultdict(list)
        for outcome, stake in zip(map(_outcome, inside), stakes, strict=True):
            by_outcome[outcome].append(stake)
        buckets.append(
            AgingBucket(
                label=_(label),
                min_days=first,
                max_days=last,
                count=len(inside),
                amount=_sum(stakes),
                count_by_outcome={outcome: len(by_outcome.get(outcome, ())) for outcome in open_outcomes},
                amount_by_outcome={outcome: _sum(by_outcome.get(outcome, ())) for outcome in open_outcomes},
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
    by_outcome = _by_outcome(deals)
    statuses = status_lines(by_outcome)
    issued = next(line for line in statuses if line.outcome is Outcome.ISSUED)
    invoiced = [line for line in statuses if line.outcome.is_invoiced]
    return Summary(
        closed_count=len(deals),
        closed_amount=_sum(map(_crm_amount, deals)),
        invoiced_count=sum(line.count for line in invoiced),
        invoiced_amount=_sum(line.gross for line in invoiced),
        issued_count=issued.count,
        issued_amount=issued.gross,
        withheld_issued=issued.withheld,
        net_issued=issued.net,
        open_count=len(open_items),
        open_amount=_sum(map(_at_stake, open_items)),
        exceptions_count=len(set(map(_deal_id, exceptions))),
        by_status=statuses,
        bridge=bridge(deals, by_outcome),
        taxes=tax_totals(deals, by_outcome),
        aging=aging(open_items),
        reasons=reason_groups(exceptions),
    )
