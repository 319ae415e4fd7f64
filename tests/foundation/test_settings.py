"""Settings: defaults, clear errors naming the variable, and secrets that never show."""

from __future__ import annotations

import pytest

from omie_pipeline.settings import SettingsError, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings({})
    assert settings.omie_base_url == "https://app.omie.com.br/api/v1/"
    assert settings.omie_pipeline_stuck_after_minutes == 30
    assert settings.closed_statuses == {"won"}


def test_malformed_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="OMIE_PIPELINE_STUCK_AFTER_MINUTES"):
        load_settings({"OMIE_PIPELINE_STUCK_AFTER_MINUTES": "soon"})
    with pytest.raises(SettingsError, match="OMIE_BASE_URL"):
        load_settings({"OMIE_BASE_URL": "app.omie.com.br"})


def test_missing_credentials_name_both_variables() -> None:
    with pytest.raises(SettingsError, match="OMIE_APP_KEY and OMIE_APP_SECRET"):
        load_settings({}).require_omie_credentials()


def test_secrets_never_appear_in_repr_or_errors() -> None:
    settings = load_settings(
        {
            "OMIE_APP_KEY": "123",
            "OMIE_APP_SECRET": "s3cr3t-value",
            "OMIE_PIPELINE_SLACK_WEBHOOK_URL": "https://hooks.example/T000/very-secret",
        }
    )
    assert "s3cr3t-value" not in repr(settings) and "very-secret" not in repr(settings)
    assert settings.require_omie_credentials() == ("123", "s3cr3t-value")
    with pytest.raises(SettingsError) as caught:
        load_settings({"OMIE_PIPELINE_ALERT_WEBHOOK_URL": ["not", "a", "string"]})
    assert "not" not in str(caught.value).split(":", 1)[1].replace("OMIE_PIPELINE_ALERT_WEBHOOK_URL", "")


def test_closed_statuses_are_configurable() -> None:
    settings = load_settings({"OMIE_PIPELINE_CLOSED_STATUSES": "won, Closed-Won ,"})
    assert settings.closed_statuses == {"won", "closed-won"}


def test_status_grace_is_ten_minutes_unless_configured() -> None:
    assert load_settings({}).omie_pipeline_status_grace_minutes == 10
    assert load_settings({"OMIE_PIPELINE_STATUS_GRACE_MINUTES": "2.5"}).omie_pipeline_status_grace_minutes == 2.5
    with pytest.raises(SettingsError, match="OMIE_PIPELINE_STATUS_GRACE_MINUTES"):
        load_settings({"OMIE_PIPELINE_STATUS_GRACE_MINUTES": "-1"})


def test_the_state_store_defaults_to_a_sqlite_file_in_dagster_home(tmp_path) -> None:
    assert (
        load_settings({"DAGSTER_HOME": str(tmp_path)}).db_url == f"sqlite:///{tmp_path.resolve()}/omie_pipeline.sqlite"
    )
    assert load_settings({"OMIE_PIPELINE_DB_URL": "postgresql://db/x"}).db_url == "postgresql://db/x"


def test_pacing_is_shared_through_a_file_in_dagster_home_unless_redis_is_named(tmp_path) -> None:
    assert (
        load_settings({"DAGSTER_HOME": str(tmp_path)}).pacing_url
        == f"sqlite:///{tmp_path.resolve()}/omie_pacing.sqlite"
    )
    redis_url = "redis://:pacing-pass@cache:6379/2"
    settings = load_settings({"OMIE_PIPELINE_PACING_URL": redis_url})
    assert settings.pacing_url == redis_url and "pacing-pass" not in repr(settings)
    with pytest.raises(SettingsError, match="OMIE_PIPELINE_PACING_URL") as caught:
        load_settings({"OMIE_PIPELINE_PACING_URL": "memcached://pacing-pass@cache"})
    assert "pacing-pass" not in str(caught.value)
