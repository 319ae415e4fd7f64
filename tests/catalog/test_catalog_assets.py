"""The catalog assets and checks run through Dagster against the simulator and a real store."""

from __future__ import annotations

import warnings
from pathlib import Path

import dagster as dg
import pytest

from omie_pipeline.defs.assets.catalog import CATALOG_ASSETS
from omie_pipeline.defs.checks.catalog import CATALOG_CHECKS
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource
from omie_pipeline.store import Store
from omie_pipeline.sync.service_map import PROJECT_ROOT

from .conftest import ACCOUNT, add_deals, write_map

SHIPPED_MAP = PROJECT_ROOT / "config" / "service_map.yaml"


@pytest.fixture
def run_catalog(sim, db_url: str):
    """Materialise both assets and every check for ACCOUNT; returns the Dagster result."""
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)
    resources = {
        "omie": OmieResource(
            base_url=sim.base_url,
            app_key=sim.config.app_key,
            app_secret=sim.config.app_secret,
            window_seconds=1.0,
            redundant_seconds=0.0,
        ),
        "store": StoreResource(db_url=db_url),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("omie_account", [ACCOUNT])

        def run(service_map: Path = SHIPPED_MAP, tax_regime: str = "lucro_presumido") -> dg.ExecuteInProcessResult:
            pipeline = PipelineResource(account=ACCOUNT, service_map=str(service_map), tax_regime=tax_regime)
            return dg.materialize(
                [*CATALOG_ASSETS, *CATALOG_CHECKS],
                partition_key=ACCOUNT,
                instance=instance,
                resources={**resources, "pipeline": pipeline},
                raise_on_error=False,
            )

        yield run


@pytest.fixture
def store_of(db_url: str):
    opened = Store(db_url)
    yield opened
    opened.dispose()


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in event.materialization.metadata.items()}


def test_catalog_and_rates_load_and_every_check_passes_for_mapped_products(run_catalog, store_of) -> None:
    add_deals(store_of, ("d1", "CONSULTORIA", True), ("d2", "LIMPEZA", True), ("d3", "LEGADO-X", False))
    result = run_catalog()

    assert result.success
    checks = _checks(result)
    assert set(checks) == {
        "service_map_file_valid",
        "closed_deal_products_invoiceable",
        "tax_rates_follow_rules",
        "mapped_services_have_rates",
    }
    assert all(check.passed for check in checks.values())
    catalog = _metadata(result, "service_catalog")
    assert (catalog["dagster/row_count"], catalog["listing"], catalog["products_mapped"]) == (7, "full", 5)
    rates = _metadata(result, "tax_rates")
    assert (rates["regime"], rates["versions_opened"], rates["versions_closed"]) == ("lucro_presumido", 7, 0)


def test_unmapped_and_inactive_products_fail_the_check_by_name_without_failing_the_run(
    run_catalog, store_of, tmp_path
) -> None:
    service_map = write_map(tmp_path, "CONSULTORIA: SRV001\nHOSPEDAGEM: SRV007\n")
    add_deals(
        store_of,
        ("d1", "CONSULTORIA", True),
        ("d2", "HOSPEDAGEM", True),
        ("d3", "LEGADO-X", True),
        ("d4", "LEGADO-X", True),
    )
    result = run_catalog(service_map)

    assert result.success  # one deal's product never fails the run: the deals wait as issues
    check = _checks(result)["closed_deal_products_invoiceable"]
    assert check.passed is False and check.severity is dg.AssetCheckSeverity.ERROR
    assert "product HOSPEDAGEM maps to service SRV007, which is inactive" in check.description
    assert "product LEGADO-X has no service in the service map" in check.description
    assert "(2 deals)" in check.description
    metadata = {key: value.value for key, value in check.metadata.items()}
    assert metadata["products"] == {"HOSPEDAGEM": "inactive_service", "LEGADO-X": "unmapped"}
    assert (metadata["products_failing"], metadata["deals_waiting"]) == (2, 3)
    # The rates themselves were still refreshed: the product check does not hold them back.
    assert _metadata(result, "tax_rates")["versions_opened"] == 7


def test_a_bad_map_line_warns_with_its_line_and_the_rest_is_used(run_catalog, store_of, tmp_path) -> None:
    service_map = write_map(tmp_path, "CONSULTORIA: SRV001\nSUPORTE: 3\n")
    add_deals(store_of, ("d1", "CONSULTORIA", True))
    result = run_catalog(service_map)

    assert result.success  # WARN only
    check = _checks(result)["service_map_file_valid"]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "line 2 (SUPORTE): the service code '3' is read by YAML as a number" in check.description
    assert _metadata(result, "service_catalog")["products_mapped"] == 1


def test_a_rate_change_shows_in_the_metadata_and_a_broken_rule_fails_naming_service_and_rule(sim, run_catalog) -> None:
    assert run_catalog().success
    sim.update_service("SRV-SUPORTE", nAliqISS="6")
    result = run_catalog()

    assert result.success  # the check does not block: issuing refuses that service deal by deal
    rates = _metadata(result, "tax_rates")
    assert (rates["versions_opened"], rates["versions_closed"], rates["services_changed"]) == (1, 1, 1)
    assert "| SRV003 | changed | iss | 2.9 | 6 |" in rates["what_changed"]
    checks = _checks(result)
    rule = checks["tax_rates_follow_rules"]
    assert rule.passed is False
    assert rule.description.startswith("SRV003: iss_range: ISS is 6 %")
    assert checks["mapped_services_have_rates"].passed is True


def test_an_unknown_regime_fails_the_tax_rates_asset_loudly(sim, run_catalog) -> None:
    with sim.state.lock:
        sim.state.company.update(regime_tributario="", optante_simples_nacional="")
    result = run_catalog(tax_regime="")

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == "tax_rates"
    assert "UnknownRegimeError: company" in failure.step_failure_data.error.message
    assert "regime_tributario is empty" in failure.step_failure_data.error.message


def test_an_undocumented_regime_code_is_not_read_as_a_regime_until_confirmed(sim, run_catalog) -> None:
    assert sim.state.company["regime_tributario"] == "3"  # the simulated company sends a code
    unconfirmed = run_catalog(tax_regime="")
    assert not unconfirmed.success
    [failure] = [event for event in unconfirmed.all_events if event.is_step_failure]
    assert "no tax rates are derived from a guess" in failure.step_failure_data.error.message

    assert run_catalog(tax_regime="lucro_presumido").success


def test_the_projects_definitions_hold_the_catalog_assets_and_checks() -> None:
    from omie_pipeline.definitions import defs

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert {dg.AssetKey("service_catalog"), dg.AssetKey("tax_rates")} <= set(graph.get_all_asset_keys())
    check_names = {key.name for key in graph.asset_check_keys}
    assert {
        "closed_deal_products_invoiceable",
        "tax_rates_follow_rules",
        "mapped_services_have_rates",
        "service_map_file_valid",
    } <= check_names
