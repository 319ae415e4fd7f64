"""Fix and resend: an invoice Omie or the prefeitura refused, corrected on the same OS and billed again.

An invoice in `error` has its OS in Omie; what was wrong (the client's address, its e-mail, the
service...) is corrected by a person in the CRM or in Omie. Billing it again reuses that OS: the
order is rebuilt from the stored deal as it is now (`AlterarOS`, its one line named by `nSeqItem`),
the client's record is corrected first (`AlterarCliente`, only the fields the CRM now has
differently) when the deal changed in the CRM after the refusal, and the OS is validated and billed
(`ValidarOS`, `FaturarOS`), which sends a new RPS to the prefeitura. `invoices retry DEAL` does it on
request; the emission run does it by itself for every invoice whose deal, client link, client record
in Omie, service mapping or tax rates changed after the refusal.

Exactly once, as for the first billing: the attempt is recorded before any call, as a claim on the
invoice that raises its `billing_attempt` (compare and set on the attempt read, so two processes
never both resend one invoice). The first call of every attempt asks `StatusOS`: when an earlier
attempt's `FaturarOS` went through (its answer lost, its process killed), Omie shows the new RPS and
the invoice follows it; nothing is billed again. Omie itself bills an OS only while it is unbilled
(Omie refused ValidarOS/FaturarOS) or its latest RPS is the refused one.

Omie refuses the same call with the same parameters within its redundancy interval ("Aguarde N
segundos"), and `ValidarOS`/`FaturarOS` of one OS are the same call each time: a resend asked
right after the OS's last billing (a retry typed as soon as the refusal shows) first waits out the
rest of the interval, so that it ends billed in the same command instead of refused and held.

A resend that would send the same data again is refused with what must change first (from the
refusal's known cause): each refusal counts towards Omie's misuse block, and the prefeitura would
only refuse it again. When nothing in the data is wrong (an expired certificate renewed in Omie,
the prefeitura's system back up, a repeated RPS number), a person's retry is the fix and is sent.
"""

from __future__ import annotations

import logging
import shlex
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from omie_pipeline.alerts.causes import cause_for, for_deal
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.keys import client_integration_code
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.text import plain
from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.i18n import _
from omie_pipeline.omie import errors
from omie_pipeline.omie.deadline import run_deadline, seconds_left
from omie_pipeline.omie.models import ClientRecord
from omie_pipeline.store.invoices import (
    InputChange,
    Invoice,
    add_event,
    change_status,
    claim_resend,
    deal_row,
    get_invoice_by_id,
    input_changes,
    latest_event_at,
    record_invoice_issues,
    refused_invoices,
    release,
    update_claimed,
)
from omie_pipeline.store.tables import client_links
from omie_pipeline.sync.client_payload import client_input
from omie_pipeline.sync.invoice_actions import InvoiceActionError, requested_invoice
from omie_pipeline.sync.invoice_fixes import fix_for, safe_message
from omie_pipeline.sync.invoice_observations import Observation, apply_observation, from_status_detail
from omie_pipeline.sync.invoice_payload import OrderFacts, correction_order
from omie_pipeline.sync.invoices import (
    PAUSES,
    REFUSALS,
    DealResult,
    InvoiceSteps,
    IssueSettings,
    Outcome,
    PreparedInvoice,
    intent_row,
    prepare_invoice,
)

log = logging.getLogger("omie_pipeline.invoices")

# The client's fields a prefeitura judges, compared between the CRM deal and Omie's record.
CLIENT_TAGS = ("endereco", "endereco_numero", "complemento", "bairro", "cidade", "estado", "cep", "email")
# The invoice's columns that follow the corrected order (its figures, client, service and rates).
_FIGURES_KEPT_OUT = {
    "account",
    "deal_id",
    "idempotency_key",
    "issue_number",
    "status",
    "created_at",
    "status_changed_at",
    "claimed_by",
    "claimed_at",
}
CHANGE_NAMES = {
    "deal": "the deal changed in the CRM",
    "client_link": "the deal was linked to another client",
    "omie_client": "the client's record changed in Omie",
    "service_map": "the product's service mapping changed",
    "tax_rates": "the service's tax rates changed",
}


class ResendNotAllowedError(InvoiceActionError):
    """The invoice cannot be billed again (not in error, no OS, its deal not ready); the message says why."""


class NothingChangedError(InvoiceActionError):
    """Billing again would send what the prefeitura already refused; the message says what to fix first."""


def _nothing_changed_reason(invoice: Invoice) -> str:
    """Why a resend with the same data is refused, naming what to fix (from the refusal's known cause),
    in the current language: the person who asked reads it."""
    to_change = cause_for(invoice.last_error).to_change
    return for_deal(
        _(
            "deal {deal}: nothing changed since the prefeitura refused it: fix {to_change} first (refusal: {refusal})"
        ).format(
            deal=invoice.deal_id,
            to_change=_(to_change) if to_change else _("what Omie's message names"),
            refusal=invoice.last_error or _("no message"),
        ),
        shlex.quote(invoice.deal_id),
    )


def _describe_changes(changes: list[InputChange]) -> str:
    return "; ".join(CHANGE_NAMES.get(change.what, change.what) for change in changes)


@dataclass(frozen=True)
class _Plan:
    """What one resend sends: the corrected invoice's facts, whether the client is corrected first, and
    the latest moment the OS may have been billed (its history's last event before this attempt)."""

    prepared: PreparedInvoice
    deal: Mapping[str, Any]
    why: str
    correct_client: bool
    last_billed: datetime | None


def resend_invoice(steps: InvoiceSteps, deal_id: str, *, requested_by: str) -> DealResult:
    """Bill the deal's refused invoice again, corrected (`invoices retry`, the resend job), as `steps`'
    claimer with its settings.

    Raises InvoiceNotFoundError, ResendNotAllowedError (not in error, or the deal is not ready) and
    NothingChangedError (the same data would be sent again)."""
    invoice, requested_by = requested_invoice(steps.store, steps.account, deal_id, requested_by, "resend")
    if invoice.status != InvoiceStatus.ERROR or invoice.omie_os_id is None:
        reason = (
            _("deal {deal}: only an invoice in error can be billed again; this one is {status}")
            if invoice.omie_os_id is not None
            else _(
                "deal {deal}: only an invoice in error can be billed again; this one is {status} and has no OS in "
                "Omie yet"
            )
        )
        raise ResendNotAllowedError(reason.format(deal=deal_id, status=invoice.status))
    resend = _Resend.like(steps)
    plan = resend.plan(invoice, requested_by=requested_by)
    if isinstance(plan, DealResult):
        if plan.outcome is Outcome.AWAITING_FIX:
            raise NothingChangedError(plan.detail)
        raise ResendNotAllowedError(plan.detail)
    with run_deadline(_seconds(resend.settings)):
        return resend.send(invoice, plan)


def resend_changed_invoices(steps: InvoiceSteps) -> list[DealResult]:
    """The emission run's part: bill again every refused invoice whose inputs changed since the refusal."""
    resend = _Resend.like(steps)
    with resend.store.connect() as connection:
        candidates = refused_invoices(connection, resend.account, resend.clock(), resend.settings.claim_lease)
    results = []
    with run_deadline(_seconds(resend.settings)):
        for invoice in candidates:
            try:
                plan = resend.plan(invoice, requested_by=None)
                results.append(plan if isinstance(plan, DealResult) else resend.send(invoice, plan))
            except Exception as failure:  # one invoice's failure never stops the others; its claim runs out
                detail = f"{type(failure).__name__}: {redact_cpfs(str(failure))}"
                log.warning("deal %s: resend failed: %s", invoice.deal_id, detail)
                results.append(DealResult(invoice.deal_id, Outcome.FAILED, detail))
    if results:
        log.info("account %s: resends %s", resend.account, dict(Counter(result.outcome.value for result in results)))
    return results


def _seconds(settings: IssueSettings) -> float | None:
    return settings.run_budget.total_seconds() if settings.run_budget is not None else None


def _client_corrections(crm: Any, omie: ClientRecord) -> dict[str, str]:
    """The client's fields the CRM now holds differently from Omie's record (accents, case and
    punctuation of the CEP aside; Omie's city may carry its state, "SAO PAULO (SP)")."""
    corrections = {}
    for tag in CLIENT_TAGS:
        wanted = getattr(crm, tag, None)
        if wanted in (None, ""):
            continue
        current = getattr(omie, tag, "") or ""
        if tag == "cep":
            same = "".join(filter(str.isdigit, wanted)) == "".join(filter(str.isdigit, current))
        elif tag == "cidade":
            same = plain(current).startswith(plain(wanted))
        else:
            same = plain(wanted) == plain(current)
        if not same:
            corrections[tag] = wanted
    return corrections


class _Resend(InvoiceSteps):
    """Resends of one account by one claimer: the per-invoice steps."""

    def plan(self, invoice: Invoice, *, requested_by: str | None) -> _Plan | DealResult:
        """What the resend would send, or why it is not sent (a result saying so)."""
        now = self.clock()
        with self.store.begin() as connection:
            deal = deal_row(connection, self.account, invoice.deal_id)
            # An attempt left unfinished (its claim ran out: a lost answer, a pause, a crash) is taken up
            # again whatever changed, with what changed since the refusal itself: it asks Omie first.
            unfinished = invoice.claimed_by is not None
            changes = input_changes(connection, invoice, invoice.status_changed_at if unfinished else None)
            if deal is None or not deal["is_valid"]:
                return DealResult(
                    invoice.deal_id,
                    Outcome.NOT_READY,
                    _(
                        "deal {deal} is not a valid closed deal now (see its issues); its invoice is not billed again"
                    ).format(deal=invoice.deal_id),
                )
            needs_change = requested_by is None or cause_for(invoice.last_error).to_change is not None
            if not changes and not unfinished and needs_change:
                return DealResult(invoice.deal_id, Outcome.AWAITING_FIX, _nothing_changed_reason(invoice))
            linked = connection.execute(
                client_links.select().where(
                    client_links.c.account == self.account, client_links.c.deal_id == invoice.deal_id
                )
            ).first()
            prepared = prepare_invoice(
                connection, self.account, deal, linked.codigo_cliente_omie if linked else None, now
            )
            if isinstance(prepared, list):
                record_invoice_issues(connection, self.account, invoice.deal_id, prepared, now)
                return DealResult(invoice.deal_id, Outcome.NOT_READY, "; ".join(issue.message for issue in prepared))
            last_billed = latest_event_at(connection, self.account, invoice.deal_id)
        if unfinished:
            why = f"billing attempt {invoice.billing_attempt} did not finish; Omie is asked first"
        elif changes:
            why = _describe_changes(changes)
        else:
            why = "nothing in the data was wrong; billing again is the fix"
        who = f"requested by {requested_by}" if requested_by else "automatic"
        return _Plan(prepared, deal, f"{who}: {why}", any(change.what == "deal" for change in changes), last_billed)

    def _interval_left(self, plan: _Plan) -> timedelta:
        """How long until Omie takes the OS's ValidarOS/FaturarOS again: the same call with the same OS
        within its redundancy interval is refused ("Aguarde N segundos"), and each refusal counts
        towards its misuse block."""
        if plan.last_billed is None:
            return timedelta(0)
        return max(timedelta(0), plan.last_billed + self.settings.redundant_interval - self.clock())

    def send(self, invoice: Invoice, plan: _Plan) -> DealResult:
        # Waited out before the claim, so that a resend asked right after a refusal is billed in the same
        # command and no claim is held meanwhile; past the run's deadline the deal is left for a later run.
        wait = self._interval_left(plan).total_seconds()
        if wait > 0:
            left = seconds_left()
            if left is not None and wait > left:
                return DealResult(
                    invoice.deal_id,
                    Outcome.WAITING,
                    f"Omie refuses billing its OS again for {wait:.0f} s more, past the run's deadline; billed again "
                    "on a later run",
                )
            log.info(
                "deal %s: waiting %.1f s for Omie's redundancy interval before billing again", invoice.deal_id, wait
            )
            time.sleep(wait)
        attempt = invoice.billing_attempt + 1
        now = self.clock()
        row = intent_row(self.account, plan.prepared, self.claimer, now)
        # The attempt's StatusOS counts as the invoice's latest question to Omie (a wait right after
        # waits out Omie's redundancy interval instead of being refused).
        figures = {name: value for name, value in row.items() if name not in _FIGURES_KEPT_OUT} | {
            "last_checked_at": now
        }
        with self.store.begin() as connection:
            claimed = claim_resend(
                connection,
                invoice,
                self.claimer,
                now,
                self.settings.claim_lease,
                figures,
                f"billing attempt {attempt} claimed ({plan.why}): gross {plan.prepared.breakdown.gross}, "
                f"net {plan.prepared.breakdown.net_receivable}",
            )
            current = get_invoice_by_id(connection, invoice.id)
        if not claimed:
            return DealResult(invoice.deal_id, Outcome.SKIPPED, "another run is billing it again, or it moved on")
        step = "StatusOS"
        try:
            observation = from_status_detail(
                self.client.os_status(nCodOS=current.omie_os_id, with_messages=True, fresh=True)
            )
            # Refused by the prefeitura (003), or never billed (Omie refused ValidarOS/FaturarOS): bill it.
            # Anything else means an earlier attempt's billing went through: follow it.
            if observation.status not in (InvoiceStatus.ERROR, InvoiceStatus.SUBMITTED):
                return self._follow(current, observation, attempt)
            if plan.correct_client:
                step = "AlterarCliente"
                self._correct_client(current, plan, attempt)
            step = "AlterarOS"
            facts = OrderFacts(
                current.idempotency_key,
                plan.prepared.client_id,
                plan.prepared.service.service_id,
                plan.prepared.service.description or plan.prepared.service.code or "",
                plan.prepared.description,
                plan.prepared.email,
                plan.prepared.breakdown,
                self.settings.category,
            )
            self.client.alter_os(correction_order(facts, current.omie_os_id, now.astimezone(SAO_PAULO).date()))
            self._event(current, f"billing attempt {attempt}: AlterarOS: OS {current.os_number} corrected")
            step = "ValidarOS"
            self.client.validate_os(nCodOS=current.omie_os_id)
            step = "FaturarOS"
            self.client.invoice_os(nCodOS=current.omie_os_id)
        except REFUSALS as refusal:
            return self._refused(current, attempt, step, refusal)
        # A paused call or a lost answer leaves the attempt unfinished: its claim stays until the lease
        # ends, and the next run takes the attempt up again, asking StatusOS first.
        except PAUSES as pause:
            return DealResult(
                current.deal_id, Outcome.WAITING, f"{step} paused ({pause.kind}); billed again on a later run"
            )
        except errors.OutcomeUnknownError as lost:
            return DealResult(
                current.deal_id,
                Outcome.UNKNOWN,
                f"billing attempt {attempt}: the answer to {step} was lost ({lost.message}); the next attempt asks "
                "StatusOS first, so nothing is billed twice",
            )
        return self._billed(current, attempt)

    def _correct_client(self, invoice: Invoice, plan: _Plan, attempt: int) -> None:
        client_id = plan.prepared.client_id
        crm = client_input(SimpleNamespace(**plan.deal), client_integration_code(self.account, plan.deal["document"]))
        corrections = _client_corrections(crm, self.client.get_client(codigo_cliente_omie=client_id))
        if not corrections:
            return
        self.client.alter_client({"codigo_cliente_omie": client_id, **corrections})
        self._event(
            invoice,
            f"billing attempt {attempt}: AlterarCliente: client {client_id} corrected from the CRM "
            f"({', '.join(sorted(corrections))})",
        )

    def _event(self, invoice: Invoice, detail: str) -> None:
        with self.store.begin() as connection:
            add_event(connection, self.account, invoice.deal_id, self.clock(), invoice.status, invoice.status, detail)

    def _billed(self, invoice: Invoice, attempt: int) -> DealResult:
        now = self.clock()
        with self.store.begin() as connection:
            change_status(
                connection,
                invoice,
                InvoiceStatus.PROCESSING.value,
                now,
                f"billing attempt {attempt}: FaturarOS accepted: the corrected RPS goes to the prefeitura",
                {"submitted_at": now, "last_error": None, "fix": None, "claimed_by": None, "claimed_at": None},
            )
        return DealResult(invoice.deal_id, Outcome.RESENT, f"OS {invoice.os_number} billed again (attempt {attempt})")

    def _follow(self, invoice: Invoice, observation: Observation, attempt: int) -> DealResult:
        """Omie shows the OS past its refusal (an earlier attempt's billing went through): follow it."""
        now = self.clock()
        with self.store.begin() as connection:
            add_event(
                connection,
                self.account,
                invoice.deal_id,
                now,
                invoice.status,
                invoice.status,
                f"billing attempt {attempt}: Omie already shows the OS past its refusal "
                f"({observation.status.value}); nothing is billed again",
            )
            apply_observation(connection, invoice, observation, now)
            release(connection, invoice, self.claimer)
        return DealResult(invoice.deal_id, Outcome.ADOPTED, "an earlier billing attempt went through; followed")

    def _refused(self, invoice: Invoice, attempt: int, step: str, refusal: errors.OmieError) -> DealResult:
        """Omie refused a step: the invoice stays in error with this attempt's message and fix."""
        message = safe_message(refusal.faultstring or refusal.message)
        with self.store.begin() as connection:
            update_claimed(
                connection,
                invoice,
                self.claimer,
                {
                    "last_error": f"{step}: {message}",
                    "fix": fix_for(message, invoice.deal_id),
                    "claimed_by": None,
                    "claimed_at": None,
                },
            )
            add_event(
                connection,
                self.account,
                invoice.deal_id,
                self.clock(),
                invoice.status,
                invoice.status,
                f"billing attempt {attempt}: {step} refused: {message}",
            )
        return DealResult(invoice.deal_id, Outcome.ERROR, f"{step}: {message}")
