"""The `closed_deals` asset: closed CRM deals of one account, validated, with their issues."""

from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import (
    DealSourceResource,
    PipelineResource,
    StoreResource,
)
from omie_pipeline.sources import SourceError
from omie_pipeline.store.deals import deal_counts, open_issue_counts, open_issues
from omie_pipeline.sync.deals import DEFAULT_OVERLAP, VALIDATION_STAGE, pull_deals

GROUP = "clients"


class ClosedDealsConfig(dg.Config):
    full_refresh: bool = False  # read every deal of the source, ignoring the watermark
    overlap_minutes: int = int(DEFAULT_OVERLAP.total_seconds() // 60)  # re-read this much before the watermark


@dg.asset(partitions_def=accounts, group_name=GROUP, kinds={"sql", "csv"})
def closed_deals(
    context: dg.AssetExecutionContext,
    config: ClosedDealsConfig,
    deal_source: DealSourceResource,
    store: StoreResource,
    pipeline: PipelineResource,
) -> dg.MaterializeResult:
    """Closed deals of one account from the CRM, validated; a row that fails becomes a deal issue."""
    account = context.partition_key
    try:
        source = deal_source.source(pipeline.account_config(account))
        pulled = pull_deals(
            source,
            store.store(),
            account,
            closed_statuses=pipeline.statuses(account),
            full_refresh=config.full_refresh,
            overlap=timedelta(minutes=config.overlap_minutes),
            max_amount=pipeline.max_amount(),
        )
    except SourceError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
    with store.store().connect() as connection:
        counts = deal_counts(connection, account)
        open_by_reason = open_issue_counts(connection, account, VALIDATION_STAGE)
        shown = open_issues(connection, account, VALIDATION_STAGE, limit=MAX_TABLE_ROWS)
    context.log.info(
        "%s: %d rows read, %d closed (%d valid, %d invalid), %d reopened, %d not closed",
        pulled.source,
        pulled.read,
        pulled.closed,
        pulled.valid,
        pulled.invalid,
        pulled.reopened,
        pulled.not_closed,
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": counts["stored"],
            "source": pulled.source,
            "pull": "full" if pulled.full_refresh or pulled.since is None else "incremental",
            "read_from": pulled.since.isoformat() if pulled.since else "the beginning",
            "watermark": pulled.watermark.isoformat() if pulled.watermark else "none",
            "rows_read": pulled.read,
            "closed": pulled.closed,
            "valid": pulled.valid,
            "invalid": pulled.invalid,
            "not_closed_ignored": pulled.not_closed,
            "reopened": pulled.reopened,
            "older_than_stored": pulled.stale,
            "issues_resolved": pulled.resolved_issues,
            "issues_by_reason": dg.MetadataValue.json(dict(pulled.issues_by_reason)),
            "deals_valid_total": counts["valid"],
            "deals_invalid_total": counts["invalid"],
            "open_validation_issues": sum(open_by_reason.values()),
            **{f"open_issues/{reason}": count for reason, count in sorted(open_by_reason.items())},
            **({"open_issues": dg.MetadataValue.md(_issue_table(shown))} if shown else {}),
        }
    )


def _issue_table(rows) -> str:
    return markdown_table(
        ("deal", "field", "reason", "value", "fix"),
        [(row.deal_id, row.field, row.reason, row.raw_value or "", row.fix or "") for row in rows],
    )


DEAL_ASSETS = [closed_deals]
