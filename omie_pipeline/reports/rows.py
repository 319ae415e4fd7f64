"""From the store's rows to the report's: one closed deal, its outcome, its money and its exceptions.

Only this module decides what a deal's situation is and which exceptions it carries, so the deal
table, the exception table and every total agree by construction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from omie_pipeline.domain.documents import mask_document
from omie_pipeline.domain.money import format_brl
from omie_pipeline.domain.omie_taxes import COMPARED_TAXES, tax_differences
from omie_pipeline.domain.privacy import redact_cpfs
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.reports.labels import TAX_LABELS, Outcome
from omie_pipeline.reports.model import DealRow, ExceptionRow, TaxValue
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


def _client(row: sa.Row) -> tuple[str, str]:
    """The client's name and document as they may be shown: a CPF masked, a CNPJ formatted."""
    name = (row.legal_name or row.trade_name or "").strip() or "(sem nome no CRM)"
    return name, mask_document(row.document or row.link_document)


def _outcome(row: sa.Row, issues: Sequence[sa.Row]) -> Outcome:
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


def _days_open(row: sa.Row, outcome: Outcome, now: datetime) -> int:
    """Calendar days in São Paulo from closing to issue (or cancellation), or to now while open."""
    start = row.closed_at or row.pulled_at
    end = now
    if outcome is Outcome.ISSUED:
        end = row.invoice_issued_at or row.invoice_status_changed_at
    elif outcome is Outcome.CANCELLED:
        end = row.invoice_issued_at or row.invoice_cancelled_at or row.invoice_status_changed_at
    return max(0, (to_sao_paulo(end).date() - to_sao_paulo(start).date()).days)


def _duration(waited: timedelta) -> str:
    """`45 min`, `5 h`, `3 dias`: how long something has waited, in the unit people use."""
    minutes = int(waited.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // (24 * 60)} dias"


def _taxes(row: sa.Row) -> dict[str, TaxValue]:
    taxes = {}
    for name in TAX_NAMES:
        withholdable = name in WITHHOLDABLE_TAX_NAMES
        taxes[name] = TaxValue(
            amount=row._mapping[f"invoice_{name}_amount"],
            withheld=bool(row._mapping[f"invoice_{name}_withheld"]) if withholdable else False,
            withheld_amount=row._mapping[f"invoice_{name}_withheld_amount"] if withholdable else Decimal("0.00"),
        )
    return taxes


def _omie_taxes(row: sa.Row) -> dict[str, Decimal | None]:
    if row.omie_source is None:
        return {}
    return {name: row._mapping[f"omie_{name}_amount"] for name in COMPARED_TAXES}


def build_deal(
    row: sa.Row, issues: Sequence[sa.Row], now: datetime, stuck_after: timedelta
) -> tuple[DealRow, list[ExceptionRow]]:
    """One deal row and its exceptions, from a `closed_deal_rows` row and its open issues."""
    outcome = _outcome(row, issues)
    name, document = _client(row)
    invoiced = row.invoice_id is not None
    deal = DealRow(
        deal_id=row.deal_id,
        closing_day=to_sao_paulo(row.closed_at or row.pulled_at).date(),
        closed_at=row.closed_at,
        client_name=name,
        client_document=document,
        omie_client_id=row.link_client_id if row.link_client_id is not None else row.invoice_client_id,
        outcome=outcome,
        nfse_number=row.invoice_nfse_number,
        verification_code=row.invoice_verification_code,
        os_number=row.invoice_os_number,
        issued_at=row.invoice_issued_at,
        crm_amount=row.amount,
        gross_amount=row.invoice_gross_amount,
        taxes=_taxes(row) if invoiced else {},
        withheld_total=row.invoice_withheld_total,
        net_receivable=row.invoice_net_amount,
        omie_taxes=_omie_taxes(row) if invoiced else {},
        omie_taxes_source=row.omie_source if invoiced else None,
        days_open=_days_open(row, outcome, now),
    )
    exceptions = _exceptions(deal, row, issues, now, stuck_after)
    # The invoice's own error first; else what the exceptions say (issues, stuck, not processed...).
    last_error = _clean(row.invoice_last_error) or _clean(_join(e.message for e in exceptions))
    fix = _clean(row.invoice_fix) or _clean(_join(dict.fromkeys(e.fix for e in exceptions if e.fix)))
    reasons = tuple(dict.fromkeys(e.reason for e in exceptions))
    return deal.model_copy(update={"reasons": reasons, "last_error": last_error, "fix": fix}), exceptions


def _exceptions(
    deal: DealRow, row: sa.Row, issues: Sequence[sa.Row], now: datetime, stuck_after: timedelta
) -> list[ExceptionRow]:
    found: list[ExceptionRow] = []

    def add(stage: str, reason: str, message: str, fix: str | None, since: datetime | None, field: str | None = None):
        found.append(
            ExceptionRow(
                deal_id=deal.deal_id,
                client_name=deal.client_name,
                client_document=deal.client_document,
                closing_day=deal.closing_day,
                outcome=deal.outcome,
                stage=stage,
                field=field,
                reason=reason,
                message=_clean(message) or "",
                fix=_clean(fix),
                since=since,
                amount=deal.amount_at_stake,
            )
        )

    for issue in issues:
        add(issue.stage, issue.reason, issue.message, issue.fix, issue.first_seen_at, issue.field)
    if not row.is_valid and not any(issue.stage == "validation" for issue in issues):
        add(
            "validation",
            "invalid_deal",
            "O negócio não passou na validação e nenhum detalhe foi registrado.",
            "Corrija o negócio no CRM; a próxima sincronização o valida de novo.",
            row.pulled_at,
        )
    if deal.outcome is Outcome.PENDING:
        add(
            "pipeline",
            "not_processed",
            "Negócio fechado que ainda não passou pela emissão: sem nota e sem pendência registrada.",
            "Nada a fazer se fechou há pouco: a próxima execução da emissão o processa. "
            "Se continuar aqui no dia seguinte, avise o time de dados.",
            deal.closed_at or row.pulled_at,
        )
    elif deal.outcome is Outcome.ERROR:
        add(
            "invoice",
            "rejected",
            row.invoice_last_error or "Nota rejeitada sem mensagem do Omie.",
            row.invoice_fix or "Corrija o cadastro indicado no Omie e peça a reemissão ao plantão.",
            row.invoice_status_changed_at,
        )
    elif deal.outcome is Outcome.CANCELLED:
        add(
            "invoice",
            "cancelled",
            row.invoice_cancel_reason or "Nota cancelada (motivo não registrado).",
            "Confirme com o comercial se o negócio deve ser faturado de novo.",
            row.invoice_cancelled_at or row.invoice_status_changed_at,
        )
    elif deal.outcome in (Outcome.SUBMITTED, Outcome.PROCESSING):
        waiting = now - row.invoice_status_changed_at
        if waiting > stuck_after:
            add(
                "prefeitura" if deal.outcome is Outcome.PROCESSING else "omie",
                "stuck",
                f"{deal.outcome.label} há {_duration(waiting)}, desde "
                f"{to_sao_paulo(row.invoice_status_changed_at):%d/%m/%Y %H:%M}.",
                "O plantão é alertado e o status é consultado automaticamente; se passar de um dia útil, "
                "confira a nota no Omie.",
                row.invoice_status_changed_at,
            )
    if deal.omie_taxes and deal.outcome is not Outcome.CANCELLED:
        _omie_tax_exception(deal, add)
    if deal.gross_amount is not None and deal.outcome is not Outcome.CANCELLED:
        if deal.crm_amount is None:
            add(
                "crm",
                "no_amount",
                f"Nota de {format_brl(deal.gross_amount)} para um negócio sem valor legível no CRM.",
                "Preencha o valor do negócio no CRM.",
                row.pulled_at,
            )
        elif deal.gross_amount != deal.crm_amount:
            difference = deal.gross_amount - deal.crm_amount
            add(
                "crm",
                "amount_mismatch",
                f"Nota de {format_brl(deal.gross_amount)}, CRM de {format_brl(deal.crm_amount)} "
                f"(diferença de {format_brl(difference)}).",
                "Confirme o valor certo com o comercial; se a nota estiver errada, peça o cancelamento e a reemissão.",
                deal.issued_at or row.invoice_status_changed_at,
            )
    return found


def _omie_tax_exception(deal: DealRow, add) -> None:
    """One exception listing every tax whose figure Omie computed differs from ours by more than R$ 0,01."""
    ours = {name: deal.sent_to_omie(name) for name in COMPARED_TAXES}
    differences = tax_differences(ours, deal.omie_taxes)
    if not differences:
        return
    said = "; ".join(
        f"{TAX_LABELS[item.tax]}: nosso {format_brl(item.ours)}, Omie {format_brl(item.omie)} "
        f"(diferença de {format_brl(item.difference)})"
        for item in differences
    )
    source = "da nota listada" if deal.omie_taxes_source == "ListarNFSEs" else "da OS"
    add(
        "omie",
        "omie_tax_mismatch",
        f"Impostos calculados pelo Omie ({source}) diferentes dos nossos: {said}.",
        "Confira no Omie as alíquotas e retenções do serviço e do cliente; se a nota estiver errada, peça o "
        "cancelamento e a reemissão; se o Omie estiver certo, corrija as alíquotas do catálogo.",
        deal.issued_at,
        "impostos",
    )
