"""Reading deal rows by column gives exactly what the model gives, and leaves to it every row it
does not certainly hold for valid, so the reasons per field are the model's own."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from omie_pipeline.domain.deal import Deal, validate_deal_row
from omie_pipeline.domain.deal_columns import clean_deal_rows
from omie_pipeline.domain.documents import (
    InvalidDocumentError,
    cnpj_check_digits,
    cpf_check_digits,
    kinds_of_valid,
    normalise_document,
    parse_document,
)
from omie_pipeline.sample_data.generate import generate_deals

ACCOUNT = "acme"


def _row(deal_id: str, /, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "deal_id": deal_id,
        "account": "",
        "status": "won",
        "closed_at": "2026-11-20T10:00:00-03:00",
        "updated_at": "2026-11-20T10:05:00-03:00",
        "amount": "1500.00",
        "product_code": "CONSULTORIA",
        "description": "Pedido 7",
        "legal_name": "Construtora Monte Verde Ltda",
        "trade_name": "Monte Verde",
        "document": "11.444.855/0001-28",
        "email": "financeiro@monteverde.com.br",
        "phone": "(11) 3456-7890",
        "street": "Avenida Paulista",
        "number": "1578",
        "complement": "",
        "district": "Bela Vista",
        "city": "São Paulo",
        "state": "SP",
        "zip": "01310-200",
        "city_ibge_code": "3550308",
        "municipal_registration": "12345678",
        "state_registration": "",
    }
    row.update(values)
    return row


# Rows of every kind the model reads differently: refused, cleaned, or of another type.
EDGE_ROWS = [
    _row("plain"),
    _row("blank-optional", closed_at="", complement=None, email="", phone="  ", city_ibge_code=""),
    _row("cpf-typed", document="529.982.247-25"),
    _row("cnpj-alphanumeric", document="12.abc.345/01de-35"),
    _row("status-case", status="WON"),
    _row("utc-z", updated_at="2026-11-20T13:05:00Z", closed_at="2026-11-20 13:00:00.123456+00:00"),
    _row("two-emails", email="a@monteverde.com.br; b@monteverde.com.br"),
    _row("spaces-to-clean", legal_name="  Construtora   Monte Verde  ", number=" 1578"),
    _row("tab-inside", street="Avenida\tPaulista"),
    _row("control-character", trade_name="Monte\x07Verde", description="Linha 1\nLinha\x1b 2"),
    _row("non-breaking-space", city="São\u00a0Paulo"),
    _row("description-padded", description=" Pedido 7\n"),
    _row("long-name", legal_name="x" * 201),
    _row("long-name-edge", legal_name="x" * 200),
    _row("no-offset", updated_at="2026-11-20T10:05:00"),
    _row("bad-date", closed_at="2026-02-30T10:00:00-03:00"),
    _row("no-update", updated_at=""),
    _row("amount-comma", amount="1500,00"),
    _row("amount-brazilian", amount="1.500,00"),
    _row("amount-three-decimals", amount="1.500"),
    _row("amount-zero", amount="0.00"),
    _row("amount-negative", amount="-10"),
    _row("amount-above", amount="10000000.01"),
    _row("amount-at-maximum", amount="10000000.00"),
    _row("amount-padded", amount=" 99.9 "),
    _row("amount-missing", amount=""),
    _row("cpf-check", document="529.982.247-26"),
    _row("cpf-repeated", document="111.111.111-11"),
    _row("cnpj-zero", document="00.000.000/0000-00"),
    _row("cnpj-bb", document="00.000.000/0001-91"),
    _row("document-letters", document="5299822472X"),
    _row("document-separators-only", document="--"),
    _row("email-bad", email="financeiro@@monteverde"),
    _row("email-one-bad", email="a@monteverde.com.br, b@"),
    _row("phone-bad", phone="12345"),
    _row("state-bad", state="XX"),
    _row("state-lower", state="sp"),
    _row("zip-bad", zip="0131-020"),
    _row("ibge-bad", city_ibge_code="99"),
    _row("ibge-other-state", city_ibge_code="3304557"),
    _row("wrong-account", account="other"),
    _row("own-account", account=" acme "),
    _row("", deal_id=""),
    _row("int-id", deal_id=12345),
    _row("int-document", document=11444855000128),
    _row("decimal-amount", amount=Decimal("1500.00")),
    _row("datetime-update", updated_at=datetime(2026, 11, 20, 13, 5, tzinfo=UTC)),
    _row("float-amount", amount=1500.0),
    _row("status-missing", status=""),
    _row("status-open", status="open"),
]


def _judged_alike(rows: list[dict[str, object]]) -> tuple[int, int]:
    """Assert that every row taken by column is what the model makes of it; (taken, valid)."""
    taken = valid = 0
    for row, read in zip(rows, clean_deal_rows(rows, ACCOUNT), strict=True):
        result = validate_deal_row(row, ACCOUNT)
        valid += isinstance(result, Deal)
        if read is None:
            continue
        taken += 1
        assert isinstance(result, Deal), f"{row['deal_id']}: taken, but the model refuses it: {result}"
        expected = result.as_row()
        assert list(read) == list(expected)
        assert {name: (value, type(value)) for name, value in read.items()} == {
            name: (value, type(value)) for name, value in expected.items()
        }, row["deal_id"]
    return taken, valid


def test_edge_rows_are_taken_only_as_the_model_reads_them() -> None:
    taken, valid = _judged_alike(EDGE_ROWS)

    read = dict(zip([row["deal_id"] for row in EDGE_ROWS], clean_deal_rows(EDGE_ROWS, ACCOUNT), strict=True))
    # Clean rows are read by column (else this would be the model under another name) ...
    for deal_id in (
        "plain",
        "blank-optional",
        "cpf-typed",
        "cnpj-alphanumeric",
        "status-case",
        "utc-z",
        "two-emails",
        "long-name-edge",
        "amount-at-maximum",
        "cnpj-bb",
        "state-lower",
        "own-account",
    ):
        assert read[deal_id] is not None, deal_id
    assert read["status-case"]["status"] == "won"
    assert read["utc-z"]["updated_at"] == datetime(2026, 11, 20, 13, 5, tzinfo=UTC)
    assert read["cnpj-alphanumeric"]["document"] == "12ABC34501DE35"
    # ... and every refused one, with its reasons, is the model's.
    for deal_id in ("amount-above", "cpf-check", "email-one-bad", "ibge-other-state", "wrong-account", 12345):
        assert read[deal_id] is None, deal_id
    assert 0 < taken < valid


def test_generated_deals_with_their_spoiled_rows_are_judged_alike() -> None:
    rows = generate_deals(3000, seed=19)

    taken, valid = _judged_alike(rows)

    assert valid < len(rows)  # the generator spoils a few rows
    assert taken >= 0.95 * valid


def test_random_spoiling_of_clean_rows_is_judged_alike() -> None:
    rng = random.Random(1919)
    base = generate_deals(300, seed=7)
    noise = ["", " ", "\t", "\x00", "\u00a0", "  x", "0", "-1", "1,5", "1.234", "Z", "+00:00", ",", ";", "@", "."]
    rows = []
    for row in base:
        spoiled = dict(row)
        for name in rng.sample(sorted(spoiled), 2):
            value = spoiled[name] or ""
            cut = rng.randrange(len(value) + 1)
            spoiled[name] = value[:cut] + rng.choice(noise) + value[cut:]
        rows.append(spoiled)

    taken, valid = _judged_alike(rows)

    assert taken > 0 and valid > taken / 2


def test_many_documents_are_checked_as_one_at_a_time() -> None:
    rng = random.Random(5)
    typed = ["00000000000", "11111111111", "00000000000191", "00000000000000", "1", ""]
    for _ in range(4000):
        kind = rng.random()
        if kind < 0.35:
            number = "".join(rng.choice("0123456789") for _ in range(9))
            number += cpf_check_digits(number)
        elif kind < 0.7:
            number = "".join(rng.choice("0123456789ABCXYZ") for _ in range(12))
            number += cnpj_check_digits(number)
        else:
            number = "".join(rng.choice("0123456789AZaz./- ") for _ in range(rng.choice((11, 12, 14, 15))))
        if rng.random() < 0.25:  # a typo in one place
            at = rng.randrange(len(number))
            number = number[:at] + rng.choice("0123456789") + number[at + 1 :]
        typed.append(number)
    numbers = [normalise_document(number) for number in typed]

    kinds = kinds_of_valid(numbers)

    for number, kind in zip(numbers, kinds, strict=True):
        try:
            expected = parse_document(number).kind
        except InvalidDocumentError:
            expected = None
        assert kind == expected, number
    assert kinds.count("cpf") > 1000 and kinds.count("cnpj") > 1000 and kinds.count(None) > 1000


def test_each_edge_row_among_clean_ones_is_read_as_the_model_reads_it() -> None:
    """A column of clean cells is checked as a whole; one odd cell among them (a soft hyphen, a
    doubled or trailing space, a line break, a long name) sends it back cell by cell, alike."""
    odd = [
        _row("soft-hyphen", legal_name="Constru\u00adtora"),
        _row("double-space", street="Avenida  Paulista"),
        _row("trailing-space", district="Bela Vista "),
        _row("line-break", city="São\nPaulo"),
        _row("c1-control", trade_name="Monte\x85Verde"),
    ]
    clean = [_row(f"clean-{number}") for number in range(4)]
    for row in EDGE_ROWS + odd:
        rows = [*clean[:2], row, *clean[2:]]
        _judged_alike(rows)
        assert all(read is not None for read in clean_deal_rows(clean, ACCOUNT))
