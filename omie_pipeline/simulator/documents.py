"""CPF and CNPJ (numeric and alphanumeric) as Omie checks them: normalise, validate, format, generate.

Omie validates documents itself, so the simulator carries its own small implementation of the
Receita's check-digit rules instead of trusting the caller.
"""

from __future__ import annotations

import random
import re
import string

_CNPJ_SHAPE = re.compile(r"^[0-9A-Z]{12}[0-9]{2}$")
_CPF_SHAPE = re.compile(r"^[0-9]{11}$")
_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def normalise(document: str) -> str:
    """Drop the punctuation Omie and people type (. / - spaces) and upper-case the rest."""
    return re.sub(r"[.\-/\s]", "", str(document)).upper()


def _check_digit(total: int) -> int:
    remainder = total % 11
    return 0 if remainder < 2 else 11 - remainder


def _cpf_digits(first_nine: str) -> str:
    values = [int(char) for char in first_nine]
    dv1 = _check_digit(sum(v * w for v, w in zip(values, range(10, 1, -1), strict=False)))
    dv2 = _check_digit(sum(v * w for v, w in zip(values + [dv1], range(11, 1, -1), strict=False)))
    return f"{dv1}{dv2}"


def _cnpj_digits(first_twelve: str) -> str:
    values = [ord(char) - 48 for char in first_twelve]
    dv1 = _check_digit(sum(v * w for v, w in zip(values, _CNPJ_WEIGHTS_1, strict=False)))
    dv2 = _check_digit(sum(v * w for v, w in zip(values + [dv1], _CNPJ_WEIGHTS_2, strict=False)))
    return f"{dv1}{dv2}"


def is_valid_cpf(document: str) -> bool:
    digits = normalise(document)
    if not _CPF_SHAPE.match(digits) or len(set(digits)) == 1:
        return False
    return _cpf_digits(digits[:9]) == digits[9:]


def is_valid_cnpj(document: str) -> bool:
    """Numeric and alphanumeric CNPJ (IN RFB 2.229/2024): characters valued ASCII code − 48.

    An all-zero root is real (Banco do Brasil is 00.000.000/0001-91); only twelve zeros before the
    check digits are refused.
    """
    value = normalise(document)
    if not _CNPJ_SHAPE.match(value) or set(value[:12]) == {"0"} or len(set(value)) == 1:
        return False
    return _cnpj_digits(value[:12]) == value[12:]


def is_valid(document: str) -> bool:
    """A CPF (11 positions) or a CNPJ (14 positions); the length after normalising tells which."""
    value = normalise(document)
    if len(value) == 11:
        return is_valid_cpf(value)
    if len(value) == 14:
        return is_valid_cnpj(value)
    return False


def is_cpf(document: str) -> bool:
    return len(normalise(document)) == 11


def formatted(document: str) -> str:
    """Omie's stored form: `000.000.000-00` or `00.000.000/0000-00` (letters kept upper-case)."""
    value = normalise(document)
    if len(value) == 11:
        return f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}"
    if len(value) == 14:
        return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"
    return str(document)


def generate_cpf(rng: random.Random) -> str:
    while True:
        first_nine = "".join(rng.choice(string.digits) for _ in range(9))
        if len(set(first_nine)) > 1:
            return first_nine + _cpf_digits(first_nine)


def generate_cnpj(rng: random.Random, alphanumeric: bool = False) -> str:
    """A valid CNPJ of a head office (order 0001); alphanumeric roots mix letters and digits."""
    alphabet = string.digits + string.ascii_uppercase if alphanumeric else string.digits
    while True:
        root = "".join(rng.choice(alphabet) for _ in range(8))
        if alphanumeric and root.isdigit():
            continue
        if set(root) == {"0"}:
            continue
        first_twelve = root + "0001"
        return first_twelve + _cnpj_digits(first_twelve)
