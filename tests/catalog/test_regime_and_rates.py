"""Reading the company's regime and a service's rates from Omie's records."""

from __future__ import annotations

from decimal import Decimal

import pytest

from omie_pipeline.domain.taxes import Regime, TaxRates
from omie_pipeline.omie.models import CompanyRecord
from omie_pipeline.sync.tax_rates import RateFieldError, UnknownRegimeError, parse_regime, rates_from_taxes

SIMPLES, PRESUMIDO, REAL = Regime.SIMPLES_NACIONAL, Regime.LUCRO_PRESUMIDO, Regime.LUCRO_REAL


def company(regime_tributario: str = "", optante: str = "") -> CompanyRecord:
    return CompanyRecord(codigo_empresa=77, regime_tributario=regime_tributario, optante_simples_nacional=optante)


@pytest.mark.parametrize("regime_tributario, optante, expected", [
    ("1", "S", SIMPLES),  # the simulator's codes
    ("3", "N", PRESUMIDO),
    ("4", "N", REAL),
    ("3", "", PRESUMIDO),
    ("Simples Nacional", "", SIMPLES),  # the names, however written
    ("LUCRO PRESUMIDO", "N", PRESUMIDO),
    ("lucro_real", "", REAL),
    (" Lucro-Real ", "n", REAL),
    ("Simples Nacional", "S", SIMPLES),
    ("", "S", SIMPLES),  # only the Simples flag
])
def test_known_regimes(regime_tributario: str, optante: str, expected: Regime) -> None:
    assert parse_regime(company(regime_tributario, optante)) is expected


@pytest.mark.parametrize("regime_tributario, optante, words", [
    ("", "", "regime_tributario is empty and optante_simples_nacional is not set"),
    ("", "N", "Lucro Presumido and Lucro Real cannot be told apart"),
    ("2", "", "regime_tributario '2' is not a known regime"),
    ("MEI", "S", "regime_tributario 'MEI' is not a known regime"),
    ("Lucro Presumido", "S", "contradicts optante_simples_nacional 'S'"),
    ("1", "N", "contradicts optante_simples_nacional 'N'"),
    ("3", "X", "optante_simples_nacional is 'X', not S or N"),
])
def test_a_regime_that_is_not_certain_is_an_error_naming_the_company_and_fields(
        regime_tributario: str, optante: str, words: str) -> None:  # fmt: skip
    with pytest.raises(UnknownRegimeError, match="company 77") as raised:
        parse_regime(company(regime_tributario, optante))
    assert words in str(raised.value)


def test_rates_and_retentions_from_the_catalogs_impostos() -> None:
    taxes = {"nAliqISS": "2.90", "cRetISS": "N", "nAliqPIS": "0.65", "cRetPIS": "S", "nAliqCOFINS": 3,
             "cRetCOFINS": "s", "nAliqCSLL": "1.00", "cRetCSLL": "S", "nAliqIR": "1.5", "cRetIR": "S",
             "nAliqINSS": "0", "cRetINSS": "", "nAliqIbsUf": "0.05", "nAliqIbsMun": "0.05", "nAliqCbs": "0.9",
             "lDeduzISS": False, "cCstIbsCbs": "000"}
    assert rates_from_taxes(taxes) == TaxRates(
        iss=Decimal("2.9"), pis=Decimal("0.65"), cofins=Decimal("3"), csll=Decimal("1"), ir=Decimal("1.5"),
        ibs_uf=Decimal("0.05"), ibs_mun=Decimal("0.05"), cbs=Decimal("0.9"),
        retain_pis=True, retain_cofins=True, retain_csll=True, retain_ir=True,
    )


def test_missing_rates_are_zero_and_nothing_is_withheld() -> None:
    assert rates_from_taxes(None) == TaxRates()
    assert rates_from_taxes({"nAliqISS": None, "cRetISS": None}) == TaxRates()


@pytest.mark.parametrize("taxes, tag, words", [
    ({"nAliqISS": "dois"}, "nAliqISS", "is not a number"),
    ({"nAliqIR": "150"}, "nAliqIR", "not a percentage between 0 and 100"),
    ({"nAliqPIS": "-1"}, "nAliqPIS", "not a percentage"),
    ({"nAliqCbs": "NaN"}, "nAliqCbs", "not a percentage"),
    ({"cRetIR": "T"}, "cRetIR", "is not S or N"),
])
def test_an_unreadable_field_is_named(taxes: dict, tag: str, words: str) -> None:
    with pytest.raises(RateFieldError) as raised:
        rates_from_taxes(taxes)
    assert raised.value.field_name == tag
    assert words in raised.value.message
