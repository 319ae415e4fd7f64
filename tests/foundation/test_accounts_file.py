"""The accounts file: what it lists, and a clear error naming the account and the field for what it gets wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from omie_pipeline.settings import SettingsError, load_accounts, load_settings

REPO = Path(__file__).resolve().parents[2]
GOOD = """
accounts:
  - id: acme
    name: ACME Serviços
    omie: {app_key_env: ACME_KEY, app_secret_env: ACME_SECRET}
    deals: {url_env: ACME_DEALS, table: won_deals, closed_statuses: "won,ganho"}
    service_map: config/acme_map.yaml
  - id: beta
    name: Beta
    omie: {app_key_env: BETA_KEY, app_secret_env: BETA_SECRET}
    deals: {url: deals.csv}
"""
VARIABLES = {
    "ACME_KEY": "111",
    "ACME_SECRET": "s-acme",
    "ACME_DEALS": "postgresql://reader:pw@crm/crm",
    "BETA_KEY": "222",
    "BETA_SECRET": "s-beta",
}


def _load(tmp_path: Path, text: str, variables: dict[str, str] | None = None):
    path = tmp_path / "accounts.yaml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings({"OMIE_PIPELINE_ACCOUNTS": str(path)})
    return load_accounts(settings, VARIABLES if variables is None else variables)


def test_each_account_gets_its_keys_source_statuses_and_map(tmp_path) -> None:
    acme, beta = _load(tmp_path, GOOD)

    assert (acme.id, acme.name, acme.app_key, acme.app_secret.get_secret_value()) == (
        "acme",
        "ACME Serviços",
        "111",
        "s-acme",
    )
    assert (acme.deals_url_env, acme.deals_table, acme.closed_statuses) == ("ACME_DEALS", "won_deals", "won,ganho")
    assert acme.service_map == Path("config/acme_map.yaml")
    assert (beta.deals_url, beta.closed_statuses, beta.service_map) == (
        "deals.csv",
        "won",
        Path("config/service_map.yaml"),
    )
    assert "s-acme" not in repr(acme) and "pw@crm" not in repr(acme)


def test_without_a_file_the_environment_is_the_one_account() -> None:
    settings = load_settings({"OMIE_PIPELINE_ACCOUNT": "solo", "OMIE_APP_KEY": "9", "OMIE_APP_SECRET": "x"})

    [solo] = load_accounts(settings, {})

    assert (solo.id, solo.app_key, solo.app_key_env) == ("solo", "9", "OMIE_APP_KEY")


@pytest.mark.parametrize(
    ("text", "variables", "message"),
    [
        (GOOD.replace("id: beta", "id: Beta!"), None, "account 'Beta!', field id: String should match pattern"),
        (
            GOOD.replace("    deals: {url: deals.csv}", "    deals: {url: deals.csv}\n    colour: red"),
            None,
            "account 'beta', field colour: Extra inputs are not permitted",
        ),
        (
            GOOD.replace("deals: {url: deals.csv}", "deals: {}"),
            None,
            "account 'beta', field deals: Value error, give exactly one",
        ),
        (GOOD.replace("id: beta", "id: acme"), None, "account 'acme', field id: listed twice"),
        (GOOD, {**VARIABLES, "BETA_KEY": ""}, "account 'beta', field omie.app_key_env: variable BETA_KEY is not set"),
        (
            GOOD,
            {**VARIABLES, "BETA_KEY": "111"},
            "account 'beta', field omie.app_key_env: holds the same app key as account 'acme'",
        ),
        ("accounts: []\n", None, "expected a non-empty list under 'accounts'"),
        ("accounts: [\n", None, "not valid YAML"),
    ],
)
def test_a_bad_file_names_the_account_and_the_field(tmp_path, text, variables, message) -> None:
    with pytest.raises(SettingsError) as failure:
        _load(tmp_path, text, variables)

    assert message in str(failure.value)
    assert str(failure.value).startswith("OMIE_PIPELINE_ACCOUNTS: ")
    assert "s-acme" not in str(failure.value) and "s-beta" not in str(failure.value)


def test_the_example_file_is_a_valid_accounts_file(tmp_path) -> None:
    variables = {
        name: f"v-{name}"
        for name in (
            "ACME_OMIE_APP_KEY",
            "ACME_OMIE_APP_SECRET",
            "ACME_DEALS_URL",
            "BETA_OMIE_APP_KEY",
            "BETA_OMIE_APP_SECRET",
            "ACME_SLACK_WEBHOOK_URL",
        )
    }
    accounts = _load(tmp_path, (REPO / "config" / "accounts.example.yaml").read_text(encoding="utf-8"), variables)

    assert [account.id for account in accounts] == ["acme", "beta"]
