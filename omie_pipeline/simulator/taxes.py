"""Taxes of one order item, computed as Omie does from the item's `impostos` or the catalog defaults.

Rates are percentages (5 = 5 %). Each amount is base × rate rounded half-up to cents; the ISS base
is the item value less `nTotDeducao`, the INSS/PIS/COFINS bases may be reduced by
`nAliqRedBase*`. Omie computes `nBaseISS` and `nValorISS` itself (omie-api.md §8, §15): whatever
the caller sends there is ignored. With `cUtilizaValorImposto` = "S" the amounts sent for the federal
withholdings (IRRF, PIS, COFINS, CSLL, INSS) are kept (§15, unconfirmed). No thresholds (such as the
R$ 10 IRRF waiver) are applied: what the rates give is what is shown.

The IBS/CBS fields of the 2026 reform (CST, classification, rates and the reduction percentages
`nPercReducaoIbsUf`/`Mun`/`Cbs`, unconfirmed names) are kept as sent, else taken from the catalog,
and returned with the item; they change no amount of the note in 2026.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from omie_pipeline.simulator import errors
from omie_pipeline.simulator.money import ZERO, cents, decimal_field, percent_of
from omie_pipeline.simulator.state import ItemTaxes

TAXES = ("ISS", "IRRF", "PIS", "COFINS", "CSLL", "INSS")
# The catalog calls income tax "IR" and retention "cRet*"; orders say "IRRF" and "cRetem*".
CATALOG_RATE = {tax: f"nAliq{'IR' if tax == 'IRRF' else tax}" for tax in TAXES}
CATALOG_RETAIN = {tax: f"cRet{'IR' if tax == 'IRRF' else tax}" for tax in TAXES}
CATALOG_BASE_REDUCTION = {"INSS": "nRedBaseINSS", "PIS": "nRedBasePIS", "COFINS": "nRedBaseCOFINS"}
ORDER_BASE_REDUCTION = {"INSS": "nAliqRedBaseINSS", "PIS": "nAliqRedBasePIS", "COFINS": "nAliqRedBaseCOFINS"}
# Order tag -> the catalog's name for it (the catalog says `cCstIbsCbs` where the order says `cCST`).
REFORM_TEXT = {"cCST": "cCstIbsCbs", "cClassTrib": "cClassTrib"}
REFORM_PERCENT = ("nAliqIbsUf", "nAliqIbsMun", "nAliqCbs", "nPercReducaoIbsUf", "nPercReducaoIbsMun", "nPercReducaoCbs")


def _flag(value: Any) -> bool:
    return str(value).strip().upper() == "S"


def compute_item(item: dict[str, Any], catalog: dict[str, Any] | None) -> tuple[dict[str, Any], ItemTaxes]:
    """Return the item as Omie stores it (with computed `impostos`) and its money.

    `catalog` is the service's catalog record when the item names one (`nCodServico` or
    `cCodIntServico`); its price and tax defaults fill what the item leaves out.
    """
    given = item.get("impostos") or {}
    if not isinstance(given, dict):
        raise errors.invalid_value("impostos", given, "objeto esperado")
    defaults = (catalog or {}).get("impostos", {})
    cabecalho = (catalog or {}).get("cabecalho", {})

    quantity = decimal_field(item, "nQtde")
    if quantity is None:
        raise errors.missing_tag("nQtde")
    if quantity <= 0:
        raise errors.invalid_value("nQtde", item.get("nQtde"), "a quantidade deve ser maior que zero")
    unit_price = decimal_field(item, "nValUnit", cabecalho.get("nPrecoUnit"))
    if unit_price is None:
        raise errors.missing_tag("nValUnit")
    if unit_price < 0:
        raise errors.invalid_value("nValUnit", item.get("nValUnit"), "o valor unitário não pode ser negativo")

    gross = cents(quantity * unit_price)
    discount_kind = str(item.get("cTpDesconto") or "").upper()
    if discount_kind == "P":
        discount = percent_of(gross, decimal_field(item, "nAliqDesconto", ZERO))
    elif discount_kind == "V":
        discount = cents(decimal_field(item, "nValorDesconto", ZERO))
    else:
        discount = ZERO
    value = gross - discount
    if value < 0:
        raise errors.invalid_value(
            "nValorDesconto", item.get("nValorDesconto"), "desconto maior que o valor do serviço"
        )

    deduction = cents(decimal_field(given, "nTotDeducao", ZERO))
    iss_base = value - deduction
    keep_given_amounts = _flag(given.get("cUtilizaValorImposto", "N"))

    rates: dict[str, Decimal] = {}
    amounts: dict[str, Decimal] = {}
    retained: dict[str, bool] = {}
    computed: dict[str, Any] = {}
    for tax in TAXES:
        rate = decimal_field(given, f"nAliq{tax}")
        if rate is None:
            rate = decimal_field(defaults, CATALOG_RATE[tax], ZERO)
        if rate < 0 or rate > 100:
            raise errors.invalid_value(f"nAliq{tax}", rate, "alíquota deve estar entre 0 e 100")
        retain_flag = item.get("cRetemISS") if tax == "ISS" else given.get(f"cRetem{tax}")
        if retain_flag in (None, ""):
            retain_flag = defaults.get(CATALOG_RETAIN[tax], "N")
        base = iss_base if tax == "ISS" else value
        if tax in ORDER_BASE_REDUCTION:
            reduction = decimal_field(given, ORDER_BASE_REDUCTION[tax])
            if reduction is None:
                reduction = decimal_field(defaults, CATALOG_BASE_REDUCTION[tax], ZERO)
            base = cents(base * (Decimal(100) - reduction) / Decimal(100))
            computed[ORDER_BASE_REDUCTION[tax]] = reduction
        given_amount = decimal_field(given, f"nValor{tax}") if keep_given_amounts and tax != "ISS" else None
        amount = cents(given_amount) if given_amount is not None else percent_of(base, rate)
        rates[tax] = rate
        amounts[tax] = amount
        retained[tax] = _flag(retain_flag)
        computed[f"nAliq{tax}"] = rate
        computed[f"nValor{tax}"] = amount
        if tax != "ISS":
            computed[f"cRetem{tax}"] = "S" if retained[tax] else "N"
    computed["nBaseISS"] = iss_base
    computed["nTotDeducao"] = deduction
    computed["cUtilizaValorImposto"] = "S" if keep_given_amounts else "N"
    computed["lDeduzISS"] = bool(given.get("lDeduzISS", defaults.get("lDeduzISS", False)))
    computed.update(_reform_fields(given, defaults))

    stored = {key: val for key, val in item.items() if key != "impostos"}
    stored["nQtde"] = quantity
    stored["nValUnit"] = unit_price
    stored["cRetemISS"] = "S" if retained["ISS"] else "N"
    if discount_kind:
        stored["nValorDesconto"] = discount
    stored["impostos"] = computed
    taxes = ItemTaxes(
        value=value, deduction=deduction, iss_base=iss_base, rates=rates, amounts=amounts, retained=retained
    )
    return stored, taxes


def _reform_fields(given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """The item's IBS/CBS fields: as sent, else the catalog's, else empty / zero."""
    fields: dict[str, Any] = {}
    for tag, catalog_tag in REFORM_TEXT.items():
        value = given.get(tag)
        fields[tag] = str(value if value not in (None, "") else defaults.get(catalog_tag, ""))
    for tag in REFORM_PERCENT:
        value = decimal_field(given, tag)
        if value is None:
            value = decimal_field(defaults, tag, ZERO)
        if value < 0 or value > 100:
            raise errors.invalid_value(tag, value, "percentual deve estar entre 0 e 100")
        fields[tag] = value
    fields["cIndOPer"] = str(given.get("cIndOPer") or "")
    return fields
