"""From the store's rows to the report's: one closed deal, its outcome, its money and its exceptions.

Only this module decides what a deal's situation is and which exceptions it carries, so the deal
table, the exception table and every total agree by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

import sqlalchemy as sa

from omie_pipeline.domain.documents import mask_document, mask_documents
from omie_pipeline.domain.omie_taxes import COMPARED_TAXES, tax_differences
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import _, format_moment, format_money, ngettext
from omie_pipeline.reports.labels import TAX_LABELS, Outcome
from omie_pipeline.reports.model import NO_TAX, NO_TAXES, ZERO, DealRow, ExceptionRow, ReplacedNote, TaxValue
from omie_pipeline.store.report_queries import TAX_NAMES, WITHHOLDABLE_TAX_NAMES


class UnknownInvoiceStatusError(ValueError):
    """An invoice whose status is not one of the lifecycle's words; the report cannot place it."""


def _clean(text: str | None) -> str | None:
    """Free text from the pipeline or Omie, with any CPF in it masked."""
    if text is None:
        return None
    text = text.strip()
    return redact_cpfs(text) if text else None


def _join(texts: Iterable[str | None]) -> str:
    """Sentences one after the other; fragments without a full stop separated by `;`."""
    joined = ""
    for text in filter(None, (text.strip() if text else None for text in texts)):
        separator = "" if not joined else (" " if joined.endswith((".", "!", "?")) else "; ")
        joined += separator + text
    return joined


def _outcome(row: NamedTuple, issues: Sequence[sa.Row]) -> Outcome:
    if row.invoice_id is not None:
        try:
            return Outcome(row.invoice_status)
        except ValueError:
            raise UnknownInvoiceStatusError(
                f"deal {row.deal_id}: invoice status {row.invoice_status!r} is not one of "
                "submitted, processing, issued, error, cancelled"
            ) from None
    if issues or not row.is_valid:
        return Outcome.BLOCKED
    return Outcome.PENDING


def _days_open(row: NamedTuple, outcome: Outcome, closing_day: date, today: date) -> int:
    """Calendar days in São Paulo from closing to issue (or cancellation), or to today while open."""
    if outcome is Outcome.ISSUED:
        end = to_sao_paulo(row.invoice_issued_at or row.invoice_status_changed_at).date()
    elif outcome is Outcome.CANCELLED:
        end = to_sao_paulo(row.invoice_issued_at or row.invoice_cancelled_at or row.invoice_status_changed_at).date()
    else:
        end = today
    return max(0, (end - closing_day).days)


def _duration(waited: timedelta) -> str:
    """`45 min`, `5 h`, `3 days` (`3 dias`): how long something has waited, in the unit people use."""
    minutes = int(waited.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    days = minutes // (24 * 60)
    return ngettext("{count} day", "{count} days", days).format(count=days)


_TAX_KEYS = tuple(
    (name, f"invoice_{name}_amount", f"invoice_{name}_withheld", f"invoice_{name}_withheld_amount")
    for name in TAX_NAMES
)
_OMIE_TAX_KEYS = tuple((name, f"omie_{name}_amount") for name in COMPARED_TAXES)


def _taxes(row) -> dict[str, TaxValue]:
    taxes = {}
    for name, amount, withheld, withheld_amount in _TAX_KEYS:
        if name in WITHHOLDABLE_TAX_NAMES:
            taxes[name] = TaxValue(getattr(row, amount), bool(getattr(row, withheld)), getattr(row, withheld_amount))
        else:
            taxes[name] = TaxValue(getattr(row, amount))
    return taxes


def _replaced(notes: Sequence[sa.Row]) -> tuple[ReplacedNote, ...]:
    return tuple(
        ReplacedNote(note.nfse_number, note.os_number, note.gross_amount, note.net_amount, note.cancelled_at)
        for note in notes
    )


def _omie_taxes(row: NamedTuple) -> dict[str, Decimal | None]:
    if row.omie_source is None:
        return {}
    return {name: getattr(row, key) for name, key in _OMIE_TAX_KEYS}


class DealBuilder:
    """Builds the report's rows as of one moment; a client's masked document and a repeated message are
    worked out once per report, not once per deal (a client has many deals, a reason one wording)."""

    def __init__(self, now: datetime, stuck_after: timedelta) -> None:
        self.now = now
        self.stuck_after = stuck_after
        self.today = to_sao_paulo(now).date()
        self._documents: dict[str | None, str] = {}
        self._texts: dict[str, str | None] = {}
        # The report's own sentences, in the language it is built in, translated once rather than once per deal:
        # at 100,000 deals most of them are not processed yet, and each would look its two sentences up again.
        self._not_processed = (
            self.clean(_("A closed deal the emission has not reached yet: no invoice and no issue recorded.")) or "",
            self.clean(
                _(
                    "Nothing to do if it closed a moment ago: the next emission run processes it. "
                    "If it is still here the next day, tell the data team."
                )
            ),
        )
        self._invalid = (
            self.clean(_("The deal failed validation and no detail was recorded.")) or "",
            self.clean(_("Correct the deal in the CRM; the next sync validates it again.")),
        )

    def clean(self, text: str | None) -> str | None:
        """`_clean`, remembered: the report's messages and fixes are mostly the same few sentences."""
        if text is None:
            return None
        if text not in self._texts:
            self._texts[text] = _clean(text)
        return self._texts[text]

    def remember_documents(self, rows: Sequence[NamedTuple]) -> None:
        """Mask the clients' documents of a batch of rows not masked yet, all at once (`mask_documents`)."""
        new = list(
            {document: None for row in rows if (document := row.document or row.link_document) not in self._documents}
        )
        self._documents.update(zip(new, mask_documents(new), strict=True))

    def _client(self, row: NamedTuple) -> tuple[str, str]:
        """The client's name and document as they may be shown: a CPF masked, a CNPJ formatted."""
        name = (row.legal_name or row.trade_name or "").strip() or "(sem nome no CRM)"
        raw = row.document or row.link_document
        if raw not in self._documents:
            self._documents[raw] = mask_document(raw)
        return name, self._documents[raw]

    def build(
        self, row: NamedTuple, issues: Sequence[sa.Row], replaced: Sequence[sa.Row] = ()
    ) -> tuple[DealRow, list[ExceptionRow]]:
        """One deal row and its exceptions, from a `report_deal_rows` row, its open issues and the notes its
        invoice replaced (`report_replaced_notes`)."""
        if row.invoice_id is None and row.is_valid and not issues and not replaced:
            return self._build_pending(row)
        outcome = _outcome(row, issues)
        name, document = self._client(row)
        invoiced = row.invoice_id is not None
        gross = row.invoice_gross_amount
        taxes = _taxes(row) if invoiced else NO_TAXES
        omie_taxes = _omie_taxes(row) if invoiced else NO_TAXES
        closing_day = to_sao_paulo(row.closed_at or row.pulled_at).date()
        at_stake = gross if gross is not None else (row.amount if row.amount is not None else ZERO)
        who = (row.deal_id, name, document, closing_day, outcome, at_stake)
        exceptions = self._exceptions(who, row, issues, taxes, omie_taxes)
        # The invoice's own error first; else what the exceptions say (issues, stuck, not processed...).
        if len(exceptions) == 1:  # most deals: nothing to join or deduplicate
            messages, fixes, reasons = exceptions[0].message, exceptions[0].fix, (exceptions[0].reason,)
        else:
            messages = _join([e.message for e in exceptions])
            fixes = _join(list(dict.fromkeys(e.fix for e in exceptions if e.fix)))
            reasons = tuple(dict.fromkeys(e.reason for e in exceptions))
        last_error = self.clean(row.invoice_last_error) or self.clean(messages)
        fix = self.clean(row.invoice_fix) or self.clean(fixes)
        deal = DealRow(
            deal_id=row.deal_id,
            closing_day=closing_day,
            closed_at=row.closed_at,
            client_name=name,
            client_document=document,
            omie_client_id=row.link_client_id if row.link_client_id is not None else row.invoice_client_id,
            outcome=outcome,
            crm_amount=row.amount,
            days_open=_days_open(row, outcome, closing_day, self.today),
            nfse_number=row.invoice_nfse_number,
            verification_code=row.invoice_verification_code,
            os_number=row.invoice_os_number,
            issued_at=row.invoice_issued_at,
            gross_amount=gross,
            taxes=taxes,
            withheld_total=row.invoice_withheld_total,
            net_receivable=row.invoice_net_amount,
            omie_taxes=omie_taxes,
            omie_taxes_source=row.omie_source if invoiced else None,
            last_error=last_error,
            fix=fix,
            reasons=reasons,
            replaced=_replaced(replaced) if replaced else (),
        )
        return deal, exceptions

    def _build_pending(self, row: NamedTuple) -> tuple[DealRow, list[ExceptionRow]]:
        """`build` for a valid deal with no invoice and no open issue, the emission not having reached it: at
        100,000 deals most of a report's deals. It has one exception (not processed) and none of the taxes,
        invoice or amount checks can apply, so its row is made straight from what the general path would."""
        name, document = self._client(row)
        closing_day = to_sao_paulo(row.closed_at or row.pulled_at).date()
        at_stake = row.amount if row.amount is not None else ZERO
        exception = ExceptionRow(
            row.deal_id,
            name,
            document,
            closing_day,
            Outcome.PENDING,
            at_stake,
            "pipeline",
            None,
            "not_processed",
            *self._not_processed,
            row.closed_at or row.pulled_at,
        )
        deal = DealRow(
            deal_id=row.deal_id,
            closing_day=closing_day,
            closed_at=row.closed_at,
            client_name=name,
            client_document=document,
            omie_client_id=row.link_client_id,
            outcome=Outcome.PENDING,
            crm_amount=row.amount,
            days_open=max(0, (self.today - closing_day).days),
            last_error=self.clean(exception.message),
            fix=self.clean(exception.fix),
            reasons=("not_processed",),
        )
        return deal, [exception]

    def _exceptions(
        self,
        who: tuple,
        row: NamedTuple,
        issues: Sequence[sa.Row],
        taxes: dict[str, TaxValue],
        omie_taxes: dict[str, Decimal | None],
    ) -> list[ExceptionRow]:
        """`who`: the deal's id, client name and document, closing day, outcome and amount at stake."""
        found: list[ExceptionRow] = []
        outcome = who[4]

        def add(stage: str, reason: str, message: str, fix: str | None, since: datetime | None, field=None):
            found.append(ExceptionRow(*who, stage, field, reason, self.clean(message) or "", self.clean(fix), since))

        for issue in issues:
            add(issue.stage, issue.reason, issue.message, issue.fix, issue.first_seen_at, issue.field)
        if not row.is_valid and not any(issue.stage == "validation" for issue in issues):
            found.append(ExceptionRow(*who, "validation", None, "invalid_deal", *self._invalid, row.pulled_at))
        if outcome is Outcome.PENDING:
            since = row.closed_at or row.pulled_at
            found.append(ExceptionRow(*who, "pipeline", None, "not_processed", *self._not_processed, since))
        elif outcome is Outcome.ERROR:
            add(
                "invoice",
                "rejected",
                row.invoice_last_error or _("Invoice rejected without a message from Omie."),
                row.invoice_fix or _("Correct the record named in Omie and ask on-call to issue it again."),
                row.invoice_status_changed_at,
            )
        elif outcome is Outcome.CANCELLED:
            add(
                "invoice",
                "cancelled",
                row.invoice_cancel_reason or _("Invoice cancelled (no reason recorded)."),
                _("Confirm with sales whether the deal must be invoiced again."),
                row.invoice_cancelled_at or row.invoice_status_changed_at,
            )
        elif outcome in (Outcome.SUBMITTED, Outcome.PROCESSING):
            waiting = self.now - row.invoice_status_changed_at
            if waiting > self.stuck_after:
                add(
                    "prefeitura" if outcome is Outcome.PROCESSING else "omie",
                    "stuck",
                    _("{status} for {duration}, since {since}.").format(
                        status=outcome.label,
                        duration=_duration(waiting),
                        since=format_moment(to_sao_paulo(row.invoice_status_changed_at)),
                    ),
                    _(
                        "On-call is alerted and the status is checked automatically; past one working day, "
                        "check the invoice in Omie."
                    ),
                    row.invoice_status_changed_at,
                )
        if omie_taxes and outcome is not Outcome.CANCELLED:
            _omie_tax_exception(taxes, omie_taxes, row.omie_source, row.invoice_issued_at, add)
        gross, crm = row.invoice_gross_amount, row.amount
        if gross is not None and outcome is not Outcome.CANCELLED:
            if crm is None:
                add(
                    "crm",
                    "no_amount",
                    _("Invoice of {gross} for a deal without a readable amount in the CRM.").format(
                        gross=format_money(gross)
                    ),
                    _("Fill in the deal's amount in the CRM."),
                    row.pulled_at,
                )
            elif gross != crm:
                add(
                    "crm",
                    "amount_mismatch",
                    _("Invoice of {gross}, CRM of {crm} (a difference of {difference}).").format(
                        gross=format_money(gross), crm=format_money(crm), difference=format_money(gross - crm)
                    ),
                    _(
                        "Confirm the right amount with sales; if the invoice is wrong, ask for it to be cancelled "
                        "and issued again."
                    ),
                    row.invoice_issued_at or row.invoice_status_changed_at,
                )
        return found


def _omie_tax_exception(
    taxes: dict[str, TaxValue], omie_taxes: dict[str, Decimal | None], source: str | None, issued_at, add
) -> None:
    """One exception listing every tax whose figure Omie computed differs from ours by more than R$ 0,01."""
    ours = {name: taxes.get(name, NO_TAX).sent_to_omie for name in COMPARED_TAXES}
    differences = tax_differences(ours, omie_taxes)
    if not differences:
        return
    said = "; ".join(
        _("{tax}: ours {ours}, Omie {omie} (a difference of {difference})").format(
            tax=TAX_LABELS[item.tax],
            ours=format_money(item.ours),
            omie=format_money(item.omie),
            difference=format_money(item.difference),
        )
        for item in differences
    )
    message = (
        _("Taxes computed by Omie (of the listed invoice) differ from ours: {differences}.")
        if source == "ListarNFSEs"
        else _("Taxes computed by Omie (of the OS) differ from ours: {differences}.")
    )
    add(
        "omie",
        "omie_tax_mismatch",
        message.format(differences=said),
        _(
            "Check the service's and the client's rates and withholdings in Omie; if the invoice is wrong, ask for it "
            "to be cancelled and issued again; if Omie is right, correct the catalog's rates."
        ),
        issued_at,
        _("taxes"),
    )
