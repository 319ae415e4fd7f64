"""Partitions: one per Omie account (company), registered dynamically."""

import dagster as dg

ACCOUNTS_PARTITION_NAME = "omie_account"

accounts = dg.DynamicPartitionsDefinition(name=ACCOUNTS_PARTITION_NAME)
