"""Reissue: a new NFS-e for a deal whose note was cancelled and that is closed again.

Only a person decides it (`invoices reissue DEAL`): the deal may have been reopened on purpose.
The cancelled note is kept as it was in `reissued_invoices`, and the deal is issued again through
the very protocol of a first emission (intent first, look-up by key, `IncluirOS`, `ValidarOS`,
`FaturarOS`), under a key of its own: the deal's second note hashes (account, deal, 2), since Omie
keeps the first key on the cancelled OS. The note number is counted from the notes set aside, so
an intent dropped and recorded again (a crash, a refusal, a failed look-up) gets the same key, and
a reissue asked twice finds the deal already issued again.
"""

from __future__ import annotations

from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.keys import invoice_idempotency_key
from omie_pipeline.store.invoices import deal_row, set_aside_cancelled
from omie_pipeline.sync.invoice_actions import InvoiceActionError, requested_invoice
from omie_pipeline.sync.invoices import DealResult, InvoiceSteps, Outcome, issue_invoices


class ReissueNotAllowedError(InvoiceActionError):
    """The deal cannot get a new note (its note is not cancelled, or the deal is not closed again)."""


def reissue_invoice(steps: InvoiceSteps, deal_id: str, *, requested_by: str) -> DealResult:
    """Set the deal's cancelled note aside and issue its next one, as `steps`' claimer with its settings;
    the deal's result of that emission."""
    account, store = steps.account, steps.store
    invoice, requested_by = requested_invoice(store, account, deal_id, requested_by, "reissue")
    with store.connect() as connection:
        deal = deal_row(connection, account, deal_id)
    if invoice.status != InvoiceStatus.CANCELLED:
        raise ReissueNotAllowedError(
            f"deal {deal_id}: only a deal whose note was cancelled is reissued; its invoice is {invoice.status}"
            + (
                " (cancel it first with `omie-pipeline invoices cancel`)"
                if invoice.status == InvoiceStatus.ISSUED
                else ""
            )
        )
    if deal is None or not deal["is_valid"]:
        raise ReissueNotAllowedError(
            f"deal {deal_id} is not a valid closed deal in the CRM now (see `omie-pipeline invoices show {deal_id}`): "
            "close it again there first"
        )
    next_issue = invoice.issue_number + 1
    now = steps.clock()
    with store.begin() as connection:
        set_aside = set_aside_cancelled(
            connection,
            invoice,
            requested_by,
            now,
            f"reissue requested by {requested_by}: NFS-e {invoice.nfse_number or '(none)'} of OS "
            f"{invoice.os_number or invoice.omie_os_id} (key {invoice.idempotency_key}) is cancelled and kept; "
            f"note {next_issue} goes under key {invoice_idempotency_key(account, deal_id, next_issue)}",
        )
    if not set_aside:
        raise ReissueNotAllowedError(f"deal {deal_id}: the invoice changed meanwhile; look at it again")
    summary = issue_invoices(
        steps.client,
        store,
        account,
        settings=steps.settings,
        claimer=steps.claimer,
        clock=steps.clock,
        only_deals=[deal_id],
    )
    return summary.of(deal_id) or DealResult(
        deal_id, Outcome.NOT_READY, "the deal is not ready to invoice: see `omie-pipeline invoices show`"
    )
