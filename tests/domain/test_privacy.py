"""Personal data masked before it is logged or shown."""

from __future__ import annotations

import pytest

from omie_pipeline.domain.privacy import mask_email, mask_phone, redact_cpfs


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        ("Maria Souza 529.982.247-25", "Maria Souza ***.982.247-**"),
        ("cpf:52998224725.", "cpf:***.982.247-**."),
        ("529 982 247 25 and 111.444.777-35", "***.982.247-** and ***.444.777-**"),
        ("CNPJ 11.222.333/0001-81 stays", "CNPJ 11.222.333/0001-81 stays"),
        ("order 123456789012 is longer than a CPF", "order 123456789012 is longer than a CPF"),
        ("nothing personal", "nothing personal"),
    ],
)
def test_redact_cpfs_in_free_text(text, redacted):
    assert redact_cpfs(text) == redacted


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("joao.silva@example.com", "j***@example.com"),
        ("a@b.co; financeiro@acme.com.br", "a***@b.co, f***@acme.com.br"),
        ("not-an-email", "***"),
        ("@example.com", "***"),
    ],
)
def test_mask_email_keeps_the_domain_only(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("(11) 98765-4321", "*******4321"), ("+55 11 3265-4321", "********4321"), ("12", "**"), ("", "")],
)
def test_mask_phone_keeps_the_last_four_digits(phone, masked):
    assert mask_phone(phone) == masked
