"""Reading the taxes Omie computed out of its answers: an OS (`ConsultarOS`) or a listed note (`ListarNFSEs`).

Pure functions: the emission reads the OS right after creating it, and the status refresh, which
already lists the notes, reads `Valores` from that listing at no extra call.
"""

from __future__ import annotations

from decimal import Decimal

from omie_pipeline.domain.omie_taxes import OmieTaxFigures
from omie_pipeline.omie.models import NfseRecord, OsRecord

# Tax name -> the amount tag in an OS item's `impostos`.
OS_AMOUNT_TAGS = {
    "iss": "nValorISS",
    "pis": "nValorPIS",
    "cofins": "nValorCOFINS",
    "csll": "nValorCSLL",
    "ir": "nValorIRRF",
    "inss": "nValorINSS",
}
# Tax name -> the tag in ListarNFSEs `Valores`.
NFSE_AMOUNT_TAGS = {
    "iss": "nValorISS",
    "pis": "nValorPIS",
    "cofins": "nValorCOFINS",
    "csll": "nValorCSLL",
    "ir": "nValorIR",
    "inss": "nValorINSS",
}
# The IBS/CBS fields of the 2026 reform an OS item may carry (the reduction names are unconfirmed, §15).
REFORM_TAGS = (
    "cCST",
    "cClassTrib",
    "nAliqIbsUf",
    "nAliqIbsMun",
    "nAliqCbs",
    "nPercReducaoIbsUf",
    "nPercReducaoIbsMun",
    "nPercReducaoCbs",
)


def _sum(values: list[Decimal | None]) -> Decimal | None:
    """The total of the values Omie gave; None when it gave none."""
    given = [value for value in values if value is not None]
    return sum(given, Decimal("0.00")) if given else None


def figures_from_os(record: OsRecord) -> OmieTaxFigures:
    """Omie's computed taxes of an OS, summed over its items; IBS/CBS fields from its first item."""
    taxes = [item.impostos for item in record.ServicosPrestados]
    amounts = {tax: _sum([getattr(item, tag) for item in taxes]) for tax, tag in OS_AMOUNT_TAGS.items()}
    header = record.Cabecalho
    net = None
    if header.nValorTotal is not None and header.nValorTotalImpRet is not None:
        net = header.nValorTotal - header.nValorTotalImpRet
    reform = {}
    if taxes:
        reform = {tag: _text(getattr(taxes[0], tag)) for tag in REFORM_TAGS if getattr(taxes[0], tag) is not None}
    return OmieTaxFigures("ConsultarOS", _sum([item.nBaseISS for item in taxes]), amounts, net, reform)


def figures_from_nfse(record: NfseRecord) -> OmieTaxFigures:
    """Omie's figures of an issued note, from its `Valores` (the whole note's totals)."""
    values = record.Valores
    amounts = {tax: getattr(values, tag) for tax, tag in NFSE_AMOUNT_TAGS.items()}
    return OmieTaxFigures("ListarNFSEs", values.nValorBaseCalculo, amounts, values.nValorLiquido)


def _text(value: object) -> str:
    """A reform field as text: a rate without trailing zeros ("0.9"), a code as sent."""
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)
