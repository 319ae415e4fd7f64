"""CPF and CNPJ (numeric and alphanumeric): normalise, validate, format and mask.

A client is found in Omie by its document, so one rule for reading a document is the difference
between linking a deal to the right client and creating a duplicate. Documents arrive as typed in
the CRM (punctuation, lower case), so the rule is: drop only the separators people type, upper-case
ASCII letters, and refuse anything else instead of silently stripping it. A document is text, never
a number: CPFs and CNPJs start with zeros, and CNPJs may hold letters (IN RFB 2.229/2024).

Check digits (Receita): every character is worth its ASCII code minus 48 ("0".."9" -> 0..9,
"A" -> 17 ... "Z" -> 42); for each digit r = weighted sum mod 11, and the digit is 0 when r < 2,
else 11 - r. For CPFs, whose characters are all digits, this is the classic CPF rule.

CPF numbers are personal data (LGPD): messages never repeat them, and `masked` /
`mask_document` give the form fit for logs. CNPJs identify companies and are shown in full.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from omie_pipeline.i18n import _

DocumentKind = Literal["cpf", "cnpj"]

CPF_LENGTH = 11
CNPJ_LENGTH = 14

# What people type between the characters of a document. Word processors and some CRMs turn the
# hyphen into a typographic dash; those are separators too, not characters to refuse.
_SEPARATORS = re.compile(r"[./\-\u2010-\u2015\u2212\s]")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ALLOWED = re.compile(r"[0-9A-Z]*")
_CPF_SHAPE = re.compile(r"[0-9]{11}")
_CPF_FIRST_PART = re.compile(r"[0-9]{9}")
_CNPJ_SHAPE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")
_CHECKED_CHARACTER = re.compile(r"[0-9A-Z]")

_CPF_WEIGHTS_1 = tuple(range(10, 1, -1))
_CPF_WEIGHTS_2 = tuple(range(11, 1, -1))
_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


class InvalidDocumentError(ValueError):
    """A CPF/CNPJ that cannot be used; `reason` is a stable code, the message in the reader's language.

    Reasons: empty, bad_length, bad_characters, repeated_digits, zero_root, check_digits.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Document:
    """A valid CPF or CNPJ. Build it with `parse_document`, which is what checks it."""

    number: str
    kind: DocumentKind

    @property
    def is_person(self) -> bool:
        return self.kind == "cpf"

    @property
    def formatted(self) -> str:
        """`000.000.000-00` or `12.ABC.345/01DE-35`: the form Omie stores and people read."""
        return format_document(self.number)

    @property
    def masked(self) -> str:
        """What logs, alerts and reports may show: a CPF masked, a CNPJ in full."""
        if self.is_person:
            return _mask_cpf(self.number)
        return self.formatted

    def __str__(self) -> str:
        return self.masked


def normalise_document(raw: str) -> str:
    """Drop `.` `/` `-` (and typographic dashes) and whitespace, upper-case ASCII letters.

    Every other character is kept, so that `parse_document` can refuse it: stripping "non-digits"
    would turn an alphanumeric CNPJ or a typo into a different, possibly valid, number.
    Only ASCII letters are upper-cased: `str.upper` would turn "ß" into "SS" and change the length.
    """
    return _SEPARATORS.sub("", raw).translate(_ASCII_UPPER)


def _check_digit(values: list[int], weights: tuple[int, ...]) -> int:
    remainder = sum(value * weight for value, weight in zip(values, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def _character_values(characters: str) -> list[int]:
    for character in characters:
        if not _CHECKED_CHARACTER.fullmatch(character):
            raise ValueError(f"{character!r} is not a digit or an upper-case letter A-Z")
    return [ord(character) - 48 for character in characters]


def cpf_check_digits(first_nine: str) -> str:
    """The two check digits of a CPF from its first 9 digits (weights 10..2, then 11..2)."""
    if not _CPF_FIRST_PART.fullmatch(first_nine):
        raise ValueError("a CPF's first part is 9 digits")
    values = _character_values(first_nine)
    first = _check_digit(values, _CPF_WEIGHTS_1)
    second = _check_digit(values + [first], _CPF_WEIGHTS_2)
    return f"{first}{second}"


def cnpj_check_digits(first_twelve: str) -> str:
    """The two check digits of a CNPJ from its first 12 characters (digits or A-Z).

    >>> cnpj_check_digits("12ABC34501DE")
    '35'
    """
    if len(first_twelve) != 12:
        raise ValueError("a CNPJ's first part is 12 characters")
    values = _character_values(first_twelve)
    first = _check_digit(values, _CNPJ_WEIGHTS_1)
    second = _check_digit(values + [first], _CNPJ_WEIGHTS_2)
    return f"{first}{second}"


def parse_document(raw: str | None) -> Document:
    """Read a CPF or CNPJ as typed; the length after normalising (11 or 14) tells which.

    Raises InvalidDocumentError naming what is wrong, without repeating the number.
    """
    number = normalise_document(raw or "")
    if not number:
        raise InvalidDocumentError("empty", _("the document (CPF or CNPJ) is empty"))
    if not _ALLOWED.fullmatch(number):
        shown = ", ".join(repr(c) for c in sorted(set(_ALLOWED.sub("", number))))
        raise InvalidDocumentError(
            "bad_characters",
            _(
                "the document contains {characters}; a CPF or CNPJ holds only digits and letters A-Z, with . / - as "
                "separators"
            ).format(characters=shown),
        )
    if len(number) == CPF_LENGTH:
        return _parse_cpf(number)
    if len(number) == CNPJ_LENGTH:
        return _parse_cnpj(number)
    raise InvalidDocumentError(
        "bad_length",
        _(
            "the document has {length} characters without separators; a CPF has {cpf_length} digits and a CNPJ "
            "{cnpj_length} characters"
        ).format(length=len(number), cpf_length=CPF_LENGTH, cnpj_length=CNPJ_LENGTH),
    )


def _parse_cpf(number: str) -> Document:
    if not _CPF_SHAPE.fullmatch(number):
        raise InvalidDocumentError(
            "bad_characters", _("the document has 11 characters, like a CPF, but a CPF holds only digits")
        )
    if len(set(number)) == 1:
        raise InvalidDocumentError(
            "repeated_digits", _("the CPF is one digit repeated 11 times, which the Receita never issues")
        )
    if cpf_check_digits(number[:9]) != number[9:]:
        raise InvalidDocumentError(
            "check_digits", _("the CPF's check digits do not match the rest of the number: it was probably mistyped")
        )
    return Document(number=number, kind="cpf")


def _parse_cnpj(number: str) -> Document:
    if not _CNPJ_SHAPE.fullmatch(number):
        raise InvalidDocumentError(
            "bad_characters",
            _("the document has 14 characters, like a CNPJ, but its last two (the check digits) must be digits"),
        )
    # Only an all-zero root *and* branch is impossible: branch numbers start at 0001, while the
    # all-zero root itself is real (Banco do Brasil is 00.000.000/0001-91).
    if number[:12] == "0" * 12:
        raise InvalidDocumentError("zero_root", _("the CNPJ's root and branch number are all zeros"))
    if cnpj_check_digits(number[:12]) != number[12:]:
        raise InvalidDocumentError(
            "check_digits",
            _("the CNPJ's check digits do not match the rest of the number: it was probably mistyped"),
        )
    return Document(number=number, kind="cnpj")


def kinds_of_valid(numbers: Sequence[str]) -> list[DocumentKind | None]:
    """For many normalised numbers at once (`normalise_document`'s output), the kind of each one
    `parse_document` accepts, None for any it refuses.

    The same rules as `_parse_cpf` and `_parse_cnpj`, computed over arrays: a pull reads tens of
    thousands of documents, and one at a time they cost more than the rest of a deal's checks.
    """
    kinds: list[DocumentKind | None] = [None] * len(numbers)
    for length, kind, first, second, impossible in (
        (CPF_LENGTH, "cpf", _CPF_WEIGHTS_1, _CPF_WEIGHTS_2, _repeated_digit),
        (CNPJ_LENGTH, "cnpj", _CNPJ_WEIGHTS_1, _CNPJ_WEIGHTS_2, _zero_root),
    ):
        shaped = _CPF_SHAPE if kind == "cpf" else _CNPJ_SHAPE
        at = [position for position, number in enumerate(numbers) if len(number) == length and shaped.fullmatch(number)]
        if not at:
            continue
        text = "".join(numbers[position] for position in at).encode("ascii")
        values = np.frombuffer(text, dtype=np.uint8).reshape(len(at), length).astype(np.int64) - 48
        body = values[:, : length - 2]
        digit_1 = _check_digits(body, first)
        digit_2 = _check_digits(np.column_stack([body, digit_1]), second)
        right = (digit_1 == values[:, -2]) & (digit_2 == values[:, -1]) & ~impossible(values)
        for position, valid in zip(at, right.tolist(), strict=True):
            if valid:
                kinds[position] = kind
    return kinds


def _check_digits(values: np.ndarray, weights: tuple[int, ...]) -> np.ndarray:
    remainder = (values @ np.array(weights, dtype=np.int64)) % 11
    return np.where(remainder < 2, 0, 11 - remainder)


def _repeated_digit(values: np.ndarray) -> np.ndarray:
    return (values == values[:, :1]).all(axis=1)


def _zero_root(values: np.ndarray) -> np.ndarray:
    return (values[:, :12] == 0).all(axis=1)


def format_document(number: str) -> str:
    """Punctuate a normalised 11- or 14-character document; anything else comes back unchanged."""
    if len(number) == CPF_LENGTH:
        return f"{number[:3]}.{number[3:6]}.{number[6:9]}-{number[9:]}"
    if len(number) == CNPJ_LENGTH:
        return f"{number[:2]}.{number[2:5]}.{number[5:8]}/{number[8:12]}-{number[12:]}"
    return number


def _mask_cpf(number: str) -> str:
    return f"***.{number[3:6]}.{number[6:9]}-**"


def mask_document(raw: str | None) -> str:
    """A form of any typed document that is safe to log, valid or not.

    A valid CNPJ is company data and comes back formatted. Anything shaped like a CPF (11 digits)
    is masked as `***.456.789-**`. Anything else keeps at most a middle part (no more than 6
    characters and never more than half) and stars the rest, because an unreadable value may still
    be a CPF with a typo.
    """
    number = normalise_document(raw or "")
    if not number:
        return ""
    if len(number) == CNPJ_LENGTH:
        try:
            return parse_document(number).formatted
        except InvalidDocumentError:
            pass
    if _CPF_SHAPE.fullmatch(number):
        return _mask_cpf(number)
    shown = min(6, len(number) // 2) if len(number) > 4 else 0
    start = (len(number) - shown) // 2
    return "*" * start + number[start : start + shown] + "*" * (len(number) - start - shown)


def mask_documents(raws: Sequence[str | None]) -> list[str]:
    """`mask_document` of each of many documents: the 14-character ones checked as CNPJs all at once
    (`kinds_of_valid`), since one at a time the check costs most of masking a report's 30,000 clients."""
    numbers = [normalise_document(raw or "") for raw in raws]
    cnpjs = [position for position, number in enumerate(numbers) if len(number) == CNPJ_LENGTH]
    kinds = kinds_of_valid([numbers[position] for position in cnpjs])
    valid = {position for position, kind in zip(cnpjs, kinds, strict=True) if kind}
    return [
        format_document(number) if position in valid else mask_document(number)
        for position, number in enumerate(numbers)
    ]
