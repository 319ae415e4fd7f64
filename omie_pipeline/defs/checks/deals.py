"""Check of `closed_deals`: every deal that failed validation says why."""

import dagster as dg

from omie_pipeline.defs.assets.deals import closed_deals
from omie_pipeline.defs.metadata import MAX_TABLE_ROWS
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import StoreResource
from omie_pipeline.i18n import _, ngettext
from omie_pipeline.store.deals import invalid_deals_without_issue


@dg.asset_check(
    asset=closed_deals,
    name="invalid_deals_listed",
    partitions_def=accounts,
    description="Every closed deal that failed validation has an open issue saying why.",
)
def invalid_deals_listed(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        unlisted = invalid_deals_without_issue(connection, context.partition_key)
    return dg.AssetCheckResult(
        passed=not unlisted,
        severity=dg.AssetCheckSeverity.ERROR,
        description=_("every invalid deal has an open issue")
        if not unlisted
        else ngettext(
            "{count} invalid deal without an open issue: {deals}",
            "{count} invalid deals without an open issue: {deals}",
            len(unlisted),
        ).format(count=len(unlisted), deals=", ".join(unlisted[:MAX_TABLE_ROWS])),
        metadata={"invalid_deals_without_issue": len(unlisted)},
    )


DEAL_CHECKS = [invalid_deals_listed]
