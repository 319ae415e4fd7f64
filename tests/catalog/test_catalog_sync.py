"""Catalog and tax rates from the simulated Omie over real HTTP into the state store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omie_pipeline.domain.taxes import Regime
from omie_pipeline.store import sync_state
from omie_pipeline.store.catalog import ProductProblemReason, list_services, product_problems, replace_service_map
from omie_pipeline.store.tax_rates import company_profile_in_force, open_rate_versions, rate_history, rates_in_force
from omie_pipeline.sync.catalog import FULL_RELOAD_EVERY, LAST_FULL_LOAD_KEY, sync_catalog
from omie_pipeline.sync.tax_rates import (
    UnknownRegimeError,
    rate_rule_violations,
    services_without_rates,
    sync_tax_rates,
)
from support.simulated_omie import client_for, regime_of

from .conftest import ACCOUNT, add_deals, service_record

DEMO_MAP = {
    "CONSULTORIA": "SRV001",
    "IMPLANTACAO": "SRV002",
    "SUPORTE": "SRV003",
    "TREINAMENTO": "SRV004",
    "LIMPEZA": "SRV005",
}


def _map(store, entries=DEMO_MAP) -> None:
    with store.begin() as connection:
        replace_service_map(connection, ACCOUNT, entries, datetime.now(UTC))


def _sync(client, store, **options):
    regime = regime_of(options.pop("sim")) if "sim" in options else Regime.LUCRO_PRESUMIDO
    return sync_catalog(client, store, ACCOUNT, **options), sync_tax_rates(
        client, store, ACCOUNT, confirmed_regime=regime
    )


def test_first_load_lists_every_service_with_its_fields_and_rates(sim, client, store) -> None:
    catalog, rates = _sync(client, store)

    assert (catalog.full, catalog.listed, catalog.new, catalog.total, catalog.inactive) == (True, 7, 7, 7, 1)
    with store.connect() as connection:
        services = {service.code: service for service in list_services(connection, ACCOUNT)}
        versions = open_rate_versions(connection, ACCOUNT)
        profile = company_profile_in_force(connection, ACCOUNT)
    omie = service_record(sim, "SRV001")
    consulting = services["SRV001"]
    assert (consulting.service_id, consulting.integration_code) == (omie["intListar"]["nCodServ"], "SRV-CONSULTORIA")
    assert (consulting.lc116_code, consulting.municipal_code, consulting.nbs_code, consulting.taxation_type) == (
        "1.06",
        "02919",
        "1.1502.10.00",
        "01",
    )
    assert (consulting.unit_price, consulting.inactive) == (Decimal("1500.00"), False)
    assert consulting.description == "Consultoria em tecnologia da informação"
    assert services["SRV007"].inactive is True
    assert consulting.changed_at is not None and consulting.changed_at.tzinfo is not None

    assert rates.regime is Regime.LUCRO_PRESUMIDO and rates.company.kind == "first"
    assert profile.profile.regime is Regime.LUCRO_PRESUMIDO and profile.profile.issues_nfse is True
    assert set(versions) == set(services)
    consulting_rates = versions["SRV001"].rates
    assert (consulting_rates.iss, consulting_rates.ir, consulting_rates.retain_ir, consulting_rates.retain_csll) == (
        Decimal("2.9"),
        Decimal("1.5"),
        True,
        True,
    )
    cleaning = versions["SRV005"].rates
    assert (cleaning.inss, cleaning.retain_inss, cleaning.retain_iss, cleaning.iss) == (
        Decimal("11"),
        True,
        True,
        Decimal("5"),
    )


def test_later_loads_list_only_what_changed_and_a_rate_change_is_a_new_version(sim, client, store) -> None:
    _sync(client, store)
    unchanged_catalog, unchanged_rates = _sync(client, store)
    assert unchanged_catalog.full is False and unchanged_catalog.listed < 7
    assert unchanged_rates.changes == [] and unchanged_rates.company is None

    with store.connect() as connection:
        [before] = rate_history(connection, ACCOUNT, "SRV003")
    sim.update_service("SRV-SUPORTE", nAliqISS="3.5", cRetISS="S")
    catalog, rates = _sync(client, store)

    assert catalog.full is False and 1 <= catalog.listed < 7
    [change] = rates.changes
    assert (change.key, change.kind, change.previous_id) == ("SRV003", "changed", before.id)
    assert [(c.field, c.before, c.after) for c in change.fields] == [("iss", "2.9", "3.5"), ("retain_iss", "no", "yes")]
    with store.connect() as connection:
        old, new = rate_history(connection, ACCOUNT, "SRV003")
        assert (old.id, old.rates, old.valid_from) == (before.id, before.rates, before.valid_from)
        assert old.valid_to == new.valid_from and new.valid_to is None
        assert (new.rates.iss, new.rates.retain_iss) == (Decimal("3.5"), True)
        assert rates_in_force(connection, ACCOUNT, "SRV003", old.valid_from).id == old.id
        assert len(rate_history(connection, ACCOUNT)) == 8


def test_an_inactivated_service_fails_its_products_by_name(sim, client, store) -> None:
    _map(store)
    add_deals(store, ("d1", "SUPORTE", True), ("d2", "CONSULTORIA", True), ("d3", "LEGADO-X", True))
    _sync(client, store)
    sim.update_service("SRV-SUPORTE", inativo="S")
    _sync(client, store)

    with store.connect() as connection:
        problems = {(p.product_code, p.reason, p.service_code) for p in product_problems(connection, ACCOUNT)}
    assert problems == {
        ("SUPORTE", ProductProblemReason.INACTIVE_SERVICE, "SRV003"),
        ("LEGADO-X", ProductProblemReason.UNMAPPED, None),
    }


def test_a_full_reload_forgets_a_deleted_service_and_closes_its_rates(sim, client, store) -> None:
    _map(store)
    add_deals(store, ("d1", "TREINAMENTO", True))
    _sync(client, store)
    with sim.state.lock:
        del sim.state.services[service_record(sim, "SRV004")["intListar"]["nCodServ"]]

    incremental, _ = _sync(client, store)
    assert incremental.removed == 0  # a change listing cannot see a deletion
    full, rates = _sync(client, store, full=True)

    assert (full.full, full.removed, full.total) == (True, 1, 6)
    assert [(change.key, change.kind) for change in rates.changes] == [("SRV004", "closed")]
    with store.connect() as connection:
        [problem] = product_problems(connection, ACCOUNT)
    assert (problem.product_code, problem.reason) == ("TREINAMENTO", ProductProblemReason.UNKNOWN_SERVICE)
    assert [(item.service_code, item.products) for item in services_without_rates(store, ACCOUNT)] == [
        ("SRV004", ("TREINAMENTO",))
    ]


def test_a_full_reload_comes_by_itself_once_a_week(client, store) -> None:
    _sync(client, store)
    with store.begin() as connection:
        stale = datetime.now(UTC) - FULL_RELOAD_EVERY - timedelta(minutes=1)
        sync_state.set_datetime(connection, ACCOUNT, LAST_FULL_LOAD_KEY, stale)
    catalog, _ = _sync(client, store)
    assert catalog.full is True and catalog.listed == 7


def test_a_service_that_does_not_fit_is_named_and_the_rest_is_stored(sim, client, store) -> None:
    record = service_record(sim, "SRV006")
    with sim.state.lock:
        record["cabecalho"]["cCodLC116"] = "17.06.01.01.01.01.01"
    catalog, _ = _sync(client, store)

    [problem] = catalog.problems
    assert (problem.code, problem.field) == ("SRV006", "cCodLC116")
    assert "longer than 16 characters" in str(problem)
    assert catalog.total == 6


def test_unreadable_rates_leave_the_service_without_rates_in_force(sim, client, store) -> None:
    _map(store)
    _sync(client, store)
    with sim.state.lock:
        record = service_record(sim, "SRV002")
        record["impostos"]["cRetISS"] = "T"
    sim.update_service("SRV-DESENVOLVIMENTO", nAliqISS="2.9")  # stamps the change date
    _, rates = _sync(client, store)

    assert [(p.service_code, p.field) for p in rates.problems] == [("SRV002", "cRetISS")]
    assert [(change.key, change.kind) for change in rates.changes] == [("SRV002", "closed")]
    assert [item.service_code for item in services_without_rates(store, ACCOUNT)] == ["SRV002"]


@pytest.mark.parametrize("regime", ["Simples Nacional", "Lucro Presumido", "Lucro Real"])
def test_the_seeded_rates_follow_the_rules_of_each_regime(make_sim, store, regime: str) -> None:
    sim = make_sim(regime=regime)
    _map(store)
    _sync(client_for(sim), store, sim=sim)
    assert rate_rule_violations(store, ACCOUNT) == []
    assert services_without_rates(store, ACCOUNT) == []


@pytest.mark.parametrize(
    "regime, changes, rule, tax",
    [
        ("Lucro Presumido", {"nAliqISS": "6"}, "iss_range", "ISS"),
        ("Lucro Presumido", {"nAliqISS": "1.5"}, "iss_range", "ISS"),
        ("Lucro Presumido", {"nAliqPIS": "1.65"}, "pis_cofins_regime", "PIS"),
        ("Lucro Real", {"nAliqCOFINS": "3"}, "pis_cofins_regime", "COFINS"),
        ("Simples Nacional", {"nAliqCOFINS": "3"}, "pis_cofins_regime", "COFINS"),
        ("Simples Nacional", {"nAliqIR": "1.5", "cRetIR": "S"}, "simples_withholding", "IR"),
        ("Lucro Presumido", {"nRedBaseINSS": "40"}, "base_reduction", "INSS"),
    ],
)
def test_a_rate_that_breaks_a_rule_names_the_service_and_the_rule(make_sim, store, regime, changes, rule, tax) -> None:
    sim = make_sim(regime=regime)
    client = client_for(sim)
    _map(store, {"SUPORTE": "SRV003", "TREINAMENTO": "SRV004"})
    _sync(client, store, sim=sim)
    sim.update_service("SRV-SUPORTE", **changes)
    _sync(client, store, sim=sim)

    violations = rate_rule_violations(store, ACCOUNT)
    assert [(v.service_code, v.rule, v.tax, v.products) for v in violations] == [("SRV003", rule, tax, ("SUPORTE",))]
    assert str(violations[0]).startswith(f"service SRV003 (SUPORTE): {rule}:")


def test_an_unknown_regime_stops_the_rates_sync_and_writes_nothing(sim, client, store) -> None:
    with sim.state.lock:
        sim.state.company.update(regime_tributario="9", optante_simples_nacional="N")
    sync_catalog(client, store, ACCOUNT)
    with pytest.raises(UnknownRegimeError, match="regime_tributario '9' is not a regime's name"):
        sync_tax_rates(client, store, ACCOUNT)  # nobody confirmed the regime
    with store.connect() as connection:
        assert rate_history(connection, ACCOUNT) == []
        assert company_profile_in_force(connection, ACCOUNT) is None


def test_a_regime_change_opens_a_new_version_for_every_service(sim, client, store) -> None:
    _sync(client, store)
    with sim.state.lock:
        sim.state.company.update(regime_tributario="Lucro Real", optante_simples_nacional="N")
    rates = sync_tax_rates(client, store, ACCOUNT)  # Omie names the regime: nothing to confirm

    assert rates.regime is Regime.LUCRO_REAL
    assert [(c.field, c.after) for c in rates.company.fields] == [("regime", "lucro_real")]
    assert len(rates.changes) == 7 and all(change.kind == "changed" for change in rates.changes)
    with store.connect() as connection:
        assert {version.regime for version in open_rate_versions(connection, ACCOUNT).values()} == {Regime.LUCRO_REAL}
        assert len(rate_history(connection, ACCOUNT)) == 14
