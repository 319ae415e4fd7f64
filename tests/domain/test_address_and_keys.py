"""Address parts (UF, CEP, IBGE, phone) and the deterministic integration codes sent to Omie."""

from __future__ import annotations

import pytest

from omie_pipeline.domain.address import (
    UFS,
    AddressError,
    check_ibge_code,
    ibge_code_matches_state,
    normalise_state,
    normalise_zip,
    phone_parts,
)
from omie_pipeline.domain.documents import InvalidDocumentError, parse_document
from omie_pipeline.domain.keys import client_integration_code, invoice_idempotency_key


def test_the_27_ufs():
    assert len(UFS) == 27
    assert {"SP", "RJ", "DF", "TO", "AC"} <= UFS


@pytest.mark.parametrize(("text", "state"), [("sp", "SP"), (" Rj ", "RJ"), ("DF", "DF")])
def test_state_is_upper_cased(text, state):
    assert normalise_state(text) == state


@pytest.mark.parametrize("text", ["XX", "São Paulo", "S", "SPP", ""])
def test_unknown_states_refused(text):
    with pytest.raises(AddressError) as caught:
        normalise_state(text)
    assert caught.value.reason == "bad_state"


@pytest.mark.parametrize(
    ("text", "zip_code"), [("01310-100", "01310100"), ("01.310-100", "01310100"), ("01310100", "01310100")]
)
def test_zip_is_eight_digits(text, zip_code):
    assert normalise_zip(text) == zip_code


@pytest.mark.parametrize("text", ["1310-100", "01310-1000", "0131O-100", "00000-000", "01310/100"])
def test_bad_zips_refused(text):
    with pytest.raises(AddressError) as caught:
        normalise_zip(text)
    assert caught.value.reason == "bad_zip"


def test_ibge_codes():
    assert check_ibge_code("3550308") == "3550308"  # São Paulo
    assert ibge_code_matches_state("3550308", "SP")
    assert ibge_code_matches_state("3304557", "RJ")  # Rio de Janeiro
    assert not ibge_code_matches_state("3304557", "SP")
    for bad in ("355030", "35503080", "9950308", "35A0308"):
        with pytest.raises(AddressError):
            check_ibge_code(bad)


@pytest.mark.parametrize(
    ("phone", "parts"),
    [
        ("(11) 98765-4321", ("11", "987654321")),
        ("11 3265-4321", ("11", "32654321")),
        ("+55 (21) 3265-4321", ("21", "32654321")),
        ("5511987654321", ("11", "987654321")),
        ("011 98765 4321", ("11", "987654321")),
        ("(55) 99123-4567", ("55", "991234567")),  # DDD 55 (Rio Grande do Sul), not the country code
        ("1132654321", ("11", "32654321")),
    ],
)
def test_phone_parts(phone, parts):
    assert phone_parts(phone) == parts


@pytest.mark.parametrize(
    "phone",
    [
        "12",
        "(11) 8765-432",
        "+1 415 555 0100",
        "(11) 88765-4321",
        "(01) 3265-4321",
        "11 3265-4321 ramal 20",
        "0800 123 4567",
    ],
)
def test_bad_phones_refused(phone):
    with pytest.raises(AddressError) as caught:
        phone_parts(phone)
    assert caught.value.reason == "bad_phone"


def test_client_integration_code_is_deterministic_and_short():
    cnpj = parse_document("12.abc.345/01de-35")
    code = client_integration_code("main", cnpj)
    assert code == "OP-MAIN-12ABC34501DE35"
    assert client_integration_code("main", "12ABC34501DE35") == code  # same from the typed form
    assert client_integration_code("main", "529.982.247-25") == "OP-MAIN-52998224725"
    long_account = client_integration_code("Acme Serviços Ltda — filial São Paulo", cnpj)
    assert long_account == client_integration_code("Acme Serviços Ltda — filial São Paulo", cnpj)
    assert long_account.startswith("OP-H") and long_account.endswith("-12ABC34501DE35")
    assert len(long_account) <= 60
    assert client_integration_code("x" * 24, cnpj) != client_integration_code("y" * 24, cnpj)
    assert len(client_integration_code("x" * 24, cnpj)) == 42
    with pytest.raises(InvalidDocumentError):
        client_integration_code("main", "529.982.247-24")


def test_invoice_idempotency_key():
    key = invoice_idempotency_key("main", "D-1")
    assert key == invoice_idempotency_key("main", "D-1")
    assert len(key) == 18 and key.startswith("OS")
    assert all(char in "0123456789ABCDEF" for char in key[2:])
    assert key != invoice_idempotency_key("other", "D-1")
    assert key != invoice_idempotency_key("main", "D-2")
    # The parts are kept apart, not joined: ("a-b", "c") is not ("a", "b-c").
    assert invoice_idempotency_key("a-b", "c") != invoice_idempotency_key("a", "b-c")
    with pytest.raises(ValueError):
        invoice_idempotency_key("main", "")


def test_a_reissued_note_has_a_key_of_its_own_and_the_first_keeps_the_original():
    first = invoice_idempotency_key("main", "D-1")
    assert invoice_idempotency_key("main", "D-1", 1) == first
    second = invoice_idempotency_key("main", "D-1", 2)
    assert second != first and len(second) == 18 and second.startswith("OS")
    assert invoice_idempotency_key("main", "D-1", 3) not in (first, second)
    with pytest.raises(ValueError):
        invoice_idempotency_key("main", "D-1", 0)


def test_invoice_idempotency_key_never_changes():
    # Pinned values: every invoice already issued carries a key from this formula, and Omie finds
    # the OS by it. If this fails, the formula changed and every past deal would be issued again.
    assert invoice_idempotency_key("main", "D-1") == "OS617122A3604BDC21"
    assert invoice_idempotency_key("acme", "SO-2026-000123") == "OSCEFB4E084CA4DE83"
