"""A usable e-mail: what Omie can send the note to, checked before anything is sent to Omie."""

from __future__ import annotations

import pytest

from omie_pipeline.domain.deal import validate_deal_row
from omie_pipeline.domain.emails import EmailError, parse_emails


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Financeiro@Empresa.com.br", ["Financeiro@Empresa.com.br"]),
        ("a@b.co; nf.e+sp@x-y.com.br", ["a@b.co", "nf.e+sp@x-y.com.br"]),
        (" fin@a.com , compras@a.com ;", ["fin@a.com", "compras@a.com"]),
    ],
)
def test_one_or_several_addresses_separated_by_comma_or_semicolon(text: str, expected: list[str]) -> None:
    assert parse_emails(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "financeiro",
        "a@b",
        "a@@b.com",
        "a..b@x.com",
        ".a@x.com",
        "a.@x.com",
        "a@-x.com",
        "a@x-.com",
        "a@x..com",
        "a b@x.com",
        "a@x.c0m",
        "a@x.com; nada",
        "x" * 65 + "@a.com",
        "a@" + "b" * 64 + ".com",
        ";",
        "",
    ],
)
def test_unusable_addresses_are_refused_naming_the_one_at_fault(text: str) -> None:
    with pytest.raises(EmailError):
        parse_emails(text)


def test_a_deal_with_a_malformed_email_names_the_deal_and_the_field() -> None:
    problems = validate_deal_row(
        {
            "deal_id": "D-9",
            "account": "a",
            "status": "won",
            "updated_at": "2026-03-01T10:00:00-03:00",
            "amount": "10.00",
            "email": "fin@empresa.com.br; compras@empresa..com.br",
        },
        "a",
    )
    (problem,) = [p for p in problems if p.field == "email"]
    assert problem.deal_id == "D-9" and problem.reason_code == "bad_email"
    assert "second address" in problem.message and "empty part" in problem.message
    assert "compras@" not in problem.message, "the address itself is personal data"
