"""Checks of the invoicing assets.

The invariant that matters most, no two invoices share one OS or one NFS-e, is an ERROR check
that the `failed_checks` sensor alerts on (see `defs/checks/__init__.py` for why none blocks).
The others are warnings for people: intents whose outcome is still unknown, deals that cannot be
invoiced yet, invoices stuck (past the pipeline resource's threshold, the one the alert sensors
and the report use) or in error.
"""

import shlex
from datetime import timedelta

import dagster as dg

from omie_pipeline.alerts.text import format_duration
from omie_pipeline.defs.assets.invoices import nfse_invoices, nfse_status
from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, brief, markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import PipelineResource, StoreResource
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import _, ngettext
from omie_pipeline.store.invoices import (
    duplicated_omie_ids,
    list_invoices,
    open_invoice_issues,
    pending_since,
    stuck_invoices,
    unresolved_intents,
)

# An intent older than this without its OS in Omie is an outcome nobody settled.
UNRESOLVED_AFTER = timedelta(minutes=30)


@dg.asset_check(
    asset=nfse_invoices,
    name="nfse_invoices_one_os_and_nfse_each",
    blocking=False,
    partitions_def=accounts,
    description="No two invoices hold the same Omie OS or the same NFS-e number.",
)
def nfse_invoices_one_os_and_nfse_each(
    context: dg.AssetCheckExecutionContext, store: StoreResource
) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        duplicated = duplicated_omie_ids(connection, context.partition_key)
    return dg.AssetCheckResult(
        passed=not duplicated,
        severity=dg.AssetCheckSeverity.ERROR,
        description=_("every invoice has its own OS and NFS-e")
        if not duplicated
        else _("shared by several deals: {shared}").format(
            shared="; ".join(f"{what}: {', '.join(deals)}" for what, deals in duplicated.items())
        ),
        metadata={"duplicates": len(duplicated), "details": dg.MetadataValue.json(duplicated)},
    )


@dg.asset_check(
    asset=nfse_invoices,
    name="nfse_invoices_outcomes_known",
    partitions_def=accounts,
    description="No intent has waited more than 30 minutes without its OS in Omie (an outcome nobody could settle).",
)
def nfse_invoices_outcomes_known(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        stale = unresolved_intents(connection, context.partition_key, now_utc() - UNRESOLVED_AFTER)
    rows = [(i.deal_id, i.idempotency_key, i.created_at.isoformat(timespec="seconds")) for i in stale]
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description=_("every intent reached Omie or was settled")
        if not stale
        else ngettext(
            "{count} intent still without an OS: look its key up in Omie (ConsultarOS cCodIntOS); "
            "the next emission run does it by itself",
            "{count} intents still without an OS: look their keys up in Omie (ConsultarOS cCodIntOS); "
            "the next emission run does it by itself",
            len(stale),
        ).format(count=len(stale)),
        metadata={
            "unresolved": len(stale),
            **({"intents": dg.MetadataValue.md(markdown_table(("deal", "key", "since"), rows))} if rows else {}),
        },
    )


@dg.asset_check(
    asset=nfse_invoices,
    name="nfse_invoices_deals_ready",
    partitions_def=accounts,
    description="Every valid closed deal has what its invoice needs (client, service, rates, fields).",
)
def nfse_invoices_deals_ready(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        issues = open_invoice_issues(connection, context.partition_key)
    rows = [(issue["deal_id"], issue["field"], issue["reason"], issue["fix"] or "") for issue in issues]
    return dg.AssetCheckResult(
        passed=not issues,
        severity=dg.AssetCheckSeverity.WARN,
        description=_("no deal is waiting for data") if not issues else _waiting_for_data(issues),
        metadata={
            "deal_issues": len(issues),
            **(
                {"issues": dg.MetadataValue.md(markdown_table(("deal", "field", "reason", "fix"), brief(rows)))}
                if rows
                else {}
            ),
        },
    )


@dg.asset_check(
    asset=nfse_status,
    name="nfse_status_issued_complete",
    partitions_def=accounts,
    description="Every issued or cancelled invoice has its NFS-e number and verification code "
    "(a warning: one note's missing data never fails the refresh).",
)
def nfse_status_issued_complete(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        done = list_invoices(connection, context.partition_key, (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED))
    incomplete = [i.deal_id for i in done if not i.nfse_number or not i.verification_code]
    return dg.AssetCheckResult(
        passed=not incomplete,
        severity=dg.AssetCheckSeverity.WARN,
        description=_("every issued note has its number and verification code")
        if not incomplete
        else _("issued without number or verification code: {deals}").format(
            deals=", ".join(incomplete[:MAX_TABLE_ROWS])
        ),
        metadata={"incomplete": len(incomplete), "issued_or_cancelled": len(done)},
    )


@dg.asset_check(
    asset=nfse_status,
    name="nfse_status_none_stuck",
    partitions_def=accounts,
    description="No invoice has been submitted or processing for longer than OMIE_PIPELINE_STUCK_AFTER_MINUTES.",
)
def nfse_status_none_stuck(
    context: dg.AssetCheckExecutionContext, store: StoreResource, pipeline: PipelineResource
) -> dg.AssetCheckResult:
    limit = pipeline.stuck_after()
    oldest_allowed = now_utc() - limit
    with store.store().connect() as connection:
        stuck = stuck_invoices(connection, context.partition_key, oldest_allowed)
    rows = [(i.deal_id, i.status, pending_since(i).isoformat(timespec="minutes")) for i in stuck]
    return dg.AssetCheckResult(
        passed=not stuck,
        severity=dg.AssetCheckSeverity.WARN,
        description=_("nothing stuck")
        if not stuck
        else ngettext(
            "{count} invoice pending for more than {limit}: check the prefeitura's service in Omie, then "
            "{command} (likewise for each deal in the table)",
            "{count} invoices pending for more than {limit}: check the prefeitura's service in Omie, then "
            "{command} (likewise for each deal in the table)",
            len(stuck),
        ).format(
            count=len(stuck),
            limit=format_duration(limit),
            command=f"`omie-pipeline invoices wait {shlex.quote(stuck[0].deal_id)}`",
        ),
        metadata={
            "stuck": len(stuck),
            **({"invoices": dg.MetadataValue.md(markdown_table(("deal", "status", "since"), rows))} if rows else {}),
        },
    )


@dg.asset_check(
    asset=nfse_status,
    name="nfse_status_no_errors",
    partitions_def=accounts,
    description="No invoice is in error (each one needs a person; its fix is stored with it).",
)
def nfse_status_no_errors(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        failed = list_invoices(connection, context.partition_key, (InvoiceStatus.ERROR,))
    rows = [(i.deal_id, i.last_error or _("(message not read yet)"), i.fix or "") for i in failed]
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=_("no invoice in error")
        if not failed
        else ngettext("{count} invoice in error", "{count} invoices in error", len(failed)).format(count=len(failed)),
        metadata={
            "errors": len(failed),
            **(
                {"invoices": dg.MetadataValue.md(markdown_table(("deal", "error", "fix"), brief(rows)))} if rows else {}
            ),
        },
    )


def _waiting_for_data(issues: list) -> str:
    deals = len({issue["deal_id"] for issue in issues})
    return ngettext("{count} deal cannot be invoiced yet", "{count} deals cannot be invoiced yet", deals).format(
        count=deals
    )


INVOICE_CHECKS = [
    nfse_invoices_one_os_and_nfse_each,
    nfse_invoices_outcomes_known,
    nfse_invoices_deals_ready,
    nfse_status_issued_complete,
    nfse_status_none_stuck,
    nfse_status_no_errors,
]
