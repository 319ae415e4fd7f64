"""Resources are made from settings read once: secrets bound as environment variables, thresholds defined once."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from omie_pipeline.definitions import build_definitions
from omie_pipeline.defs.resources import AlertsResource, OmieResource, PipelineResource, build_resources
from omie_pipeline.settings import SettingsError, load_settings

SECRET = "s3cr3t-omie-value"
SLACK = "https://hooks.slack.com/services/T1/B2/slack-token"
ENVIRONMENT = {
    "OMIE_APP_KEY": "app-key-1",
    "OMIE_APP_SECRET": SECRET,
    "OMIE_PIPELINE_SLACK_WEBHOOK_URL": SLACK,
    "OMIE_PIPELINE_STUCK_AFTER_MINUTES": "45",
    "OMIE_PIPELINE_ACCOUNT": "acme",
    "OMIE_PIPELINE_DAGSTER_UI_URL": "https://dagster.example/",
    "OMIE_PAGE_SIZES": "ListarOS=150",
}


def test_secrets_are_bound_by_name_and_their_values_never_held_by_the_definitions() -> None:
    resources = build_resources(load_settings(ENVIRONMENT))
    omie, alerts = resources["omie"], resources["alerts"]
    assert isinstance(omie.app_secret, dg.EnvVar) and omie.app_secret == "OMIE_APP_SECRET"
    assert isinstance(omie.app_key, dg.EnvVar)
    assert isinstance(alerts.slack_webhook_url, dg.EnvVar) and alerts.webhook_url == ""
    shown = repr(resources)
    assert SECRET not in shown and "slack-token" not in shown


def test_unset_secrets_leave_the_definitions_loadable_and_name_the_variable_when_used() -> None:
    defs = build_definitions(load_settings({}))
    dg.Definitions.validate_loadable(defs)
    with pytest.raises(SettingsError, match="OMIE_APP_KEY and OMIE_APP_SECRET"):
        defs.resources["omie"].client()


def test_a_run_reads_the_secret_from_the_environment_it_runs_in(monkeypatch) -> None:
    monkeypatch.setenv("OMIE_APP_KEY", "app-key-1")
    monkeypatch.setenv("OMIE_APP_SECRET", SECRET)
    seen: list[str] = []

    @dg.op
    def read_secret(omie: OmieResource) -> None:
        seen.append(omie.app_secret)

    @dg.job
    def secret_job() -> None:
        read_secret()

    resources = build_resources(load_settings(ENVIRONMENT))
    assert secret_job.execute_in_process(resources={"omie": resources["omie"]}).success
    assert seen == [SECRET]


def test_each_threshold_has_one_definition_shared_by_settings_and_resources() -> None:
    defaults = load_settings({})
    pipeline = PipelineResource()
    assert pipeline.stuck_after_minutes == defaults.omie_pipeline_stuck_after_minutes
    assert pipeline.status_grace_minutes == defaults.omie_pipeline_status_grace_minutes
    assert pipeline.statuses() == defaults.closed_statuses
    assert OmieResource().redundant_seconds == defaults.omie_redundant_seconds
    assert AlertsResource().ui_url() == defaults.omie_pipeline_dagster_ui_url.rstrip("/")


def test_the_settings_reach_every_resource_that_uses_them() -> None:
    resources = build_resources(load_settings(ENVIRONMENT))
    assert resources["pipeline"].stuck_after() == timedelta(minutes=45)
    assert resources["pipeline"].account == "acme"
    assert resources["omie"].page_sizes == {"ListarOS": 150}
    assert resources["alerts"].ui_url() == "https://dagster.example"


def test_the_pacing_url_is_bound_by_name_else_the_file_in_dagster_home(tmp_path) -> None:
    named = build_resources(load_settings({**ENVIRONMENT, "OMIE_PIPELINE_PACING_URL": "redis://:pw-77@cache:6379/0"}))
    assert isinstance(named["omie"].pacing_url, dg.EnvVar) and "pw-77" not in repr(named)
    default = build_resources(load_settings({**ENVIRONMENT, "DAGSTER_HOME": str(tmp_path)}))
    assert default["omie"].pacing_url == f"sqlite:///{tmp_path.resolve()}/omie_pacing.sqlite"
