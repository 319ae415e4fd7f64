"""Registers the configured Omie account as a partition, so schedules and the UI see it."""

from __future__ import annotations

import dagster as dg

from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME, accounts
from omie_pipeline.settings import load_settings


@dg.sensor(name="omie_accounts", minimum_interval_seconds=300,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Adds OMIE_PIPELINE_ACCOUNT to the omie_account partitions when it is new.")
def omie_accounts(context: dg.SensorEvaluationContext):
    account = load_settings().omie_pipeline_account
    if context.instance.has_dynamic_partition(ACCOUNTS_PARTITION_NAME, account):
        return dg.SkipReason(f"account {account!r} is already registered")
    return dg.SensorResult(dynamic_partitions_requests=[accounts.build_add_request([account])])
