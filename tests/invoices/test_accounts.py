"""Two accounts of one deployment, two Omie companies of one simulator: each account's deals reach only
its own company, crossed keys issue nothing, and renaming an account issues nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from omie_pipeline.accounts_file import parse_accounts, resolve_accounts
from omie_pipeline.defs.assets.invoices import nfse_invoices
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource, account_configs
from omie_pipeline.simulator import Simulator
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import list_services, replace_service_map
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.tax_rates import sync_tax_rates
from support.simulated_omie import client_for, regime_of

from .conftest import PRODUCT, REDUNDANT_SECONDS, SERVICE_INTEGRATION_CODE, Account

pytestmark = pytest.mark.integration


def _prepare(store: Store, sim: Simulator, name: str, app_key: str, **client_settings) -> Account:
    """The account's catalog, rates and map from its own company; deals for that company's clients."""
    client = client_for(sim, company=app_key, **client_settings)
    sync_catalog(client, store, name)
    sync_tax_rates(client, store, name, confirmed_regime=regime_of(sim))
    with store.begin() as connection:
        services = {service.integration_code: service for service in list_services(connection, name)}
        service_code = services[SERVICE_INTEGRATION_CODE].code
        replace_service_map(connection, name, {PRODUCT: service_code}, datetime.now(UTC))
    state = sim.company(app_key).state
    with state.lock:
        billable = [
            dict(record)
            for _, record in sorted(state.clients.items())
            if record.get("email")
            and record.get("cnpj_cpf")
            and record.get("endereco")
            and record.get("cep")
            and record.get("inativo") != "S"
        ]
    return Account(name, sim, store, client, service_code, billable)


def _orders(sim: Simulator, app_key: str) -> set[str]:
    state = sim.company(app_key).state
    with state.lock:
        return {order.c_cod_int_os for order in state.orders.values()}


def _accounts_file(tmp_path: Path, entries: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "accounts": [
                    {
                        "id": account_id,
                        "name": name,
                        "omie": {"app_key_env": f"{env}_KEY", "app_secret_env": f"{env}_SECRET"},
                        "deals": {"url": str(tmp_path / f"{account_id}.csv")},
                    }
                    for account_id, name, env in entries
                ]
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def companies(make_companies_sim, monkeypatch) -> Iterator[Simulator]:
    sim = make_companies_sim(2)
    (key_a, secret_a), (key_b, secret_b) = sim.credentials
    for env, value in {"A_KEY": key_a, "A_SECRET": secret_a, "B_KEY": key_b, "B_SECRET": secret_b}.items():
        monkeypatch.setenv(env, value)
    yield sim


def _emit(sim: Simulator, store: Store, path: Path, account: str) -> dg.ExecuteInProcessResult:
    import os

    accounts = resolve_accounts(parse_accounts(path), dict(os.environ), path)
    resources = {
        "omie": OmieResource(
            base_url=sim.base_url, window_seconds=sim.config.window_seconds, redundant_seconds=REDUNDANT_SECONDS
        ),
        "store": StoreResource(db_url=store.url),
        "pipeline": PipelineResource(account="main", accounts=account_configs(accounts)),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [account])
        return dg.materialize(
            [nfse_invoices], partition_key=account, instance=instance, resources=resources, raise_on_error=False
        )


def test_each_accounts_deals_reach_only_its_own_company(companies: Simulator, store: Store, tmp_path) -> None:
    (key_a, _), (key_b, _) = companies.credentials
    acme, beta = _prepare(store, companies, "acme", key_a), _prepare(store, companies, "beta", key_b)
    acme.add_deals(3, prefix="A")
    beta.add_deals(2, prefix="B")
    path = _accounts_file(tmp_path, [("acme", "Acme Serviços", "A"), ("beta", "Beta Consultoria", "B")])

    assert _emit(companies, store, path, "acme").success
    assert _emit(companies, store, path, "beta").success

    assert _orders(companies, key_a) == {invoice.idempotency_key for invoice in acme.invoices()}
    assert _orders(companies, key_b) == {invoice.idempotency_key for invoice in beta.invoices()}
    assert len(_orders(companies, key_a)) == 3 and len(_orders(companies, key_b)) == 2


def test_keys_registered_under_another_account_id_issue_nothing(companies: Simulator, store: Store, tmp_path) -> None:
    (key_a, _), _ = companies.credentials
    acme = _prepare(store, companies, "acme", key_a)
    acme.add_deals(2, prefix="A")
    assert _emit(companies, store, _accounts_file(tmp_path, [("acme", "Acme", "A")]), "acme").success
    other = _prepare(store, companies, "other", key_a)
    other.add_deals(2, prefix="A")  # the same deals pulled again under a new account id

    result = _emit(companies, store, _accounts_file(tmp_path, [("other", "Acme again", "A")]), "other")

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert "already registered to account 'acme'" in failure.step_failure_data.user_failure_data.description
    assert len(_orders(companies, key_a)) == 2 and other.invoices() == []


def test_renaming_an_account_issues_nothing_again(companies: Simulator, store: Store, tmp_path) -> None:
    (key_a, _), _ = companies.credentials
    acme = _prepare(store, companies, "acme", key_a)
    acme.add_deals(2, prefix="A")
    assert _emit(companies, store, _accounts_file(tmp_path, [("acme", "Acme", "A")]), "acme").success
    before = _orders(companies, key_a)

    assert _emit(companies, store, _accounts_file(tmp_path, [("acme", "Acme Holding S.A.", "A")]), "acme").success

    assert _orders(companies, key_a) == before and len(before) == 2


def test_two_accounts_emitting_at_full_speed_together_stay_within_their_budgets_and_the_hosts(
    make_companies_sim, store: Store, tmp_path
) -> None:
    import threading

    from omie_pipeline.sync.invoices import issue_invoices

    # Each key may send 20 calls of a method per window, the host 30 in all: together they must share.
    sim = make_companies_sim(2, per_method_limit=20, per_ip_limit=30)
    pacing_url = f"sqlite:///{tmp_path / 'pacing.sqlite'}"
    accounts = []
    for number, (key, _) in enumerate(sim.credentials, 1):
        account = _prepare(store, sim, f"acct{number}", key, pacing_url=pacing_url)
        account.add_deals(8, prefix=f"N{number}-")
        accounts.append((key, account))
    before = sim.stats()

    threads = [
        threading.Thread(
            target=issue_invoices, args=(account.client, store, account.name), kwargs={"settings": account.settings()}
        )
        for _, account in accounts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    stats = sim.stats()
    assert sum(stats["rejected"].values()) == sum(before["rejected"].values()) == 0
    assert not stats["rate_limited_by_ip"]
    for key, account in accounts:
        company = stats["companies"][key]
        assert max(company["peak_calls_in_window"].values()) <= 20
        assert _orders(sim, key) == {invoice.idempotency_key for invoice in account.invoices()}
        assert len(_orders(sim, key)) == 8
