"""Our CPF/CNPJ rule against two independent implementations, on generated documents.

python-stdnum (`stdnum.br.cpf`, `stdnum.br.cnpj`) and validate-docbr 2.0.1 both implement the
Receita's rules, including the alphanumeric CNPJ. Valid documents are generated with stdnum's check
digits (not ours), then corrupted the ways people mistype: one character changed, two neighbours
swapped, wrong check digits. Each is presented bare, punctuated, and punctuated in lower case.

Known, deliberate differences, kept out of the generated set and tested on their own:
- stdnum accepts CPFs of one repeated digit (111.111.111-11); we and validate-docbr refuse them.
- validate-docbr pads short CPFs with leading zeros; we refuse a wrong length (a missing digit is a
  typo, not a zero).
"""

from __future__ import annotations

import random
import string
from collections import Counter

import pytest
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf
from validate_docbr import CNPJ as DocbrCNPJ
from validate_docbr import CPF as DocbrCPF

from omie_pipeline.domain.documents import (
    InvalidDocumentError,
    cnpj_check_digits,
    cpf_check_digits,
    format_document,
    parse_document,
)

SEED = 20_261_126
PER_KIND = 2_000  # valid documents per kind; each also yields one corrupted document
ALPHANUMERIC = string.digits + string.ascii_uppercase

docbr_cpf = DocbrCPF()
docbr_cnpj = DocbrCNPJ()


def _stdnum_cpf_digits(first_nine: str) -> str:
    return stdnum_cpf._calc_check_digits(first_nine + "00")


def _valid_cpf(rng: random.Random) -> str:
    while True:
        first_nine = "".join(rng.choice(string.digits) for _ in range(9))
        if len(set(first_nine)) > 1:
            return first_nine + _stdnum_cpf_digits(first_nine)


def _valid_cnpj(rng: random.Random, alphabet: str) -> str:
    while True:
        first_twelve = "".join(rng.choice(alphabet) for _ in range(12))
        if first_twelve != "0" * 12:
            return first_twelve + stdnum_cnpj.calc_check_digits(first_twelve)


def _corrupt(rng: random.Random, number: str, alphabet: str) -> tuple[str, str]:
    """One mistake, chosen at random: a changed character, a swap, or wrong check digits."""
    how = rng.choice(["change", "swap", "check_digits"])
    if how == "change":
        position = rng.randrange(len(number))
        pool = alphabet if position < len(number) - 2 else string.digits
        if rng.random() < 0.05:
            pool = string.ascii_uppercase  # a letter where it may not be
        replacement = rng.choice([c for c in pool if c != number[position]])
        return number[:position] + replacement + number[position + 1 :], how
    if how == "swap":
        candidates = [i for i in range(len(number) - 1) if number[i] != number[i + 1]]
        position = rng.choice(candidates)
        swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
        return swapped, how
    wrong = number[-2:]
    while wrong == number[-2:]:
        wrong = f"{rng.randrange(100):02d}"
    return number[:-2] + wrong, how


def _generated() -> list[tuple[str, str, str]]:
    """(kind, how, number) for valid and corrupted numeric CPFs, numeric and alphanumeric CNPJs."""
    rng = random.Random(SEED)
    cases = []
    for kind, make, alphabet in (
        ("cpf", lambda: _valid_cpf(rng), string.digits),
        ("cnpj", lambda: _valid_cnpj(rng, string.digits), string.digits),
        ("cnpj-alphanumeric", lambda: _valid_cnpj(rng, ALPHANUMERIC), ALPHANUMERIC),
    ):
        for _ in range(PER_KIND):
            number = make()
            cases.append((kind, "valid", number))
            corrupted, how = _corrupt(rng, number, alphabet)
            cases.append((kind, how, corrupted))
    return cases


CASES = _generated()


def _ours(raw: str) -> bool:
    try:
        parse_document(raw)
    except InvalidDocumentError:
        return False
    return True


def _stdnum(raw: str, length: int) -> bool:
    return (stdnum_cpf if length == 11 else stdnum_cnpj).is_valid(raw)


def _docbr(raw: str, length: int) -> bool:
    return (docbr_cpf if length == 11 else docbr_cnpj).validate(raw)


def _presentations(number: str) -> list[str]:
    formatted = format_document(number)
    return [number, formatted, formatted.lower()]


def test_the_generated_set_is_large_and_mixed():
    counts = Counter((kind, how == "valid") for kind, how, _ in CASES)
    assert len(CASES) * 3 >= 10_000  # each case is checked in three presentations
    assert all(
        counts[(kind, valid)] == PER_KIND for kind in ("cpf", "cnpj", "cnpj-alphanumeric") for valid in (True, False)
    )
    assert sum(1 for kind, _, number in CASES if kind == "cnpj-alphanumeric" and not number[:12].isdigit()) > PER_KIND


def test_all_three_implementations_agree_on_every_generated_document():
    disagreements = []
    for kind, how, number in CASES:
        for raw in _presentations(number):
            verdicts = (_ours(raw), _stdnum(raw, len(number)), _docbr(raw, len(number)))
            if len(set(verdicts)) != 1:
                disagreements.append((kind, how, raw, verdicts))
    assert disagreements == []


def test_generated_valid_documents_are_valid_and_corruptions_mostly_caught():
    caught = Counter()
    for kind, how, number in CASES:
        valid = _ours(number)
        if how == "valid":
            assert valid, (kind, number)
            assert parse_document(format_document(number).lower()).number == number
        else:
            caught[(kind, how == "check_digits", valid)] += 1
    for kind in ("cpf", "cnpj", "cnpj-alphanumeric"):
        assert caught[(kind, True, True)] == 0, f"{kind}: a wrong pair of check digits was accepted"
    # Mod-11 digits miss a few typos: remainders 0 and 1 share the digit 0, and in the alphanumeric
    # CNPJ characters whose values differ by 11 (A and L, 1 and M ...) weigh the same. With this seed
    # at most 0.4 % of numeric and about 7 % of alphanumeric changed or swapped characters slip through, in
    # every implementation alike (the agreement test above).
    for kind, least_caught in (("cpf", 0.99), ("cnpj", 0.99), ("cnpj-alphanumeric", 0.90)):
        typos = caught[(kind, False, False)] + caught[(kind, False, True)]
        assert caught[(kind, False, False)] >= least_caught * typos, kind


def test_check_digits_match_stdnum_on_every_generated_base():
    for kind, how, number in CASES:
        if how != "valid":
            continue
        if kind == "cpf":
            assert cpf_check_digits(number[:9]) == _stdnum_cpf_digits(number[:9])
        else:
            assert cnpj_check_digits(number[:12]) == stdnum_cnpj.calc_check_digits(number[:12])


def test_refusals_of_generated_mistakes_name_a_character_or_check_digit_problem():
    reasons = Counter()
    for _, how, number in CASES:
        if how != "valid" and not _ours(number):
            with pytest.raises(InvalidDocumentError) as caught:
                parse_document(number)
            reasons[caught.value.reason] += 1
    assert set(reasons) <= {"check_digits", "bad_characters"}
    assert reasons["check_digits"] > reasons["bad_characters"] > 0


@pytest.mark.parametrize("raw", ["11111111111", "111.111.111-11", "99999999999"])
def test_repeated_digit_cpfs_refused_like_validate_docbr_though_stdnum_accepts_them(raw):
    assert stdnum_cpf.is_valid(raw)
    assert not docbr_cpf.validate(raw)
    assert not _ours(raw)


def test_short_cpf_refused_though_validate_docbr_pads_it():
    # 000.000.001-91 is valid; typed without its leading zeros it is a different, shorter input.
    assert docbr_cpf.validate("191")
    assert not stdnum_cpf.is_valid("191")
    assert not _ours("191")


def test_receita_example_in_all_three():
    for raw in ("12.ABC.345/01DE-35", "12abc34501de35", "12ABC34501DE35"):
        assert _ours(raw) and stdnum_cnpj.is_valid(raw) and docbr_cnpj.validate(raw)
