"""Tax rate and company profile versions: a change closes the old version and opens a new one."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.taxes import Regime, TaxRates
from omie_pipeline.store.tables import tax_rates
from omie_pipeline.store.tax_rates import (
    CompanyProfile,
    close_rates,
    company_profile_in_force,
    lock_account_versions,
    open_rate_versions,
    rate_history,
    rates_in_force,
    record_company_profile,
    record_rates,
)

from .conftest import ACCOUNT

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
T1 = T0 + timedelta(days=10)
RATES = TaxRates(
    iss=Decimal("2.9"),
    pis=Decimal("0.65"),
    cofins=Decimal("3"),
    csll=Decimal("1"),
    ir=Decimal("1.5"),
    retain_pis=True,
    retain_cofins=True,
    retain_csll=True,
    retain_ir=True,
)
PRESUMIDO = Regime.LUCRO_PRESUMIDO


def _record(store, rates=RATES, now=T0, regime=PRESUMIDO, code="SRV001"):
    with store.begin() as connection:
        lock_account_versions(connection, ACCOUNT)
        return record_rates(connection, ACCOUNT, code, regime, rates, now)


def test_first_rates_open_a_version_and_the_same_rates_again_change_nothing(store) -> None:
    first = _record(store)
    assert first is not None and first.kind == "first" and first.previous_id is None
    assert _record(store, rates=replace(RATES, iss=Decimal("2.9000")), now=T1) is None
    with store.connect() as connection:
        [version] = rate_history(connection, ACCOUNT, "SRV001")
    assert (version.id, version.valid_from, version.valid_to, version.regime) == (first.current_id, T0, None, PRESUMIDO)
    assert version.rates == RATES


def test_a_rate_change_is_a_new_version_and_the_old_one_stays(store) -> None:
    first = _record(store)
    changed = _record(store, rates=replace(RATES, iss=Decimal("5"), retain_iss=True), now=T1)

    assert changed.kind == "changed" and changed.previous_id == first.current_id
    assert [(c.field, c.before, c.after) for c in changed.fields] == [("iss", "2.9", "5"), ("retain_iss", "no", "yes")]
    with store.connect() as connection:
        old, new = rate_history(connection, ACCOUNT, "SRV001")
        assert (old.id, old.valid_from, old.valid_to, old.rates) == (first.current_id, T0, T1, RATES)
        assert (new.valid_from, new.valid_to, new.rates.iss) == (T1, None, Decimal("5"))
        # What an invoice finds for the moment it was issued, and by the id it recorded.
        assert rates_in_force(connection, ACCOUNT, "SRV001", T0 - timedelta(seconds=1)) is None
        assert rates_in_force(connection, ACCOUNT, "SRV001", T0).id == old.id
        assert rates_in_force(connection, ACCOUNT, "SRV001", T1 - timedelta(microseconds=1)).id == old.id
        assert rates_in_force(connection, ACCOUNT, "SRV001", T1).id == new.id
        assert rates_in_force(connection, ACCOUNT, "SRV001", T1 + timedelta(days=400)).id == new.id
        assert rates_in_force(connection, "other", "SRV001", T1) is None


def test_a_regime_change_alone_is_a_new_version(store) -> None:
    _record(store)
    change = _record(store, now=T1, regime=Regime.LUCRO_REAL)
    assert [(c.field, c.before, c.after) for c in change.fields] == [("regime", "lucro_presumido", "lucro_real")]


def test_closing_leaves_the_service_without_rates_from_then_on(store) -> None:
    _record(store)
    with store.begin() as connection:
        closed = close_rates(connection, ACCOUNT, "SRV001", T1)
        assert close_rates(connection, ACCOUNT, "SRV001", T1) is None
    assert closed.kind == "closed"
    with store.connect() as connection:
        assert open_rate_versions(connection, ACCOUNT) == {}
        assert rates_in_force(connection, ACCOUNT, "SRV001", T0).valid_to == T1
        assert rates_in_force(connection, ACCOUNT, "SRV001", T1) is None


def test_the_store_refuses_a_second_open_version_of_a_service(store) -> None:
    _record(store)
    row = {
        "account": ACCOUNT,
        "service_code": "SRV001",
        "regime": "lucro_real",
        "valid_from": T1,
        **{name: 0 for name in ("iss", "pis", "cofins", "csll", "ir", "inss", "ibs_uf", "ibs_mun", "cbs")},
        **{f"retain_{name}": False for name in ("iss", "pis", "cofins", "csll", "ir", "inss")},
    }
    with pytest.raises(sa.exc.IntegrityError), store.begin() as connection:
        connection.execute(sa.insert(tax_rates), row)


@pytest.mark.parametrize("same_rates", [True, False])
def test_two_concurrent_runs_leave_exactly_one_version_in_force(store, same_rates: bool) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    results = []

    def run(moment: datetime, iss: str) -> None:
        try:
            start.wait(timeout=5)
            with store.begin() as connection:
                lock_account_versions(connection, ACCOUNT)
                results.append(
                    record_rates(connection, ACCOUNT, "SRV001", PRESUMIDO, replace(RATES, iss=Decimal(iss)), moment)
                )
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(T0, "2.9")),
        threading.Thread(target=run, args=(T0 + timedelta(seconds=1), "2.9" if same_rates else "3.5")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    with store.connect() as connection:
        history = rate_history(connection, ACCOUNT, "SRV001")
    assert sum(1 for version in history if version.valid_to is None) == 1
    assert len(history) == (1 if same_rates else 2)
    assert sum(1 for result in results if result is not None) == len(history)


def test_company_profile_versions(store) -> None:
    profile = CompanyProfile(
        company_id=42,
        cnpj="12.345.678/0001-95",
        legal_name="Simulada Ltda",
        regime=PRESUMIDO,
        city="SAO PAULO (SP)",
        state="SP",
        issues_nfse=True,
    )
    with store.begin() as connection:
        lock_account_versions(connection, ACCOUNT)
        assert record_company_profile(connection, ACCOUNT, profile, T0).kind == "first"
        assert record_company_profile(connection, ACCOUNT, profile, T0 + timedelta(hours=1)) is None
        change = record_company_profile(connection, ACCOUNT, replace(profile, regime=Regime.SIMPLES_NACIONAL), T1)
    assert [(c.field, c.before, c.after) for c in change.fields] == [("regime", "lucro_presumido", "simples_nacional")]
    with store.connect() as connection:
        assert company_profile_in_force(connection, ACCOUNT).profile.regime is Regime.SIMPLES_NACIONAL
        assert company_profile_in_force(connection, ACCOUNT, T0 + timedelta(days=1)).profile == profile
        assert company_profile_in_force(connection, ACCOUNT, T0 - timedelta(days=1)) is None
