"""Taxes on a note, by regime and withholding flags, against figures worked by hand.

Every expected figure below is worked in the comments, not computed by the module under test.
Rounding: each tax to the cent, half up.
"""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from omie_pipeline.domain.taxes import (
    Regime,
    Tax,
    TaxBreakdown,
    TaxRates,
    check_rates,
    compute_taxes,
)

GROSS = D("1000.00")
FLAGS = ("retain_iss", "retain_pis", "retain_cofins", "retain_csll", "retain_ir", "retain_inss")
FLAG_TAX = dict(zip(FLAGS, (Tax.ISS, Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR, Tax.INSS), strict=False))

# Rates per regime for the combination table: ISS 5 %, CSLL 1 %, IRRF 1.5 %, INSS 11 %, and the
# regime's own PIS/COFINS (Presumido 0.65/3, Real 1.65/7.6, Simples none).
OWN_PIS_COFINS = {
    Regime.LUCRO_PRESUMIDO: (D("0.65"), D("3")),
    Regime.LUCRO_REAL: (D("1.65"), D("7.6")),
    Regime.SIMPLES_NACIONAL: (D("0"), D("0")),
}

# Hand-worked at R$ 1,000.00:
#   ISS 5 % = 50.00 · CSLL 1 % = 10.00 · IRRF 1.5 % = 15.00 · INSS 11 % = 110.00
#   Presumido: PIS 0.65 % = 6.50, COFINS 3 % = 30.00 (shown and withheld alike)
#   Real: PIS 1.65 % = 16.50 shown, 0.65 % = 6.50 withheld; COFINS 7.6 % = 76.00 shown, 3 % = 30.00 withheld
#   Simples: PIS/COFINS/CSLL/IR 0.00 (inside the DAS); ISS 0.00 unless withheld
SHOWN = {
    Regime.LUCRO_PRESUMIDO: {
        Tax.ISS: "50.00",
        Tax.PIS: "6.50",
        Tax.COFINS: "30.00",
        Tax.CSLL: "10.00",
        Tax.IR: "15.00",
    },
    Regime.LUCRO_REAL: {Tax.ISS: "50.00", Tax.PIS: "16.50", Tax.COFINS: "76.00", Tax.CSLL: "10.00", Tax.IR: "15.00"},
    Regime.SIMPLES_NACIONAL: {Tax.ISS: "0.00", Tax.PIS: "0.00", Tax.COFINS: "0.00", Tax.CSLL: "0.00", Tax.IR: "0.00"},
}
WITHHELD_IF_FLAGGED = {
    Tax.ISS: "50.00",
    Tax.PIS: "6.50",
    Tax.COFINS: "30.00",
    Tax.CSLL: "10.00",
    Tax.IR: "15.00",
    Tax.INSS: "110.00",
}
# CSRF flagged subsets that stay at or under R$ 10.00 and so are not withheld at R$ 1,000.00:
#   PIS alone 6.50; CSLL alone 10.00 (exactly the limit: "R$ 10 or less" is not withheld).
#   COFINS alone 30.00, and every pair or the three together, are over R$ 10.00.
CSRF_NOT_WITHHELD = {frozenset(), frozenset({Tax.PIS}), frozenset({Tax.CSLL})}

COMBINATIONS = [
    dict(zip(FLAGS, values, strict=False)) for values in itertools.product((False, True), repeat=len(FLAGS))
]


def _rates(regime: Regime, **flags: bool) -> TaxRates:
    pis, cofins = OWN_PIS_COFINS[regime]
    return TaxRates(iss=D("5"), pis=pis, cofins=cofins, csll=D("1"), ir=D("1.5"), inss=D("11"), **flags)


def _expected_withheld(regime: Regime, flags: dict[str, bool]) -> set[Tax]:
    flagged = {FLAG_TAX[flag] for flag, on in flags.items() if on}
    withheld = flagged & {Tax.ISS, Tax.INSS}
    if regime is not Regime.SIMPLES_NACIONAL:
        withheld |= flagged & {Tax.IR}  # 15.00 is over the R$ 10 minimum
        csrf = frozenset(flagged & {Tax.PIS, Tax.COFINS, Tax.CSLL})
        if csrf not in CSRF_NOT_WITHHELD:
            withheld |= csrf
    return withheld


@pytest.mark.parametrize("regime", list(Regime))
@pytest.mark.parametrize(
    "flags", COMBINATIONS, ids=lambda flags: "+".join(f[7:] for f, on in flags.items() if on) or "none"
)
def test_every_regime_and_withholding_combination(regime, flags):
    breakdown = compute_taxes(GROSS, _rates(regime, **flags), regime)
    withheld = _expected_withheld(regime, flags)

    for tax, shown in SHOWN[regime].items():
        if tax is Tax.ISS and regime is Regime.SIMPLES_NACIONAL and Tax.ISS in withheld:
            shown = "50.00"  # a Simples ISS appears on the note when it is withheld
        assert str(breakdown.amount(tax)) == shown, tax
    assert str(breakdown.amount(Tax.INSS)) == "110.00"
    for tax in (Tax.ISS, Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR, Tax.INSS):
        line = breakdown.line(tax)
        assert line.withheld is (tax in withheld), tax
        assert str(line.withheld_amount) == (WITHHELD_IF_FLAGGED[tax] if tax in withheld else "0.00"), tax

    total = sum((D(WITHHELD_IF_FLAGGED[tax]) for tax in withheld), D("0"))
    assert breakdown.total_withheld == total
    assert breakdown.net_receivable == GROSS - total


def _csrf_withheld(breakdown: TaxBreakdown) -> D:
    """PIS + COFINS + CSLL withheld, the sum the national NFS-e reports in one field."""
    return sum((breakdown.withheld_amount(tax) for tax in (Tax.PIS, Tax.COFINS, Tax.CSLL)), D("0"))


def test_one_combination_in_full_lucro_presumido_professional_services():
    # R$ 1,000.00, all withheld but INSS: 50.00 + 6.50 + 30.00 + 10.00 + 15.00 = 111.50; net 888.50
    rates = TaxRates(
        iss=D("5"),
        pis=D("0.65"),
        cofins=D("3"),
        csll=D("1"),
        ir=D("1.5"),
        retain_iss=True,
        retain_pis=True,
        retain_cofins=True,
        retain_csll=True,
        retain_ir=True,
    )
    breakdown = compute_taxes(GROSS, rates, Regime.LUCRO_PRESUMIDO)
    assert breakdown.total_withheld == D("111.50")
    assert _csrf_withheld(breakdown) == D("46.50")  # 6.50 + 30.00 + 10.00
    assert breakdown.net_receivable == D("888.50")
    assert [line.tax for line in breakdown.lines] == list(Tax)


def test_lucro_real_shows_its_own_rates_but_suffers_the_csrf_rates():
    rates = TaxRates(
        iss=D("2"), pis=D("1.65"), cofins=D("7.6"), csll=D("1"), retain_pis=True, retain_cofins=True, retain_csll=True
    )
    pis = compute_taxes(GROSS, rates, Regime.LUCRO_REAL).line(Tax.PIS)
    cofins = compute_taxes(GROSS, rates, Regime.LUCRO_REAL).line(Tax.COFINS)
    assert (pis.rate, pis.amount, pis.withheld_rate, pis.withheld_amount) == (
        D("1.65"),
        D("16.50"),
        D("0.65"),
        D("6.50"),
    )
    assert (cofins.rate, cofins.amount, cofins.withheld_rate, cofins.withheld_amount) == (
        D("7.6"),
        D("76.00"),
        D("3"),
        D("30.00"),
    )


IR_ONLY = TaxRates(ir=D("1.5"), retain_ir=True)
IR_ONE_PERCENT = TaxRates(ir=D("1"), retain_ir=True)


@pytest.mark.parametrize(
    ("rates", "gross", "ir", "withheld"),
    [
        # IRRF 1.5 %: withheld only when the rounded amount is over R$ 10.00.
        (IR_ONLY, "666.66", "10.00", False),  # 9.9999 -> 10.00: not over 10
        (IR_ONLY, "666.67", "10.00", False),  # 10.00005 -> 10.00
        (IR_ONLY, "666.68", "10.00", False),  # 10.0002 -> 10.00
        (IR_ONLY, "666.99", "10.00", False),  # 10.00485 -> 10.00
        (IR_ONLY, "667.00", "10.01", True),  # 10.005 -> 10.01 (half up): the first withheld note
        (IR_ONLY, "667.01", "10.01", True),  # 10.00515 -> 10.01
        (IR_ONLY, "1000.00", "15.00", True),
        # IRRF 1 % (cleaning, security, labour hire)
        (IR_ONE_PERCENT, "1000.00", "10.00", False),  # exactly 10.00
        (IR_ONE_PERCENT, "1000.49", "10.00", False),  # 10.0049 -> 10.00
        (IR_ONE_PERCENT, "1000.50", "10.01", True),  # 10.005 -> 10.01
    ],
)
def test_irrf_minimum_edges(rates, gross, ir, withheld):
    line = compute_taxes(D(gross), rates, Regime.LUCRO_PRESUMIDO).line(Tax.IR)
    assert str(line.amount) == ir
    assert line.withheld is withheld
    assert str(line.withheld_amount) == (ir if withheld else "0.00")
    if not withheld:
        assert "10.00" in line.note


CSRF_ALL = TaxRates(pis=D("0.65"), cofins=D("3"), csll=D("1"), retain_pis=True, retain_cofins=True, retain_csll=True)


@pytest.mark.parametrize(
    ("gross", "pis", "cofins", "csll", "withheld"),
    [
        # CSRF 4.65 %, each tax rounded on its own, then summed; withheld only when over R$ 10.00.
        ("215.05", "1.40", "6.45", "2.15", False),  # 1.397825 / 6.4515 / 2.1505 -> 10.00
        ("215.06", "1.40", "6.45", "2.15", False),  # 1.39789 / 6.4518 / 2.1506 -> 10.00
        ("215.16", "1.40", "6.45", "2.15", False),  # 1.39854 / 6.4548 / 2.1516 -> 10.00
        ("215.17", "1.40", "6.46", "2.15", True),  # 1.398605 / 6.4551 / 2.1517 -> 10.01: first withheld
        ("214.82", "1.40", "6.44", "2.15", False),  # 1.39633 / 6.4446 / 2.1482 -> 9.99
        ("1000.00", "6.50", "30.00", "10.00", True),
    ],
)
def test_csrf_minimum_edges(gross, pis, cofins, csll, withheld):
    breakdown = compute_taxes(D(gross), CSRF_ALL, Regime.LUCRO_PRESUMIDO)
    assert [str(breakdown.amount(tax)) for tax in (Tax.PIS, Tax.COFINS, Tax.CSLL)] == [pis, cofins, csll]
    assert {breakdown.line(tax).withheld for tax in (Tax.PIS, Tax.COFINS, Tax.CSLL)} == {withheld}
    total = D(pis) + D(cofins) + D(csll)
    csrf_withheld = _csrf_withheld(breakdown)
    assert csrf_withheld == (total if withheld else D("0"))
    assert breakdown.net_receivable == D(gross) - csrf_withheld


def test_simples_nacional_never_withholds_irrf_or_csrf_however_large():
    rates = TaxRates(
        iss=D("3"),
        pis=D("0.65"),
        cofins=D("3"),
        csll=D("1"),
        ir=D("1.5"),
        inss=D("11"),
        ibs_uf=D("0.1"),
        cbs=D("0.9"),
        retain_iss=True,
        retain_pis=True,
        retain_cofins=True,
        retain_csll=True,
        retain_ir=True,
        retain_inss=True,
    )
    breakdown = compute_taxes(D("1000000.00"), rates, Regime.SIMPLES_NACIONAL)
    for tax in (Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR, Tax.IBS_UF, Tax.IBS_MUN, Tax.CBS):
        assert breakdown.amount(tax) == 0 and not breakdown.line(tax).withheld, tax
        assert breakdown.line(tax).note
    # ISS 3 % = 30,000.00 withheld; INSS 11 % = 110,000.00 withheld; net 1,000,000 - 140,000 = 860,000.00
    assert breakdown.withheld_amount(Tax.ISS) == D("30000.00")
    assert breakdown.withheld_amount(Tax.INSS) == D("110000.00")
    assert breakdown.net_receivable == D("860000.00")


def test_ibs_and_cbs_are_shown_but_never_withheld_nor_subtracted():
    rates = TaxRates(ibs_uf=D("0.1"), ibs_mun=D("0.05"), cbs=D("0.9"))
    breakdown = compute_taxes(GROSS, rates, Regime.LUCRO_REAL)
    # 0.1 % = 1.00, 0.05 % = 0.50, 0.9 % = 9.00 of R$ 1,000.00
    assert (breakdown.amount(Tax.IBS_UF), breakdown.amount(Tax.IBS_MUN), breakdown.amount(Tax.CBS)) == (
        D("1.00"),
        D("0.50"),
        D("9.00"),
    )
    assert breakdown.ibs == D("1.50")
    assert breakdown.total_withheld == 0 and breakdown.net_receivable == GROSS
    assert compute_taxes(GROSS, rates, Regime.SIMPLES_NACIONAL).ibs == 0


@pytest.mark.parametrize(
    ("gross", "rate", "iss"),
    [
        ("10.10", "5", "0.51"),  # 0.505 -> 0.51 half up (half-even would give 0.50)
        ("100.30", "2.5", "2.51"),  # 2.5075 -> 2.51
        ("100.10", "2.5", "2.50"),  # 2.5025 -> 2.50
        ("0.10", "5", "0.01"),  # 0.005 -> 0.01
        ("10.00", "5", "0.50"),  # no minimum for ISS
    ],
)
def test_rounding_is_half_up_per_tax(gross, rate, iss):
    line = compute_taxes(D(gross), TaxRates(iss=D(rate), retain_iss=True), Regime.LUCRO_PRESUMIDO).line(Tax.ISS)
    assert str(line.amount) == iss and str(line.withheld_amount) == iss


def test_bad_inputs_are_refused():
    with pytest.raises(TypeError):
        TaxRates(iss=5.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TaxRates(iss=D("-1"))
    with pytest.raises(ValueError):
        TaxRates(cbs=D("100.01"))
    with pytest.raises(TypeError):
        TaxRates(retain_iss="S")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compute_taxes(D("-1.00"), TaxRates(), Regime.LUCRO_REAL)
    with pytest.raises(ValueError):
        compute_taxes(1000.0, TaxRates(), Regime.LUCRO_REAL)  # type: ignore[arg-type]
    assert compute_taxes(GROSS, TaxRates(), "lucro_real").regime is Regime.LUCRO_REAL  # type: ignore[arg-type]


PRESUMIDO_OK = TaxRates(
    iss=D("5"),
    pis=D("0.65"),
    cofins=D("3"),
    csll=D("1"),
    ir=D("1.5"),
    retain_iss=True,
    retain_pis=True,
    retain_cofins=True,
    retain_csll=True,
    retain_ir=True,
)
REAL_OK = TaxRates(iss=D("2"), pis=D("1.65"), cofins=D("7.6"), csll=D("1"), ir=D("1"), retain_ir=True)
SIMPLES_OK = TaxRates()
SIMPLES_ISS_WITHHELD = TaxRates(iss=D("2.01"), retain_iss=True, inss=D("11"), retain_inss=True)


def _rules(rates: TaxRates, regime: Regime) -> list[tuple[str, Tax]]:
    return [(problem.rule, problem.tax) for problem in check_rates(rates, regime)]


@pytest.mark.parametrize(
    ("rates", "regime", "rules"),
    [
        (PRESUMIDO_OK, Regime.LUCRO_PRESUMIDO, []),
        (REAL_OK, Regime.LUCRO_REAL, []),
        (SIMPLES_OK, Regime.SIMPLES_NACIONAL, []),
        (SIMPLES_ISS_WITHHELD, Regime.SIMPLES_NACIONAL, []),
        (TaxRates(iss=D("2"), pis=D("0.65"), cofins=D("3")), Regime.LUCRO_PRESUMIDO, []),  # edge: 2 % allowed
        (TaxRates(iss=D("1.99"), pis=D("0.65"), cofins=D("3")), Regime.LUCRO_PRESUMIDO, [("iss_range", Tax.ISS)]),
        (TaxRates(iss=D("5.01"), pis=D("0.65"), cofins=D("3")), Regime.LUCRO_PRESUMIDO, [("iss_range", Tax.ISS)]),
        (TaxRates(pis=D("0.65"), cofins=D("3")), Regime.LUCRO_PRESUMIDO, [("iss_range", Tax.ISS)]),
        (TaxRates(retain_iss=True), Regime.SIMPLES_NACIONAL, [("iss_range", Tax.ISS)]),
        (PRESUMIDO_OK, Regime.LUCRO_REAL, [("pis_cofins_regime", Tax.PIS), ("pis_cofins_regime", Tax.COFINS)]),
        (REAL_OK, Regime.LUCRO_PRESUMIDO, [("pis_cofins_regime", Tax.PIS), ("pis_cofins_regime", Tax.COFINS)]),
        (TaxRates(pis=D("0.65")), Regime.SIMPLES_NACIONAL, [("pis_cofins_regime", Tax.PIS)]),
        (TaxRates(ir=D("1.5"), retain_ir=True), Regime.SIMPLES_NACIONAL, [("simples_withholding", Tax.IR)]),
        (TaxRates(cbs=D("0.9")), Regime.SIMPLES_NACIONAL, [("simples_ibs_cbs", Tax.CBS)]),
        (
            TaxRates(iss=D("5"), pis=D("0.65"), cofins=D("3"), ir=D("2"), retain_ir=True),
            Regime.LUCRO_PRESUMIDO,
            [("irrf_rate", Tax.IR)],
        ),
        (
            TaxRates(
                iss=D("5"),
                pis=D("0.65"),
                cofins=D("3"),
                csll=D("2.88"),
                retain_pis=True,
                retain_cofins=True,
                retain_csll=True,
            ),
            Regime.LUCRO_PRESUMIDO,
            [("csll_rate", Tax.CSLL)],
        ),
        (
            TaxRates(iss=D("5"), pis=D("0.65"), cofins=D("3"), retain_pis=True),
            Regime.LUCRO_PRESUMIDO,
            [("csrf_together", Tax.PIS)],
        ),
        (TaxRates(inss=D("3.5"), retain_inss=True), Regime.SIMPLES_NACIONAL, [("inss_rate", Tax.INSS)]),
    ],
)
def test_check_rates(rates, regime, rules):
    assert _rules(rates, regime) == rules


def test_rate_problems_say_the_rule_in_plain_words():
    problems = check_rates(
        TaxRates(iss=D("1"), pis=D("1.65"), cofins=D("7.6"), ir=D("3"), retain_ir=True), Regime.LUCRO_PRESUMIDO
    )
    messages = {problem.tax: problem.message for problem in problems}
    assert messages[Tax.ISS] == "ISS is 1 %; municipalities charge from 2 % to 5 %"
    assert messages[Tax.PIS] == "PIS is 1.65 %, but under Lucro Presumido (cumulative) it is 0.65 %"
    assert messages[Tax.COFINS] == "COFINS is 7.6 %, but under Lucro Presumido (cumulative) it is 3 %"
    assert "1.5 % for professional services" in messages[Tax.IR]
