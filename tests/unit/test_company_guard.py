"""Crossed keys stop before any write: one Omie company per account id, one account id per company."""

from __future__ import annotations

import pytest

from omie_pipeline.sync.company_guard import CrossedKeysError, ensure_own_company
from support.fake_omie import FakeOmie


def test_the_first_connection_records_the_company_and_later_ones_cost_no_call(store) -> None:
    fake = FakeOmie()

    company = ensure_own_company(store, fake, "acme", "key-1")
    again = ensure_own_company(store, fake, "acme", "key-1")

    assert company.cnpj == again.cnpj == "11222333000181"
    assert fake.calls["ListarEmpresas"] == 1


def test_the_same_keys_under_another_account_id_are_refused(store) -> None:
    fake = FakeOmie()
    ensure_own_company(store, fake, "acme", "key-1")

    with pytest.raises(CrossedKeysError, match="already registered to account 'acme'"):
        ensure_own_company(store, fake, "other", "key-1")


def test_other_keys_of_a_company_already_served_are_refused(store) -> None:
    fake = FakeOmie()
    ensure_own_company(store, fake, "acme", "key-1")

    with pytest.raises(CrossedKeysError, match="already served by account 'acme'") as refusal:
        ensure_own_company(store, fake, "other", "key-2")
    assert "(CNPJ 11.222.333/0001-81)" in str(refusal.value)


def test_a_crossed_key_is_explained_in_portuguese_by_default(store, portuguese) -> None:
    fake = FakeOmie()
    ensure_own_company(store, fake, "acme", "key-1")

    with pytest.raises(CrossedKeysError) as refusal:
        ensure_own_company(store, fake, "other", "key-1")
    assert str(refusal.value).startswith("conta 'other': a app key do Omie dela já está registrada na conta 'acme'")
    assert "CNPJ 11.222.333/0001-81" in str(refusal.value) and "Nada foi enviado ao Omie." in str(refusal.value)


def test_keys_rotated_for_the_same_company_are_accepted_and_for_another_refused(store) -> None:
    fake = FakeOmie()
    ensure_own_company(store, fake, "acme", "key-1")
    rotated = ensure_own_company(store, fake, "acme", "key-2")
    assert rotated.cnpj == "11222333000181" and fake.calls["ListarEmpresas"] == 2

    other_company = FakeOmie()
    other_company.company = {**fake.company, "cnpj": "11.444.777/0001-61", "razao_social": "Outra Ltda"}
    with pytest.raises(CrossedKeysError, match="now answer for Outra Ltda"):
        ensure_own_company(store, other_company, "acme", "key-3")


def test_two_first_connections_at_once_both_end_with_the_one_record(store, monkeypatch) -> None:
    """The run that loses the insert of a new account's company checks again against the winner's."""
    import omie_pipeline.sync.company_guard as guard

    fake = FakeOmie()
    real_record = guard.record_company

    def raced(connection, *args):  # the other run records first, between our read and our insert
        real_record(connection, *args)
        monkeypatch.setattr(guard, "record_company", real_record)
        real_record(connection, *args)  # ours: the primary key is taken now

    monkeypatch.setattr(guard, "record_company", raced)

    company = ensure_own_company(store, fake, "acme", "key-1")

    assert company.cnpj == "11222333000181"
