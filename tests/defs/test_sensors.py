"""The account registration sensor (the alert sensors are tested with the alerts, in tests/alerts/)."""

from __future__ import annotations

import dagster as dg
import pytest

from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import AccountConfig, AccountNotConfiguredError, PipelineResource
from omie_pipeline.defs.sensors import omie_accounts


def test_the_accounts_sensor_registers_the_configured_account_once() -> None:
    resources = {"pipeline": PipelineResource(account="acme")}
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            [request] = omie_accounts(context).dynamic_partitions_requests
        assert list(request.partition_keys) == ["acme"]
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, ["acme"])
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            assert "already registered" in omie_accounts(context).skip_message


def _account(account_id: str) -> AccountConfig:
    return AccountConfig(
        id=account_id,
        name=account_id.title(),
        app_key_env=f"{account_id.upper()}_KEY",
        app_secret_env=f"{account_id.upper()}_SECRET",
        deals_url="deals.csv",
    )


def test_accounts_added_to_or_removed_from_the_file_follow_in_the_partitions() -> None:
    resources = {"pipeline": PipelineResource(account="main", accounts=[_account("acme"), _account("beta")])}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, ["acme", "gone"])
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            add, delete = omie_accounts(context).dynamic_partitions_requests

    assert list(add.partition_keys) == ["beta"]
    assert list(delete.partition_keys) == ["gone"]


def test_a_run_of_an_account_no_longer_in_the_file_is_refused_naming_it() -> None:
    pipeline = PipelineResource(account="main", accounts=[_account("acme")])

    with pytest.raises(AccountNotConfiguredError, match="account 'gone' is not in the accounts file"):
        pipeline.account_config("gone")
    assert pipeline.account_config("acme").name == "Acme"
