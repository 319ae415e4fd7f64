"""Decimal money as Omie handles it: rates in percent, values rounded to cents."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from omie_pipeline.simulator import errors

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(base: Decimal, rate: Decimal) -> Decimal:
    return cents(base * rate / Decimal(100))


def decimal_field(block: dict[str, Any], tag: str, default: Decimal | None = None) -> Decimal | None:
    """Read a numeric tag (JSON number or numeric string) as Decimal; a fault names a bad value."""
    raw = block.get(tag)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise errors.invalid_value(tag, raw, "valor numérico esperado")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise errors.invalid_value(tag, raw, "valor numérico esperado") from None
    if not value.is_finite():
        raise errors.invalid_value(tag, raw, "valor numérico esperado")
    return value


def int_field(block: dict[str, Any], tag: str, default: int | None = None) -> int | None:
    """Read an integer tag (JSON number or digit string); a fault names a bad value."""
    raw = block.get(tag)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise errors.invalid_value(tag, raw, "número inteiro esperado")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise errors.invalid_value(tag, raw, "número inteiro esperado") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise errors.invalid_value(tag, raw, "número inteiro esperado")
    return int(value)
