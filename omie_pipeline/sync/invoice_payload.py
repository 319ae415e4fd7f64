"""What one deal's invoice looks like to Omie: the `IncluirOS` param, built from stored facts only.

The OS carries the idempotency key as `cCodIntOS`, the Omie client, one service line with the
deal's value, and the taxes computed by `domain.taxes` in the OS's own tag names (`nAliqIRRF`,
`cRetem*`, not the catalog's `nAliqIR`/`cRetIR`). The amounts are sent with
`cUtilizaValorImposto` = "S" so that Omie prints what the pipeline computed and recorded on the
invoice row. A withheld tax is sent at the rate and amount the payer withholds (PIS/COFINS/CSLL at
the legal 0.65/3/1 %), since that is what the note states as retained; every withholding and the
net amount are also written, in words, in `cDadosAdicNF`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from omie_pipeline.domain.money import format_brl
from omie_pipeline.domain.taxes import Tax, TaxBreakdown, TaxLine
from omie_pipeline.domain.timeutil import format_date_br

DEFAULT_CATEGORY = "1.01.02"  # "Prestação de serviços", Omie's default revenue category
BILLING_STAGE = "50"  # the kanban column "Faturar"
CASH_PAYMENT = "000"  # à vista, one instalment

# Tax -> (rate tag, amount tag, retention tag) in an OS item's `impostos`. ISS is retained by the
# item's own `cRetemISS` (omie-api.md §8): `impostos` has no such tag.
OS_TAX_TAGS = {
    Tax.ISS: ("nAliqISS", "nValorISS", None),
    Tax.IR: ("nAliqIRRF", "nValorIRRF", "cRetemIRRF"),
    Tax.PIS: ("nAliqPIS", "nValorPIS", "cRetemPIS"),
    Tax.COFINS: ("nAliqCOFINS", "nValorCOFINS", "cRetemCOFINS"),
    Tax.CSLL: ("nAliqCSLL", "nValorCSLL", "cRetemCSLL"),
    Tax.INSS: ("nAliqINSS", "nValorINSS", "cRetemINSS"),
}
REFORM_TAGS = {Tax.IBS_UF: "nAliqIbsUf", Tax.IBS_MUN: "nAliqIbsMun", Tax.CBS: "nAliqCbs"}
WITHHOLDING_NAMES = {Tax.ISS: "ISS", Tax.IR: "IRRF", Tax.PIS: "PIS", Tax.COFINS: "COFINS", Tax.CSLL: "CSLL",
                     Tax.INSS: "INSS"}


@dataclass(frozen=True)
class OrderFacts:
    """Everything an OS needs, as recorded for the invoice."""

    idempotency_key: str
    client_id: int  # nCodCli
    service_id: int  # nCodServico (the catalog's nCodServ)
    service_description: str
    deal_description: str | None
    email: str | None
    breakdown: TaxBreakdown
    category: str = DEFAULT_CATEGORY


def _flag(value: bool) -> str:
    return "S" if value else "N"


def _item_taxes(breakdown: TaxBreakdown) -> dict[str, Any]:
    taxes: dict[str, Any] = {"cUtilizaValorImposto": "S"}
    for tax, (rate_tag, amount_tag, retain_tag) in OS_TAX_TAGS.items():
        line: TaxLine = breakdown.line(tax)
        if line.withheld:
            taxes[rate_tag], taxes[amount_tag] = line.withheld_rate, line.withheld_amount
        else:
            taxes[rate_tag], taxes[amount_tag] = line.rate, line.amount
        if retain_tag is not None:
            taxes[retain_tag] = _flag(line.withheld)
    for tax, tag in REFORM_TAGS.items():
        rate = breakdown.line(tax).rate
        if rate:
            taxes[tag] = rate
    return taxes


def withholding_text(breakdown: TaxBreakdown) -> str:
    """The retentions and the net amount, as printed on the note."""
    withheld = [f"{WITHHOLDING_NAMES[tax]} {format_brl(breakdown.withheld_amount(tax))}"
                for tax in WITHHOLDING_NAMES if breakdown.withheld_amount(tax) > 0]
    if not withheld:
        return f"Sem retenções. Valor líquido: {format_brl(breakdown.net_receivable)}."
    return (f"Retenções: {'; '.join(withheld)}. Total retido: {format_brl(breakdown.total_withheld)}. "
            f"Valor líquido: {format_brl(breakdown.net_receivable)}.")


def build_order(facts: OrderFacts, today: date) -> dict[str, Any]:
    """The `IncluirOS` param for one deal (money as Decimal; the client writes exact JSON numbers)."""
    breakdown = facts.breakdown
    description = (facts.deal_description or "").strip() or facts.service_description
    item_taxes = _item_taxes(breakdown)
    order: dict[str, Any] = {
        "Cabecalho": {
            "cCodIntOS": facts.idempotency_key,
            "nCodCli": facts.client_id,
            "dDtPrevisao": format_date_br(today),
            "cEtapa": BILLING_STAGE,
            "nQtdeParc": 1,
            "cCodParc": CASH_PAYMENT,
        },
        "InformacoesAdicionais": {
            "cCodCateg": facts.category,
            "cDadosAdicNF": f"{description}\n{withholding_text(breakdown)}",
        },
        "ServicosPrestados": [{
            "nCodServico": facts.service_id,
            "cDescServ": description,
            "nQtde": Decimal("1"),
            "nValUnit": breakdown.gross,
            "cRetemISS": _flag(breakdown.line(Tax.ISS).withheld),
            "impostos": item_taxes,
        }],
    }  # fmt: skip
    if facts.email:
        order["Email"] = {"cEnviarPara": facts.email, "cEnvLink": "S"}
    return order
