"""Brazilian address and contact parts as Omie and the prefeituras need them: UF, CEP, IBGE, phone.

A note is rejected when the borrower's city does not match its state or CEP, so these are checked
when a deal is read, where the CRM can still be corrected, not when the prefeitura answers.
"""

from __future__ import annotations

import re

from omie_pipeline.i18n import _

# IBGE's two-digit code of each state: the first two digits of every municipality code in it.
UF_IBGE_CODES: dict[str, str] = {
    "RO": "11",
    "AC": "12",
    "AM": "13",
    "RR": "14",
    "PA": "15",
    "AP": "16",
    "TO": "17",
    "MA": "21",
    "PI": "22",
    "CE": "23",
    "RN": "24",
    "PB": "25",
    "PE": "26",
    "AL": "27",
    "SE": "28",
    "BA": "29",
    "MG": "31",
    "ES": "32",
    "RJ": "33",
    "SP": "35",
    "PR": "41",
    "SC": "42",
    "RS": "43",
    "MS": "50",
    "MT": "51",
    "GO": "52",
    "DF": "53",
}
UFS = frozenset(UF_IBGE_CODES)

_ZIP_SEPARATORS = re.compile(r"[-.\s]")
_EIGHT_DIGITS = re.compile(r"[0-9]{8}")
_SEVEN_DIGITS = re.compile(r"[0-9]{7}")
_PHONE_CHARACTERS = re.compile(r"[0-9()+\-.\s]+")
_NON_DIGIT = re.compile(r"[^0-9]")


class AddressError(ValueError):
    """An address or contact part that cannot be used; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def normalise_state(text: str) -> str:
    """A UF code, upper-cased (`sp` -> `SP`); anything but the 27 codes is refused."""
    state = text.strip().upper()
    if state not in UFS:
        raise AddressError("bad_state", _("the state is not one of the 27 two-letter codes (UF), such as SP or RJ"))
    return state


def normalise_zip(text: str) -> str:
    """A CEP as its 8 digits (`01310-100` -> `01310100`)."""
    digits = _ZIP_SEPARATORS.sub("", text)
    if not _EIGHT_DIGITS.fullmatch(digits) or digits == "0" * 8:
        raise AddressError("bad_zip", _("the CEP must be 8 digits, written as 01310-100 or 01310100"))
    return digits


def check_ibge_code(text: str) -> str:
    """A 7-digit IBGE municipality code whose first two digits are a state's code."""
    code = text.strip()
    if not _SEVEN_DIGITS.fullmatch(code) or code[:2] not in UF_IBGE_CODES.values():
        raise AddressError(
            "bad_ibge_code",
            _("the IBGE city code must be 7 digits starting with a state's code (3550308 is São Paulo)"),
        )
    return code


def ibge_code_matches_state(ibge_code: str, state: str) -> bool:
    return UF_IBGE_CODES.get(state) == ibge_code[:2]


def phone_parts(phone: str) -> tuple[str, str]:
    """Split a Brazilian phone into (DDD, number), as Omie's telefone1_ddd / telefone1_numero.

    Accepts the usual ways of writing one: `(11) 98765-4321`, `+55 11 3265-4321`, `011 3265 4321`.
    The number is 8 digits (landline) or 9 digits starting with 9 (mobile).
    """
    if not _PHONE_CHARACTERS.fullmatch(phone.strip()):
        raise AddressError("bad_phone", _("the phone holds characters other than digits, spaces and ( ) + - ."))
    digits = _NON_DIGIT.sub("", phone)
    if phone.strip().startswith("+"):
        if not digits.startswith("55"):
            raise AddressError("bad_phone", _("the phone is not a Brazilian number (country code 55)"))
        digits = digits[2:]
    elif digits.startswith("0"):
        digits = digits[1:]  # the long-distance prefix, as in 011
    elif len(digits) in (12, 13) and digits.startswith("55"):
        digits = digits[2:]  # the country code written without +
    ddd, number = digits[:2], digits[2:]
    if len(digits) not in (10, 11) or "0" in ddd:
        raise AddressError("bad_phone", _("the phone must be a two-digit area code (DDD) and an 8- or 9-digit number"))
    if len(number) == 9 and not number.startswith("9"):
        raise AddressError("bad_phone", _("a 9-digit phone number is a mobile number and starts with 9"))
    return ddd, number
