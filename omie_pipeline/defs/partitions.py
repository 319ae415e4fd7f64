"""Partitions: one per Omie account (company), registered dynamically."""

import dagster as dg

ACCOUNTS_PARTITION_NAME = "omie_account"

accounts = dg.DynamicPartitionsDefinition(name=ACCOUNTS_PARTITION_NAME)

RUN_SLOT_TAG = "omie_pipeline/run_slot"
"""Tag on every run of a partitioned job: `<job kind>:<account>`. The instance allows one run per
value, so each account has one emission run at a time, while its status refresh, catalog and
report runs (slots of their own) may run beside it."""


def run_slot(kind: str, account: str) -> str:
    return f"{kind}:{account}"
