"""Reading a source row into a Deal: normalisation, every failing field at once, masked values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from omie_pipeline.domain.deal import (
    CANONICAL_COLUMNS,
    Deal,
    DealRowError,
    FieldProblem,
    missing_invoice_fields,
    parse_deal_row,
    validate_deal_row,
)
from omie_pipeline.domain.documents import Document

UTC = UTC


def _row(**changes: str | None) -> dict[str, str | None]:
    row = {
        "deal_id": "D-1001",
        "account": "main",
        "status": "Won",
        "closed_at": "2026-11-20T14:30:00-03:00",
        "updated_at": "2026-11-20T15:00:00Z",
        "amount": "1500.5",
        "product_code": "CONSULT-H",
        "description": "Consulting, November\nSecond line",
        "legal_name": "  Acme   Serviços\tLtda ",
        "trade_name": "",
        "document": "12.abc.345/01de-35",
        "email": "financeiro@acme.com.br; ti@acme.com.br",
        "phone": "(11) 98765-4321",
        "street": "Av. Paulista",
        "number": "1000",
        "complement": "  ",
        "district": "Bela Vista",
        "city": "São Paulo",
        "state": "sp",
        "zip": "01310-100",
        "city_ibge_code": "3550308",
        "municipal_registration": None,
    }
    row.update(changes)
    return row


def _problems(**changes: str | None) -> dict[str, FieldProblem]:
    result = validate_deal_row(_row(**changes), "main")
    assert isinstance(result, list), "expected the row to be refused"
    return {problem.field: problem for problem in result}


def test_a_good_row_becomes_a_normalised_deal():
    deal = validate_deal_row(_row(), "main")
    assert isinstance(deal, Deal)
    assert deal.deal_id == "D-1001" and deal.account == "main"
    assert deal.status == "won"
    assert deal.closed_at == datetime(2026, 11, 20, 17, 30, tzinfo=UTC)
    assert deal.updated_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    assert deal.amount == Decimal("1500.50") and str(deal.amount) == "1500.50"
    assert deal.description == "Consulting, November\nSecond line"
    client = deal.client
    assert client.legal_name == "Acme Serviços Ltda"
    assert client.trade_name is None and client.complement is None and client.municipal_registration is None
    assert client.document == Document(number="12ABC34501DE35", kind="cnpj")
    assert client.email == "financeiro@acme.com.br,ti@acme.com.br"
    assert client.phone == "11987654321"
    assert (client.state, client.zip, client.city_ibge_code) == ("SP", "01310100", "3550308")


def test_deal_rows_round_trip_through_storage_form():
    deal = parse_deal_row(_row(), "main")
    row = deal.as_row()
    assert set(row) == set(CANONICAL_COLUMNS) | {"document_kind"}
    assert row["document"] == "12ABC34501DE35" and row["document_kind"] == "cnpj"
    assert (
        Deal.model_validate(
            {
                **{
                    k: row[k]
                    for k in (
                        "deal_id",
                        "account",
                        "status",
                        "closed_at",
                        "updated_at",
                        "amount",
                        "product_code",
                        "description",
                    )
                },
                "client": {k: row[k] for k in CANONICAL_COLUMNS[8:]},
            }
        )
        == deal
    )
    assert deal.model_dump(mode="json")["client"]["document"] == "12ABC34501DE35"


def test_blank_account_column_means_the_account_being_synced():
    assert parse_deal_row(_row(account=""), "main").account == "main"
    assert parse_deal_row(_row(account=None), "main").account == "main"


def test_a_row_of_another_account_is_refused():
    problem = _problems(account="other")["account"]
    assert problem.reason_code == "wrong_account"


def test_every_failing_field_is_reported_at_once():
    problems = _problems(
        deal_id="D-9",
        status=" ",
        closed_at="2026-11-20T14:30:00",
        updated_at="yesterday",
        amount="1,234.5",
        document="529.982.247-26",
        email="financeiro at acme",
        phone="12345",
        state="XX",
        zip="1310-100",
        city_ibge_code="35503",
    )
    reasons = {field: problem.reason_code for field, problem in problems.items()}
    assert reasons == {
        "status": "missing",
        "closed_at": "no_offset",
        "updated_at": "bad_format",
        "amount": "comma",
        "document": "check_digits",
        "email": "bad_email",
        "phone": "bad_phone",
        "state": "bad_state",
        "zip": "bad_zip",
        "city_ibge_code": "bad_ibge_code",
    }
    for field, problem in problems.items():
        assert problem.deal_id == "D-9"
        assert problem.message.startswith(field), problem.message
        assert problem.fix


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("deal_id", "", "missing"),
        ("deal_id", "x" * 129, "too_long"),
        ("updated_at", None, "missing"),
        ("closed_at", "2026-11-20", "no_offset"),
        ("amount", None, "missing"),
        ("amount", "0", "not_positive"),
        ("amount", "-10.00", "not_positive"),
        ("amount", "10.005", "too_many_decimals"),
        ("amount", "1.234,56", "thousands_separator"),
        ("amount", "R$ 10", "bad_format"),
        ("document", "5299822472", "bad_length"),
        ("document", "529.982.247/2X", "bad_characters"),
        ("document", "111.111.111-11", "repeated_digits"),
        ("document", "00.000.000/0000-00", "zero_root"),
        ("state", "São Paulo", "bad_state"),
    ],
)
def test_single_field_reasons(field, value, reason):
    problems = _problems(**{field: value})
    assert list(problems) == [field]
    assert problems[field].reason_code == reason


def test_a_city_of_another_state_is_refused():
    problem = _problems(state="RJ")["city_ibge_code"]
    assert problem.reason_code == "state_mismatch"
    assert "state" in problem.message


def test_personal_data_is_masked_in_problems():
    problems = _problems(document="529.982.247-26", email="maria.souza@gmail", phone="(11) 8765-54321")
    assert problems["document"].raw_value_masked == "***.982.247-**"
    assert problems["email"].raw_value_masked == "m***@gmail"
    assert problems["phone"].raw_value_masked == "*******4321"
    for problem in problems.values():
        assert "529982247" not in problem.message.replace(".", "").replace("-", "")
        assert "maria" not in problem.message


def test_a_cpf_typed_into_another_field_is_masked_too():
    problems = _problems(legal_name="Maria Souza 529.982.247-25 " + "x" * 200)
    assert problems["legal_name"].reason_code == "too_long"
    assert "***.982.247-**" in problems["legal_name"].raw_value_masked
    assert "529.982" not in problems["legal_name"].raw_value_masked


def test_parse_deal_row_raises_with_every_problem():
    with pytest.raises(DealRowError) as caught:
        parse_deal_row(_row(amount="abc", state="XX"), "main")
    assert {problem.field for problem in caught.value.problems} == {"amount", "state"}
    assert "D-1001" in str(caught.value)


def test_values_from_sql_drivers_are_accepted():
    deal = parse_deal_row(
        _row(deal_id=1001, amount=Decimal("99.9"), updated_at=datetime(2026, 11, 20, 12, 0, tzinfo=UTC)),  # type: ignore[arg-type]
        "main",
    )
    assert deal.deal_id == "1001" and deal.amount == Decimal("99.90")
    problems = _problems(amount=99.9, updated_at=datetime(2026, 11, 20, 12, 0))  # type: ignore[arg-type]
    assert problems["amount"].reason_code == "float"
    assert problems["updated_at"].reason_code == "no_offset"
    # A document read as a number has lost its leading zeros: refused, not padded.
    assert _problems(document=191)["document"].reason_code == "bad_type"  # type: ignore[arg-type]


def test_a_valid_deal_may_still_miss_what_an_invoice_needs():
    deal = parse_deal_row(
        _row(legal_name="", document="", street=None, number=" ", zip="", product_code="", email=""), "main"
    )
    assert deal.client.document is None
    # Omie refuses to bill a note whose client has no e-mail: it is as required as the address.
    assert missing_invoice_fields(deal) == [
        "legal_name",
        "document",
        "street",
        "number",
        "zip",
        "email",
        "product_code",
    ]
    complete = parse_deal_row(_row(), "main")
    assert missing_invoice_fields(complete) == []


def test_optional_open_deal_without_closed_at():
    deal = parse_deal_row(_row(status="open", closed_at=""), "main")
    assert deal.closed_at is None and deal.status == "open"


def test_deals_are_immutable():
    deal = parse_deal_row(_row(), "main")
    with pytest.raises(ValidationError):
        deal.amount = Decimal("1")  # type: ignore[misc]
