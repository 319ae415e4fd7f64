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


@pytest.mark.parametrize(
    "regime_tributario, optante, confirmed, expected",
    [
        ("Simples Nacional", "", None, SIMPLES),  # the names, however written
        ("LUCRO PRESUMIDO", "N", None, PRESUMIDO),
        ("lucro_real", "", None, REAL),
        (" Lucro-Real ", "n", None, REAL),
        ("Simples Nacional", "S", None, SIMPLES),
        ("", "S", None, SIMPLES),  # only the Simples flag
        ("7", "S", None, SIMPLES),  # an undocumented code beside the Simples flag: the flag says it
        ("3", "N", PRESUMIDO, PRESUMIDO),  # a code: only a confirmed regime reads it
        ("4", "", REAL, REAL),
        ("", "N", REAL, REAL),
        ("Lucro Real", "N", REAL, REAL),  # Omie's name and the confirmation agree
    ],
)
def test_regimes_read_from_names_the_simples_flag_or_a_confirmation(
    regime_tributario: str, optante: str, confirmed: Regime | None, expected: Regime
) -> None:
    assert parse_regime(company(regime_tributario, optante), confirmed) is expected


@pytest.mark.parametrize(
    "regime_tributario, optante, confirmed, words",
    [
        ("", "", None, "regime_tributario is empty and optante_simples_nacional is not set"),
        ("", "N", None, "Lucro Presumido and Lucro Real cannot be told apart"),
        ("1", "", None, "regime_tributario '1' is not a regime's name, and Omie does not document its codes"),
        ("3", "N", None, "regime_tributario '3' is not a regime's name"),
        ("4", "N", None, "no tax rates are derived from a guess"),
        ("MEI", "S", REAL, "contradicts optante_simples_nacional 'S'"),
        ("Lucro Presumido", "S", None, "contradicts optante_simples_nacional 'S'"),
        ("Lucro Presumido", "N", REAL, "contradicts OMIE_PIPELINE_TAX_REGIME lucro_real"),
        ("3", "S", PRESUMIDO, "OMIE_PIPELINE_TAX_REGIME (lucro_presumido) contradicts optante_simples_nacional 'S'"),
        ("3", "X", PRESUMIDO, "optante_simples_nacional is 'X', not S or N"),
    ],
)
def test_a_regime_that_is_not_certain_is_an_error_naming_the_company_and_fields(
    regime_tributario: str, optante: str, confirmed: Regime | None, words: str
) -> None:
    with pytest.raises(UnknownRegimeError, match="company 77") as raised:
        parse_regime(company(regime_tributario, optante), confirmed)
    assert words in str(raised.value)


def test_rates_and_retentions_from_the_catalogs_impostos() -> None:
    taxes = {
        "nAliqISS": "2.90",
        "cRetISS": "N",
        "nAliqPIS": "0.65",
        "cRetPIS": "S",
        "nAliqCOFINS": 3,
        "cRetCOFINS": "s",
        "nAliqCSLL": "1.00",
        "cRetCSLL": "S",
        "nAliqIR": "1.5",
        "cRetIR": "S",
        "nAliqINSS": "0",
        "cRetINSS": "",
        "nAliqIbsUf": "0.05",
        "nAliqIbsMun": "0.05",
        "nAliqCbs": "0.9",
        "lDeduzISS": False,
        "cCstIbsCbs": "000",
    }
    assert rates_from_taxes(taxes) == TaxRates(
        iss=Decimal("2.9"),
        pis=Decimal("0.65"),
        cofins=Decimal("3"),
        csll=Decimal("1"),
        ir=Decimal("1.5"),
        ibs_uf=Decimal("0.05"),
        ibs_mun=Decimal("0.05"),
        cbs=Decimal("0.9"),
        retain_pis=True,
        retain_cofins=True,
        retain_csll=True,
        retain_ir=True,
    )


def test_missing_rates_are_zero_and_nothing_is_withheld() -> None:
    assert rates_from_taxes(None) == TaxRates()
    assert rates_from_taxes({"nAliqISS": None, "cRetISS": None}) == TaxRates()


@pytest.mark.parametrize(
    "taxes, tag, words",
    [
        ({"nAliqISS": "dois"}, "nAliqISS", "is not a number"),
        ({"nAliqIR": "150"}, "nAliqIR", "not a percentage between 0 and 100"),
        ({"nAliqPIS": "-1"}, "nAliqPIS", "not a percentage"),
        ({"nAliqCbs": "NaN"}, "nAliqCbs", "not a percentage"),
        ({"cRetIR": "T"}, "cRetIR", "is not S or N"),
    ],
)
def test_an_unreadable_field_is_named(taxes: dict, tag: str, words: str) -> None:
    with pytest.raises(RateFieldError) as raised:
        rates_from_taxes(taxes)
    assert raised.value.field_name == tag
    assert words in raised.value.message
