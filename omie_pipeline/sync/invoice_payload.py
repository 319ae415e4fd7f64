"""What one deal's invoice looks like to Omie: the `IncluirOS` param, built from stored facts only.

The OS carries the idempotency key as `cCodIntOS`, the Omie client, one service line with the
deal's value, and each tax's rate and retention flag in the OS's own tag names (`nAliqIRRF`,
`cRetem*`, not the catalog's `nAliqIR`/`cRetIR`). No amount is sent: Omie computes the ISS base and
value itself (omie-api.md §8, §15) and every other tax from the rates, with `cUtilizaValorImposto`
"N", so the note never depends on how Omie treats amounts sent with "S" (unconfirmed). The
pipeline's own figures, from the same rates (`domain.taxes`), stay on the invoice row; what Omie
computed is read back and compared (`sync.omie_taxes`). A withheld tax is sent at the rate the
payer withholds (PIS/COFINS/CSLL at the legal 0.65/3/1 %), since that is what the note states as
retained; every withholding and the net amount are also written, in words, in `cDadosAdicNF`.
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

# Tax -> (rate tag, retention tag) in an OS item's `impostos`. ISS is retained by the item's own
# `cRetemISS` (omie-api.md §8): `impostos` has no such tag.
OS_TAX_TAGS = {
    Tax.ISS: ("nAliqISS", None),
    Tax.IR: ("nAliqIRRF", "cRetemIRRF"),
    Tax.PIS: ("nAliqPIS", "cRetemPIS"),
    Tax.COFINS: ("nAliqCOFINS", "cRetemCOFINS"),
    Tax.CSLL: ("nAliqCSLL", "cRetemCSLL"),
    Tax.INSS: ("nAliqINSS", "cRetemINSS"),
}
REFORM_TAGS = {Tax.IBS_UF: "nAliqIbsUf", Tax.IBS_MUN: "nAliqIbsMun", Tax.CBS: "nAliqCbs"}
WITHHOLDING_NAMES = {
    Tax.ISS: "ISS",
    Tax.IR: "IRRF",
    Tax.PIS: "PIS",
    Tax.COFINS: "COFINS",
    Tax.CSLL: "CSLL",
    Tax.INSS: "INSS",
}


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
    taxes: dict[str, Any] = {"cUtilizaValorImposto": "N"}
    for tax, (rate_tag, retain_tag) in OS_TAX_TAGS.items():
        line: TaxLine = breakdown.line(tax)
        taxes[rate_tag] = line.withheld_rate if line.withheld else line.rate
        if retain_tag is not None:
            taxes[retain_tag] = _flag(line.withheld)
    for tax, tag in REFORM_TAGS.items():
        rate = breakdown.line(tax).rate
        if rate:
            taxes[tag] = rate
    return taxes


def withholding_text(breakdown: TaxBreakdown) -> str:
    """The retentions and the net amount, as printed on the note."""
    withheld = [
        f"{WITHHOLDING_NAMES[tax]} {format_brl(breakdown.withheld_amount(tax))}"
        for tax in WITHHOLDING_NAMES
        if breakdown.withheld_amount(tax) > 0
    ]
    if not withheld:
        return f"Sem retenções. Valor líquido: {format_brl(breakdown.net_receivable)}."
    return (
        f"Retenções: {'; '.join(withheld)}. Total retido: {format_brl(breakdown.total_withheld)}. "
        f"Valor líquido: {format_brl(breakdown.net_receivable)}."
    )


NOTE_TEXT_LIMIT = 2000
"""`cDadosAdicNF` becomes the RPS's Discriminacao, which the ABRASF layout caps at 2000 characters."""
CLIPPED_MARK = " [...]"


def order_description(facts: OrderFacts) -> str:
    """The deal's description (else the service's), clipped so that it and the withholding text fit
    the note; a CRM description of any length must not make Omie refuse the OS."""
    description = (facts.deal_description or "").strip() or facts.service_description
    room = NOTE_TEXT_LIMIT - len(withholding_text(facts.breakdown)) - 1
    if len(description) <= room:
        return description
    return description[: room - len(CLIPPED_MARK)].rstrip() + CLIPPED_MARK


def build_order(facts: OrderFacts, today: date) -> dict[str, Any]:
    """The `IncluirOS` param for one deal (money as Decimal; the client writes exact JSON numbers)."""
    breakdown = facts.breakdown
    description = order_description(facts)
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
        "ServicosPrestados": [
            {
                "nCodServico": facts.service_id,
                "cDescServ": description,
                "nQtde": Decimal("1"),
                "nValUnit": breakdown.gross,
                "cRetemISS": _flag(breakdown.line(Tax.ISS).withheld),
                "impostos": item_taxes,
            }
        ],
    }
    if facts.email:
        order["Email"] = {"cEnviarPara": facts.email, "cEnvLink": "S"}
    return order


FIRST_ITEM = 1  # the one service line every order of the pipeline carries


def correction_order(facts: OrderFacts, os_id: int, today: date) -> dict[str, Any]:
    """The `AlterarOS` param that makes OS `os_id` what `build_order` would send today: named by its
    Omie id (its integration code never changes), its service line altered by `nSeqItem` (which
    AlterarOS requires), its billing stage left as it is."""
    order = build_order(facts, today)
    header = order["Cabecalho"]
    del header["cCodIntOS"], header["cEtapa"]
    header["nCodOS"] = os_id
    order["ServicosPrestados"][0].update(nSeqItem=FIRST_ITEM, cAcaoItem="A")
    return order
