"""The deployment files are checked by Dagster's own config schemas, and the executor follows settings."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import yaml
from dagster._config import Shape, validate_config
from dagster._core.instance.config import dagster_instance_config_schema
from dagster_docker import DockerRunLauncher
from dagster_k8s import K8sRunLauncher

from omie_pipeline.defs.executors import build_executor
from omie_pipeline.runner.instance import limits_one_run_per_account
from omie_pipeline.settings import SettingsError, load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _load(name: str) -> dict:
    return yaml.safe_load((DEPLOY / name).read_text(encoding="utf-8"))


def _instance_errors(config: dict) -> list[str]:
    result = validate_config(Shape(dagster_instance_config_schema()), config)
    return [error.message for error in result.errors or []]


def test_instance_file_is_valid_and_holds_the_per_account_limit():
    config = _load("dagster.yaml")
    assert _instance_errors(config) == []
    assert limits_one_run_per_account(config)
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_retries"] == {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": False}


def test_instance_schema_rejects_a_misspelled_section():
    config = _load("dagster.yaml")
    config["run_monitoring"]["enabeld"] = True
    assert _instance_errors(config)


@pytest.mark.parametrize(
    ("name", "launcher"),
    [("helm/k8s-run-launcher.yaml", K8sRunLauncher), ("docker-run-launcher.yaml", DockerRunLauncher)],
)
def test_run_launchers_pass_their_own_schema(name, launcher):
    config = _load(name)["run_launcher"]
    assert validate_config(launcher.config_type(), config["config"]).success
    assert validate_config(launcher.config_type(), {**config["config"], "no_such_field": 1}).success is False
    merged = {**_load("dagster.yaml"), "run_launcher": config}
    assert _instance_errors(merged) == []


def test_helm_values_carry_the_instance_settings():
    values = _load("helm/values.yaml")
    daemon = values["dagsterDaemon"]
    instance = _load("dagster.yaml")
    limits = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert limits == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert daemon["runMonitoring"]["enabled"] and daemon["runRetries"]["maxRetries"] == 1
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_celery_worker_file_passes_the_executor_schema():
    from dagster_celery.executor import CELERY_CONFIG

    config = _load("celery.yaml")["execution"]["config"]
    assert validate_config(Shape(CELERY_CONFIG), config).success


def test_executor_is_chosen_by_settings_and_hides_the_broker():
    assert build_executor(load_settings({})).name == "multiprocess"
    broker = "redis://:p4ss-broker@127.0.0.1:6379/0"
    executor = build_executor(
        load_settings({"OMIE_PIPELINE_EXECUTOR": "celery", "OMIE_PIPELINE_CELERY_BROKER": broker})
    )
    assert executor.name == "celery"
    assert "p4ss-broker" not in repr(executor.config_schema) and "p4ss-broker" not in str(executor.__dict__)


def test_celery_without_a_broker_is_refused_without_echoing_secrets():
    with pytest.raises(SettingsError) as raised:
        load_settings({"OMIE_PIPELINE_EXECUTOR": "celery", "OMIE_APP_SECRET": "s3cr3t-VALUE-xyz"})
    assert "OMIE_PIPELINE_CELERY_BROKER" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


def _dockerfile() -> dict[str, str]:
    """The Dockerfile's WORKDIR and ENV values (the image cannot be built here: no Docker daemon)."""
    values: dict[str, str] = {}
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    for line in text.splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "WORKDIR":
            values["WORKDIR"] = rest.strip()
        elif instruction == "ENV":
            values.update(pair.split("=", 1) for pair in rest.split())
        elif instruction == "RUN" and "pip install" in rest:
            values.setdefault("installs", "")
            values["installs"] += rest
    return values


def test_every_deployment_names_the_one_image_the_dockerfile_builds():
    compose = _load("compose.yaml")
    ours = {name: service for name, service in compose["services"].items() if service.get("build")}
    assert set(ours) == {"code-server", "webserver", "daemon", "worker"}
    images = {service["image"] for service in ours.values()}
    helm = _load("helm/values.yaml")["dagster-user-deployments"]["deployments"][0]["image"]
    images |= {_load("docker-run-launcher.yaml")["run_launcher"]["config"]["image"]}
    images |= {f"{helm['repository']}:{helm['tag']}"}
    assert images == {"omie-pipeline:latest"}
    for service in ours.values():
        assert (
            DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]
        ).resolve() == DEPLOY / "Dockerfile"
    assert "'.[deploy]'" in _dockerfile()["installs"]


def test_compose_services_have_health_checks_and_their_files_and_commands_exist():
    compose = _load("compose.yaml")
    image = _dockerfile()
    scripts = Path(sys.executable).parent  # the console scripts the `deploy` extra installs
    for name, service in compose["services"].items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        if not service.get("build"):
            continue
        for volume in service["volumes"]:
            source, target, _mode = volume.split(":")
            assert (DEPLOY / source).is_file(), (name, source)
            assert target.startswith(image["WORKDIR"] + "/"), (name, target)
        assert f"{image['DAGSTER_HOME']}/dagster.yaml" in [v.split(":")[1] for v in service["volumes"]]
        check = service["healthcheck"]["test"]
        for command in (service["command"].split(), check[1].split() if check[0] == "CMD-SHELL" else check[1:]):
            program = command[0]
            assert program == "python" or (scripts / program).is_file(), (name, program)
            for argument in command:
                if argument.startswith(image["WORKDIR"] + "/"):
                    mounted = [v.split(":")[1] for v in service["volumes"]]
                    assert argument in mounted, (name, argument)
        if "-m" in service["command"].split():
            module = service["command"].split()[service["command"].split().index("-m") + 1]
            assert importlib.util.find_spec(module) is not None


def test_workers_and_executor_reserve_no_step_behind_a_running_one():
    from omie_pipeline.defs.executors import WORKER_SETTINGS

    assert _load("celery.yaml")["execution"]["config"]["config_source"] == WORKER_SETTINGS
    assert WORKER_SETTINGS["task_acks_late"] is True
