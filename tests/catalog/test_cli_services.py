"""`omie-pipeline services list / load-map / history` on a real store, refreshed from the simulator."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from omie_pipeline.cli import main
from omie_pipeline.store import Store

from .conftest import ACCOUNT, add_deals, write_map


@pytest.fixture
def env(sim, db_url: str, tmp_path, monkeypatch):
    values = {
        "OMIE_BASE_URL": sim.base_url,
        "OMIE_APP_KEY": sim.config.app_key,
        "OMIE_APP_SECRET": sim.config.app_secret,
        "OMIE_PIPELINE_DB_URL": db_url,
        "OMIE_PIPELINE_ACCOUNT": ACCOUNT,
        "OMIE_RATE_WINDOW_SECONDS": "1",
        "OMIE_REDUNDANT_SECONDS": "0",
        "OMIE_PIPELINE_SERVICE_MAP": str(write_map(tmp_path, "CONSULTORIA: SRV001\nHOSPEDAGEM: SRV007\n")),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    store = Store(db_url)
    add_deals(store, ("d1", "CONSULTORIA", True), ("d2", "HOSPEDAGEM", True), ("d3", "LEGADO-X", True))
    store.dispose()
    return values


def _invoke(*args: str):
    return CliRunner().invoke(main, ["services", *args], catch_exceptions=False)


def test_list_refresh_prints_the_catalog_and_the_products_that_cannot_be_invoiced(env) -> None:
    before = _invoke("list")
    assert before.exit_code == 0 and "0 services" in before.output

    result = _invoke("list", "--refresh")

    assert result.exit_code == 0, result.output
    assert "refreshed from Omie: 7 services listed (full), 7 rate versions opened" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Account acme: regime lucro_presumido; 7 services, 2 products mapped"
    consulting = next(line for line in lines if line.startswith("SRV001"))
    assert "R$1,500.00" in consulting and "PIS COFINS CSLL IR" in consulting and "CONSULTORIA" in consulting
    assert next(line for line in lines if line.startswith("SRV007")).split()[1] == "no"
    assert "  LEGADO-X: unmapped (1 deal)" in result.output
    assert "  HOSPEDAGEM: inactive_service (1 deal)" in result.output
    assert env["OMIE_APP_SECRET"] not in result.output


def test_list_counts_with_the_plural_forms_of_portuguese(env, portuguese) -> None:
    result = _invoke("list", "--refresh")

    assert result.exit_code == 0, result.output
    assert "atualizado do Omie: 7 serviços listados (completo), 7 versões de alíquotas abertas" in result.stderr
    assert result.stdout.splitlines()[0] == "Conta acme: regime lucro_presumido; 7 serviços, 2 produtos mapeados"
    assert "  LEGADO-X: unmapped (1 negócio)" in result.output


def test_list_json_holds_services_rates_map_and_unmapped_products(env) -> None:
    _invoke("list", "--refresh")
    data = json.loads(_invoke("list", "--json").stdout)

    assert data["regime"] == "lucro_presumido"
    consulting = next(service for service in data["services"] if service["code"] == "SRV001")
    assert (consulting["products"], consulting["unit_price"], consulting["rates"]["iss"]) == (
        ["CONSULTORIA"],
        "1500.00",
        "2.9",
    )
    assert consulting["rates"]["retain_ir"] is True
    assert data["service_map"] == {"CONSULTORIA": "SRV001", "HOSPEDAGEM": "SRV007"}
    assert {item["product_code"]: item["problem"] for item in data["unmapped_products"]} == {
        "HOSPEDAGEM": "inactive_service",
        "LEGADO-X": "unmapped",
    }


def test_history_shows_each_version_with_its_period(sim, env) -> None:
    _invoke("list", "--refresh")
    sim.update_service("SRV-CONSULTORIA", nAliqISS="5")
    _invoke("list", "--refresh")

    result = _invoke("history", "SRV001")
    lines = [line for line in result.output.splitlines() if line.startswith("SRV001")]
    assert len(lines) == 2 and "in force" not in lines[0] and lines[1].endswith("in force  lucro_presumido")
    versions = json.loads(_invoke("history", "SRV001", "--json").stdout)
    assert [(v["iss"], v["valid_to"] is None) for v in versions] == [("2.9", False), ("5", True)]
    assert versions[0]["valid_to"] == versions[1]["valid_from"]


def test_load_map_reports_bad_lines_and_exits_non_zero(env, tmp_path) -> None:
    bad = write_map(tmp_path, "CONSULTORIA: SRV001\nSUPORTE: 003\n", "bad.yaml")
    result = CliRunner().invoke(main, ["services", "load-map", "--file", str(bad)])
    assert result.exit_code == 1
    assert "1 product mapped from" in result.output and "products" not in result.output
    assert "left out: line 2 (SUPORTE)" in result.output


def test_refresh_without_credentials_says_which_variable_is_missing(env, monkeypatch) -> None:
    monkeypatch.delenv("OMIE_APP_SECRET")
    result = CliRunner().invoke(main, ["services", "list", "--refresh"])
    assert result.exit_code == 1
    assert "missing OMIE_APP_SECRET" in result.output


def test_list_on_an_empty_store_says_nothing_is_loaded_and_how_to_load_it(env) -> None:
    result = _invoke("list")
    assert result.exit_code == 0, result.output
    assert "Nothing loaded yet" in result.output
    assert "services list --refresh" in result.output and "services load-map" in result.output
    assert "Every product" not in result.output


def test_a_map_line_naming_a_service_outside_the_catalog_is_a_problem_not_a_mapping(env, tmp_path) -> None:
    _invoke("list", "--refresh")
    path = write_map(tmp_path, "CONSULTORIA: SRV001\nHOSPEDAGEM: SRV007\nEXTRA: SRV999\n")
    assert _invoke("load-map", "--file", str(path)).exit_code == 0

    result = _invoke("list")

    assert result.stdout.splitlines()[0].endswith("7 services, 2 products mapped")
    assert "  EXTRA: SRV999 is not in Omie's catalog" in result.output
    assert "Every product" not in result.output
    data = json.loads(_invoke("list", "--json").stdout)
    assert data["map_lines_outside_catalog"] == {"EXTRA": "SRV999"}
