"""Strict amounts, rounding to the cent, and reais as people read them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omie_pipeline.domain.money import MoneyFormatError, format_brl, round_cents, to_decimal


@pytest.mark.parametrize(
    ("text", "value"),
    [("1234.56", "1234.56"), (" 1500 ", "1500"), ("0.5", "0.5"), ("-10.00", "-10.00"), ("007.10", "7.10")],
)
def test_plain_numbers_with_a_dot_are_read_exactly(text, value):
    assert to_decimal(text) == Decimal(value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1,234.5", "comma"),  # US thousands separator: refused, not guessed
        ("1234,56", "comma"),  # Brazilian decimal comma
        ("1.234,56", "thousands_separator"),
        ("1.234.567", "thousands_separator"),
        ("1.234", "too_many_decimals"),  # three decimals is more likely a thousands separator
        ("10.005", "too_many_decimals"),
        ("R$ 10.00", "bad_format"),
        ("1e3", "bad_format"),
        ("NaN", "bad_format"),
        ("Infinity", "bad_format"),
        (".50", "bad_format"),
        ("10.", "bad_format"),
        ("+10", "bad_format"),
        ("١٢٣", "bad_format"),  # non-ASCII digits
    ],
)
def test_everything_else_is_refused_with_a_reason(text, reason):
    with pytest.raises(MoneyFormatError) as caught:
        to_decimal(text)
    assert caught.value.reason == reason


def test_floats_are_refused_and_decimals_checked():
    with pytest.raises(MoneyFormatError) as caught:
        to_decimal(10.5)  # type: ignore[arg-type]
    assert caught.value.reason == "float"
    assert to_decimal(Decimal("10.50")) == Decimal("10.50")
    assert to_decimal(Decimal("10.500")) == Decimal("10.5")  # same value, two places suffice
    assert to_decimal(7) == Decimal(7)
    with pytest.raises(MoneyFormatError):
        to_decimal(Decimal("10.505"))
    with pytest.raises(MoneyFormatError):
        to_decimal(Decimal("NaN"))
    assert to_decimal("0.6525", places=4) == Decimal("0.6525")


@pytest.mark.parametrize("value", [datetime(2026, 11, 20, tzinfo=UTC), [1], None])
def test_a_value_of_another_type_is_refused_not_crashed_on(value):
    """A SQL source may hand over a date or worse as the amount: the row's problem, never the batch's."""
    with pytest.raises(MoneyFormatError) as caught:
        to_decimal(value)  # type: ignore[arg-type]
    assert caught.value.reason == "bad_type"


@pytest.mark.parametrize(
    ("value", "rounded"),
    [("10.005", "10.01"), ("10.0049", "10.00"), ("10.015", "10.02"), ("-10.005", "-10.01"), ("3", "3.00")],
)
def test_round_cents_half_up(value, rounded):
    assert str(round_cents(Decimal(value))) == rounded


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1234.56", "R$ 1.234,56"),
        ("1234.5", "R$ 1.234,50"),
        ("0", "R$ 0,00"),
        ("0.005", "R$ 0,01"),
        ("999", "R$ 999,00"),
        ("1234567.891", "R$ 1.234.567,89"),
        ("-1234.56", "-R$ 1.234,56"),
    ],
)
def test_format_brl(value, shown):
    assert format_brl(Decimal(value)) == shown


def test_format_brl_refuses_floats():
    with pytest.raises(TypeError):
        format_brl(1234.56)  # type: ignore[arg-type]
