"""CPF and CNPJ reading: normalising, each reason for refusal, formatting and masking."""

from __future__ import annotations

import pytest

from omie_pipeline.domain.documents import (
    Document,
    InvalidDocumentError,
    cnpj_check_digits,
    cpf_check_digits,
    mask_document,
    mask_documents,
    normalise_document,
    parse_document,
)

# Valid documents worked by hand with the Receita's rule (see the check-digit tests below).
CPF = "52998224725"
CNPJ_NUMERIC = "11222333000181"
CNPJ_ALPHANUMERIC = "12ABC34501DE35"  # the Receita's own worked example


def test_receita_worked_example_for_the_alphanumeric_cnpj():
    # values (ASCII - 48): 1 2 17 18 19 3 4 5 0 1 20 21
    # DV1, weights 5 4 3 2 9 8 7 6 5 4 3 2: 5+8+51+36+171+24+28+30+0+4+60+42 = 459; 459 % 11 = 8 -> 11-8 = 3
    # DV2, weights 6 5 4 3 2 9 8 7 6 5 4 3 2 over the 12 values and 3:
    #   6+10+68+54+38+27+32+35+0+5+80+63+6 = 424; 424 % 11 = 6 -> 11-6 = 5
    assert cnpj_check_digits("12ABC34501DE") == "35"
    document = parse_document("12.ABC.345/01DE-35")
    assert document == Document(number="12ABC34501DE35", kind="cnpj")
    assert document.formatted == "12.ABC.345/01DE-35"


def test_cpf_check_digits_by_hand():
    # 5 2 9 9 8 2 2 4 7, weights 10..2: 50+18+72+63+48+10+8+12+14 = 295; 295 % 11 = 9 -> 11-9 = 2
    # 5 2 9 9 8 2 2 4 7 2, weights 11..2: 55+20+81+72+56+12+10+16+21+4 = 347; 347 % 11 = 6 -> 11-6 = 5
    assert cpf_check_digits("529982247") == "25"


def test_cnpj_numeric_check_digits_by_hand():
    # 1 1 2 2 2 3 3 3 0 0 0 1 x 5 4 3 2 9 8 7 6 5 4 3 2 = 5+4+6+4+18+24+21+18+0+0+0+2 = 102
    # 102 % 11 = 3 -> DV1 = 8; with DV1 x 6..2: 6+5+8+6+4+27+24+21+0+0+0+3+16 = 120; 120 % 11 = 10 -> DV2 = 1
    assert cnpj_check_digits("112223330001") == "81"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("529.982.247-25", "52998224725"),
        (" 529 982 247 25 ", "52998224725"),
        ("12.abc.345/01de-35", "12ABC34501DE35"),
        ("12.ABC.345/01DE\u201335", "12ABC34501DE35"),  # en dash from a word processor
        ("\t11.222.333/0001-81\n", "11222333000181"),
        ("529_982_247-25", "529_982_24725"),  # other characters are kept, to be refused
        ("12abcß", "12ABCß"),  # only ASCII is upper-cased: "ß".upper() would be "SS"
    ],
)
def test_normalise_drops_only_separators_and_upper_cases(raw, normalised):
    assert normalise_document(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    ["529.982.247-25", "52998224725", " 529982247-25 ", "11.222.333/0001-81", "12.abc.345/01de-35", "12ABC34501DE35"],
)
def test_typed_forms_parse_to_the_normalised_number(raw):
    assert parse_document(raw).number == normalise_document(raw)


def test_kind_and_personhood():
    assert parse_document(CPF).kind == "cpf" and parse_document(CPF).is_person
    assert parse_document(CNPJ_NUMERIC).kind == "cnpj" and not parse_document(CNPJ_NUMERIC).is_person


def test_leading_zeros_are_kept():
    # 000.000.001-91: first nine digits 000000001 -> DV1: 1*2 = 2 -> 11-2 = 9; DV2: 1*3 + 9*2 = 21 -> 21 % 11 = 10 -> 1
    document = parse_document("000.000.001-91")
    assert document.number == "00000000191"
    assert document.formatted == "000.000.001-91"


def test_the_all_zero_root_of_a_real_company_is_accepted():
    # Banco do Brasil: root 00000000, branch 0001 -> DV1: 1*2 = 2 -> 9; DV2: 1*3 + 9*2 = 21 -> 1
    assert parse_document("00.000.000/0001-91").kind == "cnpj"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty"),
        ("", "empty"),
        (" ./- ", "empty"),
        ("5299822472", "bad_length"),
        ("529982247250", "bad_length"),
        ("1122233300018", "bad_length"),
        ("529.982.247_25", "bad_characters"),
        ("529982247#5", "bad_characters"),
        ("5299822472A", "bad_characters"),  # 11 characters: a CPF, and CPFs have no letters
        ("12ABC34501DE3A", "bad_characters"),  # check digits are always digits
        ("12ABC34501DÉ35", "bad_characters"),  # non-ASCII letter
        ("11111111111", "repeated_digits"),
        ("000.000.000-00", "repeated_digits"),
        ("00.000.000/0000-00", "zero_root"),
        ("529.982.247-24", "check_digits"),
        ("11.222.333/0001-82", "check_digits"),
        ("12.ABC.345/01DE-36", "check_digits"),
        ("12.ABD.345/01DE-35", "check_digits"),
    ],
)
def test_refusal_reasons(raw, reason):
    with pytest.raises(InvalidDocumentError) as caught:
        parse_document(raw)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("raw", ["529.982.247-24", "52998224724", "5299822472A", "529982247250"])
def test_messages_never_repeat_the_number(raw):
    with pytest.raises(InvalidDocumentError) as caught:
        parse_document(raw)
    message = str(caught.value)
    assert "529982247" not in message.replace(".", "").replace("-", "")
    assert "982" not in message


def test_masked_cpf_and_cnpj_in_full():
    assert parse_document("529.982.247-25").masked == "***.982.247-**"
    assert str(parse_document("529.982.247-25")) == "***.982.247-**"
    assert parse_document("12abc34501de35").masked == "12.ABC.345/01DE-35"


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("529.982.247-25", "***.982.247-**"),  # valid CPF
        ("529.982.247-24", "***.982.247-**"),  # CPF-shaped but invalid: still personal data
        ("11222333000181", "11.222.333/0001-81"),  # valid CNPJ: company data, in full
        ("11222333000182", "****233300****"),  # invalid 14 characters: could be a mistyped CPF
        ("5299822472", "**99822***"),  # a CPF missing a digit: half shown at most
        ("12.abc", "*2A**"),
        ("1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_document_on_any_input(raw, masked):
    assert mask_document(raw) == masked


def test_mask_documents_masks_each_as_mask_document_does():
    raws = [
        "529.982.247-25",
        "11222333000181",
        "11.222.333/0001-81",
        "11222333000182",
        "00000000000000",
        "00000000000191",
        "12ABC34501DE35",
        "12ABC34501DE36",
        "12abc34501de35",
        "5299822472",
        "12.abc",
        "",
        None,
    ]
    assert mask_documents(raws) == [mask_document(raw) for raw in raws]
    assert mask_documents([]) == []


@pytest.mark.parametrize("bad", ["52998224", "52998224X", "5299822475"])
def test_cpf_check_digits_needs_nine_digits(bad):
    with pytest.raises(ValueError):
        cpf_check_digits(bad)


@pytest.mark.parametrize("bad", ["12ABC34501D", "12abc34501de", "12ABC34501D#"])
def test_cnpj_check_digits_needs_twelve_upper_case_characters(bad):
    with pytest.raises(ValueError):
        cnpj_check_digits(bad)
