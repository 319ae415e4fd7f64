"""Money as Decimal: strict reading of amounts, rounding to the cent, display in reais.

Amounts come from CRMs whose exports mix Brazilian (`1.234,56`) and US (`1,234.56`) notation. A
guess can turn R$ 1.234,56 into R$ 1,23 and put a wrong figure on a tax document, so exactly one
notation is read -- digits with an optional dot before the decimals, no thousands separator -- and
every other one is an error that says how to write the amount. Floats are refused outright: they
cannot hold most cent values exactly.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from omie_pipeline.i18n import _

CENT = Decimal("0.01")

_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_BRAZILIAN_THOUSANDS = re.compile(r"-?[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?")


class MoneyFormatError(ValueError):
    """An amount that cannot be read; `reason` is a stable code, the message says how to fix it.

    Reasons: empty, float, bad_type, comma, thousands_separator, too_many_decimals, bad_format.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def to_decimal(value: str | Decimal | int, *, places: int = 2) -> Decimal:
    """Read an amount strictly; at most `places` decimals (more would be silently rounded later)."""
    if isinstance(value, (bool, float)):
        raise MoneyFormatError(
            "float", _("amounts must be text or Decimal, not {kind}").format(kind=type(value).__name__)
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        return _check_decimal(value, places)
    if not isinstance(value, str):  # a date or a list from a SQL source: this row's problem, not the batch's
        raise MoneyFormatError(
            "bad_type", _("amounts must be text or Decimal, not {kind}").format(kind=type(value).__name__)
        )
    text = value.strip()
    if not text:
        raise MoneyFormatError("empty", _("the amount is empty"))
    if _BRAZILIAN_THOUSANDS.fullmatch(text) and ("," in text or text.count(".") > 1):
        raise MoneyFormatError("thousands_separator", _("the amount uses Brazilian notation; {how}").format(how=_how()))
    if "," in text:
        raise MoneyFormatError("comma", _("the amount contains a comma; {how}").format(how=_how()))
    if not _PLAIN_NUMBER.fullmatch(text):
        raise MoneyFormatError("bad_format", _("the amount is not a plain number; {how}").format(how=_how()))
    decimals = text.partition(".")[2]
    if len(decimals) > places:
        raise MoneyFormatError(
            "too_many_decimals",
            _(
                "the amount has {count} decimals, at most {places} are allowed "
                "(a dot followed by three digits is often a thousands separator)"
            ).format(count=len(decimals), places=places),
        )
    return Decimal(text)


def _check_decimal(value: Decimal, places: int) -> Decimal:
    if not value.is_finite():
        raise MoneyFormatError("bad_format", _("the amount is not a finite number"))
    try:
        exact = value == value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:
        exact = False
    if not exact:
        raise MoneyFormatError(
            "too_many_decimals", _("the amount has more than {places} decimals").format(places=places)
        )
    return value


def _how() -> str:
    """How to write an amount, in the reader's language: the one notation read."""
    return _("write it with a dot before the decimals and no thousands separator, for example 1234.56")


def round_cents(value: Decimal) -> Decimal:
    """Round to the cent, half up (0.005 -> 0.01), as Brazilian invoicing software does."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_brl(value: Decimal) -> str:
    """`Decimal("1234.5")` -> `R$ 1.234,50`; negatives as `-R$ 1.234,50`."""
    if not isinstance(value, Decimal):
        raise TypeError(f"format_brl takes a Decimal, not {type(value).__name__}")
    cents = round_cents(value)
    sign = "-" if cents < 0 else ""
    whole, _point, fraction = f"{abs(cents):,.2f}".partition(".")
    return f"{sign}R$ {whole.replace(',', '.')},{fraction}"
