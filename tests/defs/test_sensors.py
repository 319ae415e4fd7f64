"""The account registration sensor (the alert sensors are tested with the alerts, in tests/alerts/)."""

from __future__ import annotations

import dagster as dg

from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import PipelineResource
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
