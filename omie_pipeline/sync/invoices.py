"""Issuing: one OS and one NFS-e per deal, exactly once, whatever crashes, lost answers or reruns.

The protocol (design.md, "Exactly once, by construction"):

1. Intent first. A deal ready to invoice gets an invoice row (status `submitted`) with its
   idempotency key, the taxes computed now and the rates they came from, inserted under the
   key's unique constraint and claimed by this run, before any call to Omie. Whoever inserts it
   sends it; a concurrent run finds the row and skips it.
2. `IncluirOS` with the key as `cCodIntOS`. Its answer's `nCodOS` is stored at once. Omie's
   "already registered" fault for the key means the OS exists: it is looked up and adopted; so is
   any other refusal that names the integration code (Omie's duplicate wording is unverified, and
   may come as `cCodStatus` "1" inside HTTP 200): the key is looked up before the deal is marked. A
   lost answer (OutcomeUnknownError) is resolved by looking the key up (`ConsultarOS`); when Omie
   has nothing yet, nothing is resent in this run.
3. `ValidarOS`, then `FaturarOS`. A refusal from either puts the invoice in `error` with Omie's
   message and the fix: the OS exists, so the deal has its invoice and a person must act. A lost
   `FaturarOS` answer is settled by `ConsultarOS`: an invoiced OS is adopted, never invoiced again.
4. A later run resumes every intent left unfinished (no OS recorded, or an OS not yet invoiced)
   once its claim is free or its lease ran out: one `ListarOS` filtered by the keys and ids looks
   them all up (an empty answer is not a fault, so many look-ups do not build up Omie's misuse
   count the way `ConsultarOS` "not found" answers would). Found: adopted, and invoiced only when
   Omie says it is not invoiced yet. Not found and never created: the intent is dropped and the
   deal starts again in the same run.

New intents are looked up before anything is sent: the store cannot prove that Omie holds nothing
under a key (a lost store, or one restored from an older backup, forgets OS that Omie keeps), and
each "already registered" answer to `IncluirOS` is a fault that counts towards Omie's misuse block,
so a few hundred of them would get the key blocked. One `ListarOS` page filtered by the keys
(`filtrar_por_codigo`, as many keys as the listing's page size) answers for a whole batch: a run of
n new deals costs ceil(n / page size) look-ups. A key found is adopted; only keys Omie does not hold
are sent. When a batch's look-up fails, its intents are dropped unsent and their deals wait for the
next run. `IncluirOS`'s own "already registered" answer (another process sent the key meanwhile) is
an adoption too.

Deals that cannot be invoiced yet, and deals whose `IncluirOS` Omie refused (so no OS exists), are
deal issues of the invoice stage, not invoices. One deal's failure never stops the others. Deals
left unsent because a call was paused are noted in the store (`sync.waiting`) for the run's report.
"""

from __future__ import annotations

import contextvars
import logging
import os
import socket
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from omie_pipeline.domain.deal import INVOICE_REQUIRED_FIELDS
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.keys import invoice_idempotency_key
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.taxes import (
    WITHHOLDABLE_TAXES,
    Tax,
    TaxBreakdown,
    check_rates,
    compute_taxes,
)
from omie_pipeline.domain.text import plain
from omie_pipeline.domain.timeutil import SAO_PAULO, now_utc
from omie_pipeline.i18n import _, format_number
from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.omie.deadline import run_deadline
from omie_pipeline.omie.models import InvalidRecord, OsRecord
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import (
    CatalogService,
    ProductServiceError,
    find_product_service,
)
from omie_pipeline.store.invoices import (
    REFUSED_BY_OMIE,
    DealToInvoice,
    Invoice,
    InvoiceIssue,
    add_event,
    change_status,
    claim,
    deals_to_invoice,
    delete_unsent_intent,
    get_invoice,
    get_invoice_by_id,
    insert_intent,
    record_invoice_issues,
    refused_issue_times,
    release,
    reserve_check,
    resumable_intents,
    update_claimed,
)
from omie_pipeline.store.tax_rates import TaxRateVersion, rates_in_force
from omie_pipeline.sync.client_billing import omie_client_issues
from omie_pipeline.sync.duplicates import names_integration_code
from omie_pipeline.sync.invoice_fixes import fix_for, safe_message
from omie_pipeline.sync.invoice_observations import (
    apply_observation,
    from_os_record,
    from_status_detail,
)
from omie_pipeline.sync.invoice_payload import (
    DEFAULT_CATEGORY,
    NOTE_TEXT_LIMIT,
    OrderFacts,
    build_order,
    order_description,
)
from omie_pipeline.sync.omie_tax_capture import keep_omie_taxes
from omie_pipeline.sync.tax_rates import BASE_REDUCTION_TAGS
from omie_pipeline.sync.waiting import WaitingDeals, note_waiting

log = logging.getLogger("omie_pipeline.invoices")

# Omie's answers about the request itself: the OS (or its billing) was refused, nothing to retry.
REFUSALS: tuple[type[errors.OmieError], ...] = (errors.ValidationError, errors.RefusedError, errors.NotFoundError)
# Calls that did not happen: the client paused the method after a streak of faults, Omie blocked the
# key, or Omie said "not now" (throttling, concurrency, rate) longer than the client waits or than the
# run's deadline allows. The deal waits for a later run; nothing about it is wrong.
PAUSES: tuple[type[errors.OmieError], ...] = (errors.MisuseRiskError, errors.BlockedError, *errors.WAIT_ERRORS)


class Outcome(StrEnum):
    """What one run did for one deal."""

    SUBMITTED = "submitted"  # OS created (or adopted) and invoiced: the RPS is on its way
    ADOPTED = "adopted"  # Omie already had the OS invoiced: its state was taken over
    ERROR = "error"  # the OS exists but Omie refused to validate or invoice it
    NOT_READY = "not_ready"  # the deal lacks something; a deal issue says what
    REFUSED = "refused"  # Omie refused IncluirOS: no OS exists; a deal issue says why
    UNKNOWN = "unknown"  # an answer was lost and Omie does not show the result yet: next run
    FAILED = "failed"  # something else went wrong; the next run resumes safely
    SKIPPED = "skipped"  # another run holds this deal's invoice
    RESTARTED = "restarted"  # an unfinished intent Omie never saw was dropped; the deal starts again
    AWAITING_FIX = "awaiting_fix"  # Omie refused its order and nothing it is built from changed since: not resent
    WAITING = "waiting"  # the call was paused (misuse guard, blocked key): nothing sent; a later run sends it
    RESENT = "resent"  # a refused invoice, corrected, was billed again on its OS (sync.invoice_resend)


@dataclass(frozen=True)
class DealResult:
    deal_id: str
    outcome: Outcome
    detail: str = ""


@dataclass
class IssueSummary:
    """What one issuing run did, deal by deal."""

    results: list[DealResult] = field(default_factory=list)
    paused: dict[str, str] = field(default_factory=dict)  # method -> why this run stopped calling it
    skipped_records: list[str] = field(default_factory=list)  # listed records that could not be read, and why

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome is outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {outcome.value: self.count(outcome) for outcome in Outcome}

    def of(self, deal_id: str) -> DealResult | None:
        """The last result for a deal (a restarted deal has two)."""
        return next((result for result in reversed(self.results) if result.deal_id == deal_id), None)


@dataclass(frozen=True)
class IssueSettings:
    """`claim_lease`: how long a run may hold an unfinished intent before another may take it
    over (longer than any single emission takes, so a slow run is never overtaken).
    `workers`: deals handled at once (the client still paces every call). Each deal calls
    IncluirOS, ValidarOS and FaturarOS in turn, and Omie allows 4 calls of each in flight: 24
    deals at once keep the three methods' places busy while Omie takes its time to answer
    (measured at 1 s an answer: 12 deals reach 0.73 of the per-method limit, 24 deals 0.97; one
    at a time, a quarter).
    `run_budget`: the run's deadline, counted from its start: a wait Omie imposes that would end
    later is not sat through, and the deal is left for the next run (shorter than the 15-minute
    emission schedule, so that one run never overlaps the next; None: no deadline)."""

    category: str = DEFAULT_CATEGORY
    claim_lease: timedelta = timedelta(minutes=15)
    workers: int = 24
    lookup_batch: int = 50
    redundant_interval: timedelta = timedelta(seconds=60)
    run_budget: timedelta | None = timedelta(minutes=10)


@dataclass(frozen=True)
class PreparedInvoice:
    """A deal with everything its invoice needs, checked."""

    deal_id: str
    client_id: int
    service: CatalogService
    rates: TaxRateVersion
    breakdown: TaxBreakdown
    description: str | None
    email: str | None


@dataclass(frozen=True)
class _NewIntent:
    """An intent recorded in this run, not sent yet, with the order it sends."""

    invoice: Invoice
    order: dict[str, Any]


class ClaimLost(RuntimeError):
    """Another run took this invoice over (this run held it past its lease); stop touching it."""


# --- what a deal needs before it can be invoiced ---------------------------------------------


def prepare_invoice(
    connection: Any, account: str, deal: Mapping[str, Any], client_id: int | None, at: datetime
) -> PreparedInvoice | list[InvoiceIssue]:
    """The invoice of a deal, or every reason it cannot have one yet (with the fix)."""
    deal_id = deal["deal_id"]
    missing = [name for name in INVOICE_REQUIRED_FIELDS if not str(deal.get(name) or "").strip()]
    issues = [
        InvoiceIssue(
            name,
            "missing",
            _("deal {deal}: {field} is empty; an NFS-e needs it").format(deal=deal_id, field=name),
            _("fill in {field} in the CRM; the deal is invoiced on the next run").format(field=name),
        )
        for name in missing
    ]
    amount = deal.get("amount")
    if not isinstance(amount, Decimal) or amount <= 0:
        issues.append(
            InvoiceIssue(
                "amount",
                "missing" if amount is None else "not_positive",
                _("deal {deal}: amount must be more than zero to be invoiced").format(deal=deal_id),
                _("correct the deal's amount in the CRM"),
                None if amount is None else str(amount),
            )
        )
    if client_id is None:
        issues.append(
            InvoiceIssue(
                "client",
                "no_client_link",
                _("deal {deal} has no Omie client yet").format(deal=deal_id),
                _(
                    "see the deal's client issues; once its client is linked in Omie the deal is invoiced on the "
                    "next run"
                ),
            )
        )
    else:
        issues.extend(omie_client_issues(connection, account, deal_id, client_id))
    service = rates = None
    if deal.get("product_code"):
        try:
            service = find_product_service(connection, account, deal["product_code"])
        except ProductServiceError as problem:
            issues.append(
                InvoiceIssue(
                    "product_code",
                    problem.problem.reason.value,
                    _("deal {deal}: {problem}").format(deal=deal_id, problem=problem.problem.message),
                    _service_fix(problem),
                    deal["product_code"],
                )
            )
    if service is not None:
        rates = rates_in_force(connection, account, service.code, at)
        if rates is None:
            issues.append(
                InvoiceIssue(
                    "tax_rates",
                    "no_rates_in_force",
                    _("deal {deal}: service {service} has no tax rates in force").format(
                        deal=deal_id, service=service.code
                    ),
                    _(
                        "run the catalog job (service_catalog, tax_rates) and check the service's taxes in Omie's "
                        "catalog"
                    ),
                    service.code,
                )
            )
        else:
            issues.extend(_rate_rule_issues(deal_id, service, rates))
    if issues:
        return issues
    assert service is not None and rates is not None and client_id is not None and isinstance(amount, Decimal)
    return PreparedInvoice(
        deal_id,
        client_id,
        service,
        rates,
        compute_taxes(amount, rates.rates, rates.regime),
        deal.get("description"),
        deal.get("email"),
    )


def _rate_rule_issues(deal_id: str, service: CatalogService, rates: TaxRateVersion) -> list[InvoiceIssue]:
    """The tax rules the service's rates break. The order is sent with these rates and Omie computes
    the note from them, so it would print them as they are: the deal waits until they are fixed."""
    broken = [f"{problem.rule} ({problem.message})" for problem in check_rates(rates.rates, rates.regime)]
    for tag, tax in BASE_REDUCTION_TAGS.items():
        reduction = _decimal_or_none((service.taxes or {}).get(tag))
        if reduction:
            broken.append(
                "base_reduction ("
                + _(
                    "{tag} reduces the {tax} base by {reduction} %, which the pipeline's tax rules do not apply"
                ).format(tag=tag, tax=tax.label, reduction=format_number(reduction))
                + ")"
            )
    if not broken:
        return []
    return [
        InvoiceIssue(
            "tax_rates",
            "rates_break_rules",
            _("deal {deal}: the tax rates of service {service} (version {version}, {regime}) break: {broken}").format(
                deal=deal_id, service=service.code, version=rates.id, regime=rates.regime, broken="; ".join(broken)
            ),
            _(
                "correct the service's taxes in Omie's catalog, then run the catalog job (service_catalog, "
                "tax_rates); the deal is invoiced on the next run"
            ),
            service.code,
        )
    ]


def _decimal_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value).strip().replace(",", ".")) if value not in (None, "") else None
    except ArithmeticError:
        return None


def _service_fix(problem: ProductServiceError) -> str:
    reason = problem.problem.reason.value
    if reason == "unmapped":
        return _("add the product to the product -> service map file, then run the catalog job")
    if reason == "inactive_service":
        return _("map the product to an active service, or reactivate the service in Omie")
    if reason == "ambiguous_service":
        return _("give each Omie service its own code (cCodigo) in Omie's catalog")
    return _("fix the service code in the product -> service map, or create the service in Omie")


def intent_row(
    account: str, prepared: PreparedInvoice, claimer: str, now: datetime, issue_number: int = 1
) -> dict[str, Any]:
    """The invoice row recorded before anything is sent: key (of the deal's `issue_number`-th note),
    client, service, rates and taxes."""
    breakdown = prepared.breakdown
    row: dict[str, Any] = {
        "account": account,
        "deal_id": prepared.deal_id,
        "issue_number": issue_number,
        "idempotency_key": invoice_idempotency_key(account, prepared.deal_id, issue_number),
        "status": InvoiceStatus.SUBMITTED.value,
        "codigo_cliente_omie": prepared.client_id,
        "service_code": prepared.service.code,
        "tax_rate_id": prepared.rates.id,
        "gross_amount": breakdown.gross,
        "ibs_amount": breakdown.ibs,
        "cbs_amount": breakdown.amount(Tax.CBS),
        "withheld_total": breakdown.total_withheld,
        "net_amount": breakdown.net_receivable,
        "created_at": now,
        "status_changed_at": now,
        "claimed_by": claimer,
        "claimed_at": now,
    }
    for tax in (Tax.ISS, Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR, Tax.INSS):
        row[f"{tax.value}_amount"] = breakdown.amount(tax)
    for tax in WITHHOLDABLE_TAXES:
        row[f"{tax.value}_withheld"] = breakdown.line(tax).withheld
        row[f"{tax.value}_withheld_amount"] = breakdown.withheld_amount(tax)
    return row


# --- the run ----------------------------------------------------------------------------------


def default_claimer() -> str:
    """A name for this process's claims: host, process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def issue_invoices(
    client: OmieClient,
    store: Store,
    account: str,
    *,
    settings: IssueSettings | None = None,
    claimer: str | None = None,
    clock: Callable[[], datetime] = now_utc,
    only_deals: Collection[str] | None = None,
) -> IssueSummary:
    """Resume unfinished intents, then give every ready deal without an invoice (or only those of
    `only_deals`: a reissue) its one invoice."""
    settings = settings or IssueSettings()
    with run_deadline(settings.run_budget.total_seconds() if settings.run_budget is not None else None):
        return _issue(client, store, account, settings, claimer, clock, only_deals)


def _issue(
    client: OmieClient,
    store: Store,
    account: str,
    settings: IssueSettings,
    claimer: str | None,
    clock: Callable[[], datetime],
    only_deals: Collection[str] | None,
) -> IssueSummary:
    run = _Run(client, store, account, settings, claimer, clock)
    summary = IssueSummary()
    summary.results.extend(run.resume_unfinished())
    with store.connect() as connection:
        waiting = deals_to_invoice(connection, account)
        refused = refused_issue_times(connection, account)
    if only_deals is not None:
        waiting = [item for item in waiting if item.deal["deal_id"] in only_deals]
    to_send = []
    for item in waiting:
        if _refused_and_unchanged(item, refused):
            summary.results.append(
                DealResult(
                    item.deal["deal_id"],
                    Outcome.AWAITING_FIX,
                    "Omie refused its order and neither the deal, its client link, its service map nor its tax rates "
                    "changed since: not sent again (see the deal's invoice issue for the fix)",
                )
            )
        else:
            to_send.append(item)
    summary.results.extend(run.issue_new_deals(to_send))
    summary.paused = dict(run.paused)
    summary.skipped_records = list(run.skipped_records)
    waiting = tuple(result.deal_id for result in summary.results if result.outcome is Outcome.WAITING)
    with store.begin() as connection:
        note_waiting(
            connection,
            account,
            WaitingDeals(
                waiting, dict(run.paused) if waiting else {}, max(run.paused_until.values(), default=None), clock()
            ),
        )
    log.info("account %s: issuing %s", account, {k: v for k, v in summary.counts.items() if v})
    return summary


def _refused_and_unchanged(item: DealToInvoice, refused: Mapping[str, datetime]) -> bool:
    """Omie refused this deal's order and nothing the order is built from changed since: sending it
    again would be refused again, and each refusal counts towards Omie's misuse block (and the
    client's own pause of IncluirOS, which would then stop every other deal)."""
    refused_at = refused.get(item.deal["deal_id"])
    if refused_at is None:
        return False
    return item.inputs_changed_at is None or item.inputs_changed_at <= refused_at


class InvoiceSteps:
    """What every per-invoice step of one account needs, for one claimer: the Omie client, the store,
    the settings and the clock. Issuing runs and resends are both built on it."""

    def __init__(
        self,
        client: OmieClient,
        store: Store,
        account: str,
        settings: IssueSettings | None = None,
        claimer: str | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.client = client
        self.store = store
        self.account = account
        self.settings = settings or IssueSettings()
        self.claimer = claimer or default_claimer()
        self.clock = clock

    @classmethod
    def like(cls, steps: InvoiceSteps) -> Self:
        """These steps, in the same context as `steps` (an issuing run's or a person's request's)."""
        return cls(steps.client, steps.store, steps.account, steps.settings, steps.claimer, steps.clock)


class _Run(InvoiceSteps):
    """One issuing run: the shared context of its per-deal steps, and what the run learnt of Omie's pauses."""

    def __init__(self, *context: Any) -> None:
        super().__init__(*context)
        self.paused: dict[str, str] = {}  # method -> why; once paused, no deal of this run calls it
        self.paused_until: dict[str, datetime] = {}  # method -> when its pause ends, when Omie or the guard said
        self.skipped_records: list[str] = []

    # each deal on its own: a failure is the deal's, never the run's

    def guarded(self, step: Callable[[Any], Any], item: Any, deal_of: Callable[[Any], str]) -> Any:
        """`step(item)`, with any failure turned into the deal's result."""
        try:
            return step(item)
        except ClaimLost as lost:
            return DealResult(deal_of(item), Outcome.SKIPPED, str(lost))
        except Exception as failure:  # one deal's failure never stops the others
            detail = f"{type(failure).__name__}: {redact_cpfs(str(failure))}"
            log.warning("deal %s: %s", deal_of(item), detail)
            self._release_deal(deal_of(item))
            return DealResult(deal_of(item), Outcome.FAILED, detail)

    def each(
        self, items: Collection[Any], step: Callable[[Any], DealResult], deal_of: Callable[[Any], str]
    ) -> list[DealResult]:
        def guarded(item: Any) -> DealResult:
            return self.guarded(step, item, deal_of)

        if self.settings.workers <= 1 or len(items) <= 1:
            return [guarded(item) for item in items]
        # Each worker runs in a copy of this thread's context, which carries the run's deadline.
        contexts = [contextvars.copy_context() for _ in items]
        with ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="issue") as pool:
            return list(pool.map(lambda context, item: context.run(guarded, item), contexts, items))

    def _release_deal(self, deal_id: str) -> None:
        try:
            with self.store.begin() as connection:
                invoice = get_invoice(connection, self.account, deal_id)
                if invoice is not None:
                    release(connection, invoice, self.claimer)
        except Exception:  # the lease frees it anyway
            log.exception("deal %s: could not release its claim", deal_id)

    # new deals

    def waiting(self, deal_id: str, method: str, pause: errors.OmieError | None, what: str) -> DealResult:
        """A deal left for a later run because `method` is paused or Omie said "not now" (Omie took nothing)."""
        if pause is not None:
            past = (
                " " + _("(waiting longer would pass the run's deadline)")
                if getattr(pause, "past_deadline", False)
                else ""
            )
            self.paused.setdefault(method, f"{pause.kind}: {pause.message}{past}")
            seconds = getattr(pause, "retry_after", None)
            if seconds is not None and method not in self.paused_until:
                self.paused_until[method] = self.clock() + timedelta(seconds=seconds)
        return DealResult(deal_id, Outcome.WAITING, f"{method} paused ({self.paused[method]}); {what}")

    def issue_new_deals(self, items: list[DealToInvoice]) -> list[DealResult]:
        """Record each ready deal's intent, look the new keys up in Omie, then adopt or send each."""
        results: list[DealResult] = []
        intents: list[_NewIntent] = []
        for item in items:
            recorded = self.guarded(self.record_intent, item, lambda item: item.deal["deal_id"])
            (results if isinstance(recorded, DealResult) else intents).append(recorded)
        found, failed = self.look_up_keys([intent.invoice for intent in intents])
        # Each intent is claimed again right before it is sent: a run killed from here on holds only
        # the deals it was sending (at most `workers`) for the lease, never the whole batch.
        with self.store.begin() as connection:
            for intent in intents:
                release(connection, intent.invoice, self.claimer)
        results.extend(
            self.each(
                intents, lambda intent: self.send_new(intent, found, failed), lambda intent: intent.invoice.deal_id
            )
        )
        return results

    def look_up_keys(self, intents: list[Invoice]) -> tuple[dict[str, OsRecord], dict[str, Exception]]:
        """The OS Omie holds under these new keys, one `ListarOS` page per batch of keys; and the
        keys whose batch could not be looked up, with the failure."""
        found: dict[str, OsRecord] = {}
        failed: dict[str, Exception] = {}
        size = self.client.page_size("ListarOS")
        for start in range(0, len(intents), size):
            codes = [invoice.idempotency_key for invoice in intents[start : start + size]]
            try:
                for record in self.client.list_os(integration_codes=codes, page_size=size, on_invalid=self._skip):
                    if record.cCodIntOS in codes:
                        found[record.cCodIntOS] = record
            except Exception as failure:  # Omie's fault or an unreadable answer: these deals wait
                why = failure.kind if isinstance(failure, errors.OmieError) else type(failure).__name__
                log.warning("account %s: look-up of %d new keys failed: %s", self.account, len(codes), why)
                failed.update((code, failure) for code in codes)
        return found, failed

    def send_new(
        self, intent: _NewIntent, found: Mapping[str, OsRecord], failed: Mapping[str, Exception]
    ) -> DealResult:
        """Adopt the OS Omie already holds under the key; else send IncluirOS, unless the look-up
        failed or IncluirOS is paused (the unsent intent is dropped and the deal waits)."""
        invoice = intent.invoice
        key = invoice.idempotency_key
        with self.store.begin() as connection:
            claimed = claim(connection, invoice, self.claimer, self.clock(), self.settings.claim_lease)
        if not claimed:
            return DealResult(invoice.deal_id, Outcome.SKIPPED, "another run took this intent over after the look-up")
        if key in found:
            return self.adopt(
                invoice, found[key], "found in Omie by key before sending (the store had no record of its OS)"
            )
        if key in failed or "IncluirOS" in self.paused:
            with self.store.begin() as connection:
                delete_unsent_intent(connection, invoice, self.claimer)
            failure = failed.get(key)
            if failure is None:
                return self.waiting(invoice.deal_id, "IncluirOS", None, "the deal is sent on a later run")
            if isinstance(failure, PAUSES):
                return self.waiting(
                    invoice.deal_id, "ListarOS", failure, "its key is looked up, and the deal sent, on a later run"
                )
            why = failure.kind if isinstance(failure, errors.OmieError) else type(failure).__name__
            return DealResult(
                invoice.deal_id,
                Outcome.FAILED,
                f"look-up of its key in Omie failed ({why}); nothing sent; the next run looks again",
            )
        return self.create_os(invoice, intent.order)

    def record_intent(self, item: DealToInvoice) -> DealResult | _NewIntent:
        """The deal's intent recorded and claimed, with its order; or why it has none."""
        deal_id = item.deal["deal_id"]
        now = self.clock()
        with self.store.begin() as connection:
            prepared = prepare_invoice(connection, self.account, item.deal, item.codigo_cliente_omie, now)
            if isinstance(prepared, list):
                record_invoice_issues(connection, self.account, deal_id, prepared, now)
                return DealResult(deal_id, Outcome.NOT_READY, "; ".join(issue.message for issue in prepared))
            row = intent_row(self.account, prepared, self.claimer, now, item.issue_number)
            if not insert_intent(connection, row):
                return DealResult(deal_id, Outcome.SKIPPED, "another run recorded this deal's invoice first")
            record_invoice_issues(connection, self.account, deal_id, [], now)
            add_event(
                connection,
                self.account,
                deal_id,
                now,
                None,
                InvoiceStatus.SUBMITTED.value,
                f"intent recorded under key {row['idempotency_key']}: gross {prepared.breakdown.gross}, "
                f"net {prepared.breakdown.net_receivable}, tax rates version {prepared.rates.id}",
            )
            invoice = get_invoice(connection, self.account, deal_id)
        facts = OrderFacts(
            invoice.idempotency_key,
            prepared.client_id,
            prepared.service.service_id,
            prepared.service.description or prepared.service.code or "",
            prepared.description,
            prepared.email,
            prepared.breakdown,
            self.settings.category,
        )
        self._say_if_clipped(invoice, facts, now)
        return _NewIntent(invoice, build_order(facts, now.astimezone(SAO_PAULO).date()))

    def _say_if_clipped(self, invoice: Invoice, facts: OrderFacts, now: datetime) -> None:
        """A description longer than the note takes is clipped; the invoice's history says so."""
        full, sent = (facts.deal_description or "").strip(), order_description(facts)
        if not full or sent == full:
            return
        detail = (
            f"description clipped from {len(full)} to {len(sent)} characters to fit the note's "
            f"{NOTE_TEXT_LIMIT} (cDadosAdicNF); the full text stays in the CRM"
        )
        log.warning("deal %s: %s", invoice.deal_id, detail)
        with self.store.begin() as connection:
            add_event(connection, self.account, invoice.deal_id, now, invoice.status, invoice.status, detail)

    def create_os(self, invoice: Invoice, order: dict[str, Any], *, resend: bool = True) -> DealResult:
        key = invoice.idempotency_key
        try:
            created = self.client.include_os(order)
        except errors.AlreadyExistsError:
            return self.adopt(invoice, self.client.get_os(cCodIntOS=key), "IncluirOS: Omie already holds this key")
        except errors.OutcomeUnknownError as lost:
            try:
                record = self.client.get_os(cCodIntOS=key)
            except errors.OmieError as lookup:
                if lost.answered and resend and isinstance(lookup, errors.NotFoundError):
                    # Omie answered (a throttling answer) and holds nothing under the key: nothing is in
                    # flight, so the same intent is sent once more.
                    return self.create_os(invoice, order, resend=False)
                self._release(invoice)
                return DealResult(
                    invoice.deal_id,
                    Outcome.UNKNOWN,
                    f"IncluirOS answer lost ({lost.message}); look-up by key: {lookup.kind}; "
                    "the next run looks again before anything is resent",
                )
            return self.adopt(invoice, record, "IncluirOS answer lost; found by key")
        except REFUSALS as refusal:
            if names_integration_code(refusal, key):
                return self.refused_or_adopted(invoice, refusal)
            return self.refused(invoice, refusal)
        except PAUSES as pause:
            with self.store.begin() as connection:  # Omie took nothing: the row goes, the deal waits under its key
                delete_unsent_intent(connection, invoice, self.claimer)
            return self.waiting(
                invoice.deal_id, "IncluirOS", pause, "Omie took nothing; the deal is sent on a later run"
            )
        invoice = self.record_os(
            invoice, created.nCodOS, created.cNumOS, f"IncluirOS: OS {created.cNumOS} created (nCodOS {created.nCodOS})"
        )
        keep_omie_taxes(self.client, self.store, self.account, invoice.deal_id, key, self.clock)
        return self.bill(invoice)

    def refused_or_adopted(self, invoice: Invoice, refusal: errors.OmieError) -> DealResult:
        """A refusal naming the key may be Omie's duplicate in an unknown wording: the key is looked
        up (`ConsultarOS`) before the deal is marked; an OS found is adopted."""
        message = safe_message(refusal.faultstring or refusal.message)
        try:
            record = self.client.get_os(cCodIntOS=invoice.idempotency_key)
        except errors.NotFoundError:
            return self.refused(invoice, refusal)
        except errors.OmieError as lookup:
            self._release(invoice)
            return DealResult(
                invoice.deal_id,
                Outcome.UNKNOWN,
                f"IncluirOS refused ({message}); look-up by key: {lookup.kind}; "
                "the next run looks again before anything is resent",
            )
        return self.adopt(invoice, record, f"IncluirOS refused naming the key ({message}); found by key")

    def refused(self, invoice: Invoice, refusal: errors.OmieError) -> DealResult:
        """IncluirOS refused: no OS exists, so the deal has no invoice yet, only an issue."""
        message = safe_message(refusal.faultstring or refusal.message)
        now = self.clock()
        with self.store.begin() as connection:
            delete_unsent_intent(connection, invoice, self.claimer)
            add_event(
                connection,
                self.account,
                invoice.deal_id,
                now,
                invoice.status,
                invoice.status,
                f"IncluirOS refused by Omie, no OS created; intent dropped: {message}",
            )
            record_invoice_issues(
                connection,
                self.account,
                invoice.deal_id,
                [
                    InvoiceIssue(
                        getattr(refusal, "field", None) or "order",
                        REFUSED_BY_OMIE,
                        _("deal {deal}: Omie refused the service order: {message}").format(
                            deal=invoice.deal_id, message=message
                        ),
                        fix_for(message, invoice.deal_id),
                    )
                ],
                now,
            )
        return DealResult(invoice.deal_id, Outcome.REFUSED, message)

    def record_os(self, invoice: Invoice, os_id: int, os_number: str, detail: str) -> Invoice:
        now = self.clock()
        with self.store.begin() as connection:
            if not update_claimed(
                connection, invoice, self.claimer, {"omie_os_id": os_id, "os_number": os_number or None}
            ):
                raise ClaimLost(f"deal {invoice.deal_id}: another run took the invoice over")
            add_event(connection, self.account, invoice.deal_id, now, invoice.status, invoice.status, detail)
            return get_invoice_by_id(connection, invoice.id)

    def bill(self, invoice: Invoice, *, resend: bool = True) -> DealResult:
        """ValidarOS then FaturarOS for an OS known not to be invoiced yet."""
        os_id = invoice.omie_os_id
        for method in ("ValidarOS", "FaturarOS"):
            if method in self.paused:
                self._release(invoice)
                return self.waiting(invoice.deal_id, method, None, "its OS exists and is invoiced on a later run")
        try:
            self.client.validate_os(nCodOS=os_id)
        except REFUSALS as refusal:
            return self.to_error(invoice, "ValidarOS", refusal)
        except PAUSES as pause:
            self._release(invoice)
            return self.waiting(invoice.deal_id, "ValidarOS", pause, "its OS exists and is invoiced on a later run")
        try:
            self.client.invoice_os(nCodOS=os_id)
        except PAUSES as pause:
            self._release(invoice)
            return self.waiting(invoice.deal_id, "FaturarOS", pause, "its OS exists and is invoiced on a later run")
        except errors.OutcomeUnknownError as lost:
            try:
                record = self.client.get_os(nCodOS=os_id)
            except errors.OmieError as lookup:
                self._release(invoice)
                return DealResult(
                    invoice.deal_id,
                    Outcome.UNKNOWN,
                    f"FaturarOS answer lost ({lost.message}); look-up: {lookup.kind}; the next run "
                    "looks the OS up before invoicing it",
                )
            if from_os_record(record).status is None:
                if lost.answered and resend:  # Omie answered and did not invoice it: bill it once more
                    return self.bill(invoice, resend=False)
                self._release(invoice)
                return DealResult(
                    invoice.deal_id,
                    Outcome.UNKNOWN,
                    "FaturarOS answer lost and the OS is not invoiced yet; the next run looks again",
                )
            return self.settle_invoiced(invoice, "FaturarOS answer lost; Omie shows the OS invoiced")
        except REFUSALS as refusal:
            if _already_invoiced(refusal):
                return self.settle_invoiced(invoice, "FaturarOS: Omie says the OS was already invoiced")
            return self.to_error(invoice, "FaturarOS", refusal)
        now = self.clock()
        with self.store.begin() as connection:
            if not update_claimed(
                connection, invoice, self.claimer, {"submitted_at": now, "claimed_by": None, "claimed_at": None}
            ):
                raise ClaimLost(f"deal {invoice.deal_id}: another run took the invoice over")
            add_event(
                connection,
                self.account,
                invoice.deal_id,
                now,
                invoice.status,
                invoice.status,
                "FaturarOS accepted: the RPS goes to the prefeitura",
            )
        return DealResult(invoice.deal_id, Outcome.SUBMITTED, f"OS {invoice.os_number} invoiced")

    def to_error(self, invoice: Invoice, step: str, refusal: errors.OmieError) -> DealResult:
        message = safe_message(refusal.faultstring or refusal.message)
        now = self.clock()
        with self.store.begin() as connection:
            current = get_invoice_by_id(connection, invoice.id)
            if current is None or current.claimed_by != self.claimer:
                raise ClaimLost(f"deal {invoice.deal_id}: another run took the invoice over")
            change_status(
                connection,
                current,
                InvoiceStatus.ERROR.value,
                now,
                f"{step} refused: {message}",
                {
                    "last_error": f"{step}: {message}",
                    "fix": fix_for(message, invoice.deal_id),
                    "claimed_by": None,
                    "claimed_at": None,
                },
            )
        return DealResult(invoice.deal_id, Outcome.ERROR, f"{step}: {message}")

    def adopt(self, invoice: Invoice, record: OsRecord, how: str) -> DealResult:
        """Take over an OS Omie already holds under the key; invoice it only if it is not yet."""
        if record.cCodIntOS and record.cCodIntOS != invoice.idempotency_key:
            raise RuntimeError(
                f"Omie returned OS {record.nCodOS} with key {record.cCodIntOS!r} for key {invoice.idempotency_key!r}"
            )
        if invoice.omie_os_id is None:
            invoice = self.record_os(
                invoice,
                record.nCodOS,
                record.Cabecalho.cNumOS,
                f"{how}: adopted OS {record.Cabecalho.cNumOS} (nCodOS {record.nCodOS})",
            )
        if record.ServicosPrestados:  # the OS as Omie holds it is at hand: its computed taxes cost no call
            keep_omie_taxes(
                self.client, self.store, self.account, invoice.deal_id, invoice.idempotency_key, self.clock, record
            )
        if from_os_record(record).status is None:
            return self.bill(invoice)
        return self.settle_invoiced(invoice, f"{how}: the OS is already invoiced or cancelled in Omie")

    def settle_invoiced(self, invoice: Invoice, how: str) -> DealResult:
        """The OS is invoiced (or cancelled) in Omie: take its exact state from StatusOS, never bill again."""
        interval = self.settings.redundant_interval
        with self.store.begin() as connection:
            allowed = reserve_check(connection, invoice, self.clock(), interval)
        if not allowed:
            self._release(invoice)
            return DealResult(
                invoice.deal_id,
                Outcome.UNKNOWN,
                f"{how}; its status is read on the next run (Omie was asked about it moments ago)",
            )
        detail = self.client.os_status(nCodOS=invoice.omie_os_id, with_messages=True, documents=True)
        observation = from_status_detail(detail)
        now = self.clock()
        with self.store.begin() as connection:
            current = get_invoice_by_id(connection, invoice.id)
            values = {} if current.submitted_at else {"submitted_at": observation.invoiced_at or now}
            if values:
                update_claimed(connection, invoice, self.claimer, values)
                current = get_invoice_by_id(connection, invoice.id)
            add_event(connection, self.account, invoice.deal_id, now, current.status, current.status, how)
            apply_observation(connection, current, observation, now)
            release(connection, invoice, self.claimer)
        return DealResult(invoice.deal_id, Outcome.ADOPTED, f"{how}; Omie status: {observation.status}")

    def _release(self, invoice: Invoice) -> None:
        with self.store.begin() as connection:
            release(connection, invoice, self.claimer)

    # unfinished intents

    def resume_unfinished(self) -> list[DealResult]:
        now = self.clock()
        with self.store.begin() as connection:
            mine = [
                invoice
                for invoice in resumable_intents(connection, self.account)
                if claim(connection, invoice, self.claimer, now, self.settings.claim_lease)
            ]
        if not mine:
            return []
        try:
            records = self._look_up(mine)
        except Exception as failure:  # Omie's fault or an answer that cannot be read: invoicing goes on
            why = failure.kind if isinstance(failure, errors.OmieError) else f"{type(failure).__name__}: {failure}"
            log.warning("account %s: look-up of %d unfinished intents failed: %s", self.account, len(mine), why)
            for invoice in mine:
                self._release(invoice)
            return [
                DealResult(
                    invoice.deal_id, Outcome.UNKNOWN, f"look-up in Omie failed ({why}); the next run looks again"
                )
                for invoice in mine
            ]
        by_code = {record.cCodIntOS: record for record in records if record.cCodIntOS}
        by_id = {record.nCodOS: record for record in records if record.nCodOS is not None}

        def resume(invoice: Invoice) -> DealResult:
            if invoice.omie_os_id is None:
                record = by_code.get(invoice.idempotency_key)
                if record is not None:
                    return self.adopt(invoice, record, "resumed; found by key")
                return self.restart(invoice)
            record = by_id.get(invoice.omie_os_id)
            if record is None:
                record = self.client.get_os(nCodOS=invoice.omie_os_id)  # NotFoundError: a deleted OS, reported
            if from_os_record(record).status is None:
                return self.bill(invoice)
            return self.settle_invoiced(invoice, "resumed; the OS is already invoiced or cancelled in Omie")

        return self.each(mine, resume, lambda invoice: invoice.deal_id)

    def _look_up(self, intents: list[Invoice]) -> list[OsRecord]:
        """Every OS Omie holds under these intents' keys or ids, in a few listing calls."""
        records: list[OsRecord] = []
        batch = max(1, self.settings.lookup_batch)
        for start in range(0, len(intents), batch):
            chunk = intents[start : start + batch]
            codes = [invoice.idempotency_key for invoice in chunk if invoice.omie_os_id is None]
            ids = [invoice.omie_os_id for invoice in chunk if invoice.omie_os_id is not None]
            records.extend(
                self.client.list_os(
                    integration_codes=codes, os_ids=ids, page_size=max(batch, 50), on_invalid=self._skip
                )
            )
        return records

    def _skip(self, record: InvalidRecord) -> None:
        """A listed OS that cannot be read: left out (its deal is looked up on its own), and said."""
        log.warning("account %s: skipped a record Omie listed: %s", self.account, record)
        self.skipped_records.append(str(record))

    def restart(self, invoice: Invoice) -> DealResult:
        """Omie holds nothing under the key: the earlier attempt never reached it. Start over."""
        now = self.clock()
        with self.store.begin() as connection:
            if not delete_unsent_intent(connection, invoice, self.claimer):
                raise ClaimLost(f"deal {invoice.deal_id}: another run took the invoice over")
            add_event(
                connection,
                self.account,
                invoice.deal_id,
                now,
                invoice.status,
                invoice.status,
                f"Omie holds no OS under key {invoice.idempotency_key}: the earlier attempt never reached "
                "it; the deal is sent again",
            )
        return DealResult(invoice.deal_id, Outcome.RESTARTED, "Omie had no OS under the key")


def _already_invoiced(refusal: errors.OmieError) -> bool:
    """Omie's "the OS was already invoiced" refusal: the OS must be adopted, not put in error."""
    return "ja foi faturada" in plain(refusal.faultstring or refusal.message)
