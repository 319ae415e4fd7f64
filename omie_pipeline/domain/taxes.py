"""The taxes on one service note, by the issuer's regime: amounts, withholdings, net receivable.

This is the one place these rules live; the invoice step, the report and the simulator all call it.

Rules (Brazil, 2026):
- Rates are percentages (Decimal("5") = 5 %), as Omie stores them. Each tax is rounded to the cent
  on its own, half up, as Brazilian invoicing software does; totals are sums of rounded taxes.
- Lucro Presumido / Real: every tax is shown at its rate. Withholding (by the paying company) is
  per flag: ISS at its rate; IRRF at its rate, but not when it would be R$ 10.00 or less;
  PIS/COFINS/CSLL (CSRF) at the legal 0.65 % / 3 % / 1 % whatever the issuer's own PIS/COFINS
  rates (a Lucro Real issuer shows 1.65 % / 7.6 % but suffers 0.65 % / 3 %), and not at all when
  together they would be R$ 10.00 or less; INSS at its rate (11 %) for labour assignment.
- Simples Nacional: own PIS, COFINS, IR and CSLL are paid inside the DAS (zero on the note) and
  never withheld, whatever the flags; ISS appears only when withheld, at the company's Simples ISS
  rate; INSS is withheld only when flagged.
- IBS/CBS (2026 test year): shown for regime-normal issuers, never withheld nor subtracted; zero
  under Simples Nacional.
- Net receivable = gross - every withholding.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum

from omie_pipeline.domain.money import round_cents
from omie_pipeline.i18n import N_, _, format_number

ZERO = Decimal("0.00")
NO_RATE = Decimal("0")  # the rate of a tax that is not on the note at all
MINIMUM_WITHHOLDING = Decimal("10.00")  # IRRF and CSRF of this much or less are not withheld


class Regime(StrEnum):
    SIMPLES_NACIONAL = "simples_nacional"
    LUCRO_PRESUMIDO = "lucro_presumido"
    LUCRO_REAL = "lucro_real"


REGIME_NAMES = {
    "simples nacional": Regime.SIMPLES_NACIONAL,
    "lucro presumido": Regime.LUCRO_PRESUMIDO,
    "lucro real": Regime.LUCRO_REAL,
}


def regime_from_name(text: str) -> Regime | None:
    """The regime a name stands for, however written ("Lucro Presumido", "LUCRO_REAL", "Lucro-Real"),
    or None: a code such as "3" is not a name."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return REGIME_NAMES.get(" ".join(folded.replace("_", " ").replace("-", " ").split()))


class Tax(StrEnum):
    ISS = "iss"
    PIS = "pis"
    COFINS = "cofins"
    CSLL = "csll"
    IR = "ir"
    INSS = "inss"
    IBS_UF = "ibs_uf"
    IBS_MUN = "ibs_mun"
    CBS = "cbs"

    @property
    def label(self) -> str:
        """The name people read, in their language: IBS_UF -> "IBS (state)"."""
        label = _LABELS.get(self.name)
        return _(label) if label else self.name


_LABELS = {"IBS_UF": N_("IBS (state)"), "IBS_MUN": N_("IBS (city)")}


WITHHOLDABLE_TAXES = (Tax.ISS, Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR, Tax.INSS)
CSRF_TAXES = (Tax.PIS, Tax.COFINS, Tax.CSLL)
# Lei 10.833/2003 art. 30-31: the CSRF withheld by the paying company, 4.65 % in all.
CSRF_WITHHOLDING_RATES = {Tax.PIS: Decimal("0.65"), Tax.COFINS: Decimal("3"), Tax.CSLL: Decimal("1")}
# Own PIS / COFINS rates by regime (Presumido cumulative, Real non-cumulative, Simples inside the DAS).
REGIME_PIS_COFINS = {
    Regime.LUCRO_PRESUMIDO: (Decimal("0.65"), Decimal("3")),
    Regime.LUCRO_REAL: (Decimal("1.65"), Decimal("7.6")),
    Regime.SIMPLES_NACIONAL: (Decimal("0"), Decimal("0")),
}
ISS_MIN_RATE = Decimal("2")
ISS_MAX_RATE = Decimal("5")
IRRF_RATES = frozenset({Decimal("1"), Decimal("1.5")})
INSS_RATE = Decimal("11")
_HUNDRED = Decimal("100")


@dataclass(frozen=True)
class TaxRates:
    """One service's rates (percentages) and which taxes the paying company withholds."""

    iss: Decimal = Decimal("0")
    pis: Decimal = Decimal("0")
    cofins: Decimal = Decimal("0")
    csll: Decimal = Decimal("0")
    ir: Decimal = Decimal("0")
    inss: Decimal = Decimal("0")
    ibs_uf: Decimal = Decimal("0")
    ibs_mun: Decimal = Decimal("0")
    cbs: Decimal = Decimal("0")
    retain_iss: bool = False
    retain_pis: bool = False
    retain_cofins: bool = False
    retain_csll: bool = False
    retain_ir: bool = False
    retain_inss: bool = False

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name.startswith("retain_"):
                if not isinstance(value, bool):
                    raise TypeError(f"{field.name} must be True or False")
            elif not isinstance(value, Decimal) or not value.is_finite():
                raise TypeError(f"the {field.name} rate must be a Decimal percentage, not {type(value).__name__}")
            elif not Decimal(0) <= value <= _HUNDRED:
                raise ValueError(f"the {field.name} rate must be between 0 and 100 (a percentage)")

    def rate(self, tax: Tax) -> Decimal:
        return getattr(self, tax.value)

    def retains(self, tax: Tax) -> bool:
        return tax in WITHHOLDABLE_TAXES and getattr(self, f"retain_{tax.value}")


@dataclass(frozen=True)
class TaxLine:
    """One tax on the note. `amount` is the tax shown; `withheld_amount` what the payer keeps back."""

    tax: Tax
    rate: Decimal
    amount: Decimal
    withheld: bool
    withheld_rate: Decimal
    withheld_amount: Decimal
    note: str  # why a tax is zero or not withheld; empty when there is nothing to explain


@dataclass(frozen=True)
class TaxBreakdown:
    gross: Decimal
    regime: Regime
    lines: tuple[TaxLine, ...]  # one per Tax, in Tax order

    def line(self, tax: Tax) -> TaxLine:
        return next(line for line in self.lines if line.tax == tax)

    def amount(self, tax: Tax) -> Decimal:
        return self.line(tax).amount

    def withheld_amount(self, tax: Tax) -> Decimal:
        return self.line(tax).withheld_amount

    @property
    def total_withheld(self) -> Decimal:
        return sum((line.withheld_amount for line in self.lines), ZERO)

    @property
    def ibs(self) -> Decimal:
        return self.amount(Tax.IBS_UF) + self.amount(Tax.IBS_MUN)

    @property
    def net_receivable(self) -> Decimal:
        return self.gross - self.total_withheld


def _percent_of(gross: Decimal, rate: Decimal) -> Decimal:
    return round_cents(gross * rate / _HUNDRED)


def _line(
    tax: Tax,
    rate: Decimal,
    amount: Decimal,
    withheld_rate: Decimal | None = None,
    withheld_amount: Decimal | None = None,
    note: str = "",
) -> TaxLine:
    withheld = withheld_amount is not None
    return TaxLine(
        tax=tax,
        rate=rate,
        amount=amount,
        withheld=withheld,
        withheld_rate=withheld_rate if withheld and withheld_rate is not None else NO_RATE,
        withheld_amount=withheld_amount if withheld_amount is not None else ZERO,
        note=note,
    )


def compute_taxes(gross: Decimal, rates: TaxRates, regime: Regime) -> TaxBreakdown:
    """Every tax of a note of `gross` reais under `regime`, with what is withheld and the net."""
    if not isinstance(gross, Decimal) or not gross.is_finite() or gross < 0:
        raise ValueError("the gross amount must be a Decimal of zero or more")
    regime = Regime(regime)
    lines = _simples_lines(gross, rates) if regime is Regime.SIMPLES_NACIONAL else _regular_lines(gross, rates)
    return TaxBreakdown(gross=gross, regime=regime, lines=tuple(lines[tax] for tax in Tax))


def _iss_and_inss(gross: Decimal, rates: TaxRates, simples: bool) -> dict[Tax, TaxLine]:
    lines = {}
    for tax in (Tax.ISS, Tax.INSS):
        rate = rates.rate(tax)
        amount = _percent_of(gross, rate)
        if rates.retains(tax):
            lines[tax] = _line(tax, rate, amount, rate, amount)
        elif tax is Tax.ISS and simples:
            lines[tax] = _line(tax, NO_RATE, ZERO, note="paid inside the DAS (Simples Nacional)")
        else:
            lines[tax] = _line(tax, rate, amount)
    return lines


def _simples_lines(gross: Decimal, rates: TaxRates) -> dict[Tax, TaxLine]:
    lines = _iss_and_inss(gross, rates, simples=True)
    for tax in (Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR):
        lines[tax] = _line(
            tax,
            NO_RATE,
            ZERO,
            note="paid inside the DAS; Simples Nacional providers suffer no IRRF or CSRF withholding",
        )
    for tax in (Tax.IBS_UF, Tax.IBS_MUN, Tax.CBS):
        lines[tax] = _line(tax, NO_RATE, ZERO, note="Simples Nacional issuers are outside IBS/CBS in 2026")
    return lines


def _regular_lines(gross: Decimal, rates: TaxRates) -> dict[Tax, TaxLine]:
    lines = _iss_and_inss(gross, rates, simples=False)

    ir_amount = _percent_of(gross, rates.ir)
    if not rates.retain_ir:
        lines[Tax.IR] = _line(Tax.IR, rates.ir, ir_amount)
    elif ir_amount <= MINIMUM_WITHHOLDING:
        lines[Tax.IR] = _line(Tax.IR, rates.ir, ir_amount, note="IRRF of R$ 10.00 or less is not withheld")
    else:
        lines[Tax.IR] = _line(Tax.IR, rates.ir, ir_amount, rates.ir, ir_amount)

    csrf = {tax: _percent_of(gross, CSRF_WITHHOLDING_RATES[tax]) for tax in CSRF_TAXES if rates.retains(tax)}
    csrf_below_minimum = sum(csrf.values(), ZERO) <= MINIMUM_WITHHOLDING
    for tax in CSRF_TAXES:
        rate = rates.rate(tax)
        amount = _percent_of(gross, rate)
        if tax not in csrf:
            lines[tax] = _line(tax, rate, amount)
        elif csrf_below_minimum:
            lines[tax] = _line(
                tax, rate, amount, note="PIS, COFINS and CSLL withheld of R$ 10.00 or less in all are not withheld"
            )
        else:
            lines[tax] = _line(tax, rate, amount, CSRF_WITHHOLDING_RATES[tax], csrf[tax])

    for tax in (Tax.IBS_UF, Tax.IBS_MUN, Tax.CBS):
        rate = rates.rate(tax)
        lines[tax] = _line(tax, rate, _percent_of(gross, rate), note="informational in 2026: not withheld nor paid")
    return lines


@dataclass(frozen=True)
class RateProblem:
    """A rate that breaks a rule; `rule` is a stable code, `message` names the rule in plain words."""

    rule: str
    tax: Tax
    message: str


def check_rates(rates: TaxRates, regime: Regime) -> list[RateProblem]:
    """Every way `rates` disagree with the rules for `regime` (empty when they are consistent)."""
    regime = Regime(regime)
    problems: list[RateProblem] = []
    simples = regime is Regime.SIMPLES_NACIONAL

    if (not simples or rates.retain_iss or rates.iss) and not ISS_MIN_RATE <= rates.iss <= ISS_MAX_RATE:
        problems.append(
            RateProblem(
                "iss_range",
                Tax.ISS,
                _("ISS is {rate} %; municipalities charge from 2 % to 5 %").format(rate=format_number(rates.iss)),
            )
        )

    own_pis, own_cofins = REGIME_PIS_COFINS[regime]
    for tax, expected in ((Tax.PIS, own_pis), (Tax.COFINS, own_cofins)):
        if rates.rate(tax) != expected:
            problems.append(RateProblem("pis_cofins_regime", tax, _regime_message(tax, rates.rate(tax), regime)))

    if simples:
        for tax in (Tax.PIS, Tax.COFINS, Tax.CSLL, Tax.IR):
            if rates.retains(tax):
                problems.append(
                    RateProblem(
                        "simples_withholding",
                        tax,
                        _(
                            "{tax} is marked as withheld, but Simples Nacional providers suffer no IRRF or CSRF "
                            "withholding"
                        ).format(tax=tax.label),
                    )
                )
        for tax in (Tax.IBS_UF, Tax.IBS_MUN, Tax.CBS):
            if rates.rate(tax):
                problems.append(
                    RateProblem(
                        "simples_ibs_cbs",
                        tax,
                        _("{tax} is {rate} %, but Simples Nacional issuers are outside IBS/CBS in 2026").format(
                            tax=tax.label, rate=format_number(rates.rate(tax))
                        ),
                    )
                )
    else:
        problems.extend(_withholding_problems(rates))

    if rates.retain_inss and rates.inss != INSS_RATE:
        problems.append(
            RateProblem(
                "inss_rate",
                Tax.INSS,
                _("INSS withheld is {rate} %; on labour assignment or contract work it is 11 % of the note").format(
                    rate=format_number(rates.inss)
                ),
            )
        )
    return problems


def _regime_message(tax: Tax, rate: Decimal, regime: Regime) -> str:
    if regime is Regime.SIMPLES_NACIONAL:
        return _("{tax} is {rate} %, but under Simples Nacional it is paid inside the DAS and is 0 on the note").format(
            tax=tax.label, rate=format_number(rate)
        )
    expected = REGIME_PIS_COFINS[regime][0 if tax is Tax.PIS else 1]
    if regime is Regime.LUCRO_PRESUMIDO:
        template = _("{tax} is {rate} %, but under Lucro Presumido (cumulative) it is {expected} %")
    else:
        template = _("{tax} is {rate} %, but under Lucro Real (non-cumulative) it is {expected} %")
    return template.format(tax=tax.label, rate=format_number(rate), expected=format_number(expected))


def _withholding_problems(rates: TaxRates) -> list[RateProblem]:
    problems = []
    if rates.retain_ir and rates.ir not in IRRF_RATES:
        problems.append(
            RateProblem(
                "irrf_rate",
                Tax.IR,
                _(
                    "IRRF is {rate} %; it is 1.5 % for professional services and 1 % for cleaning, security and "
                    "labour hire"
                ).format(rate=format_number(rates.ir)),
            )
        )
    if rates.retain_csll and rates.csll != CSRF_WITHHOLDING_RATES[Tax.CSLL]:
        problems.append(
            RateProblem(
                "csll_rate",
                Tax.CSLL,
                _("CSLL is {rate} %; the CSLL withheld at source is 1 %").format(rate=format_number(rates.csll)),
            )
        )
    flagged = [tax for tax in CSRF_TAXES if rates.retains(tax)]
    if flagged and len(flagged) < len(CSRF_TAXES):
        missing = ", ".join(tax.label for tax in CSRF_TAXES if tax not in flagged)
        problems.append(
            RateProblem(
                "csrf_together",
                flagged[0],
                _(
                    "PIS, COFINS and CSLL are withheld together (CSRF, 4.65 %), but {missing} is not marked as withheld"
                ).format(missing=missing),
            )
        )
    return problems
