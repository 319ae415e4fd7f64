"""Invoicing assets: `nfse_invoices` (issued exactly once) and `nfse_status` (kept current).

Both call the plain functions of sync/; what they return becomes metadata worth plotting (counts
per outcome and per status).
"""

from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.metadata import brief, markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource, account_client
from omie_pipeline.defs.retries import READ_RETRY
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store.invoices import status_counts
from omie_pipeline.sync.deal_changes import detect_sale_changes
from omie_pipeline.sync.invoice_resend import resend_changed_invoices
from omie_pipeline.sync.invoice_status import (
    RefreshSettings,
    parse_deal_ids,
    refresh_statuses,
)
from omie_pipeline.sync.invoices import InvoiceSteps, IssueSettings, Outcome, issue_invoices

GROUP = "invoicing"
REFRESH_DEALS_TAG = "omie_pipeline/refresh_deals"
"""Run tag naming deals to re-check with StatusOS (comma separated), set by the alert sensors."""
# Issuing is safe to rerun by construction (intent rows, claims, look-ups before any resend).
ISSUE_RETRY = dg.RetryPolicy(max_retries=1, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
STATUS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2), warn_window=timedelta(hours=1))


@dg.asset(
    partitions_def=accounts,
    pool="omie_api",
    group_name=GROUP,
    kinds={"omie"},
    deps=["client_links", "tax_rates"],
    retry_policy=ISSUE_RETRY,
)
def nfse_invoices(
    context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """One NFS-e per closed deal of one account, issued exactly once (intent, OS, invoicing); refused
    invoices fixed since are billed again on their OS."""
    account = context.partition_key
    client = account_client(omie, store, pipeline, account)
    settings = IssueSettings(redundant_interval=omie.redundant_interval())
    # A retry or re-execution of a failed run (same root run) takes over the deals its dead attempt
    # held at once, instead of waiting out their lease: Dagster starts it only once that attempt
    # has ended, and what it sent is adopted from Omie by its key.
    claimer = f"dagster:{context.run.root_run_id or context.run.run_id}"
    summary = issue_invoices(client, store.store(), account, settings=settings, claimer=claimer)
    # Refused invoices whose deal, client, service or rates changed since are corrected and billed again.
    summary.results.extend(resend_changed_invoices(InvoiceSteps(client, store.store(), account, settings, claimer)))
    # Issued notes whose deal was reopened, lost or changed in amount become issues (nothing is cancelled).
    changed_sales = detect_sale_changes(store.store(), account, closed_statuses=pipeline.statuses(account))
    for result in summary.results:
        if result.outcome in (Outcome.FAILED, Outcome.UNKNOWN, Outcome.ERROR, Outcome.REFUSED, Outcome.WAITING):
            context.log.warning("deal %s: %s: %s", result.deal_id, result.outcome.value, result.detail)
    with store.store().connect() as connection:
        by_status = status_counts(connection, account)
    # Deals awaiting a fix are listed by the nfse_invoices_deals_ready check, with their fix.
    noteworthy = [
        (r.deal_id, r.outcome.value, r.detail)
        for r in summary.results
        if r.outcome not in (Outcome.SUBMITTED, Outcome.SKIPPED, Outcome.AWAITING_FIX)
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(by_status.values()),
            **{f"outcome_{name}": count for name, count in summary.counts.items()},
            **{f"status_{status.value}": by_status.get(status.value, 0) for status in InvoiceStatus},
            **(
                {
                    "needs_attention": dg.MetadataValue.md(
                        markdown_table(("deal", "outcome", "detail"), brief(noteworthy))
                    )
                }
                if noteworthy
                else {}
            ),
            **(
                {"paused_calls": dg.MetadataValue.md(markdown_table(("call", "why"), brief(summary.paused.items())))}
                if summary.paused
                else {}
            ),
            "sales_changed_after_invoice": len(changed_sales.changed),
            **(
                {
                    "sales_changed": dg.MetadataValue.md(
                        markdown_table(
                            ("deal", "what changed"),
                            brief((deal, ", ".join(reasons)) for deal, reasons in changed_sales.changed.items()),
                        )
                    )
                }
                if changed_sales.changed
                else {}
            ),
            "skipped_records": len(summary.skipped_records),
            **(
                {
                    "unreadable_records": dg.MetadataValue.md(
                        markdown_table(("record",), brief((r,) for r in summary.skipped_records))
                    )
                }
                if summary.skipped_records
                else {}
            ),
        }
    )


@dg.asset(
    partitions_def=accounts,
    pool="omie_api",
    group_name=GROUP,
    kinds={"omie"},
    deps=[nfse_invoices],
    retry_policy=READ_RETRY,
    freshness_policy=STATUS_FRESHNESS,
)  # its cadence is status_refresh_schedule, every 5 minutes
def nfse_status(
    context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """Current status of every non-final NFS-e of one account (bulk listings, StatusOS only where needed)."""
    account = context.partition_key
    rechecks = parse_deal_ids(context.run.tags.get(REFRESH_DEALS_TAG))
    summary = refresh_statuses(
        account_client(omie, store, pipeline, account),
        store.store(),
        account,
        recheck_deal_ids=rechecks,
        settings=RefreshSettings(
            redundant_interval=omie.redundant_interval(),
            stuck_after=pipeline.stuck_after(),
            status_grace=pipeline.status_grace(),
        ),
    )
    if summary.deferred:
        context.log.info("StatusOS deferred (asked within Omie's interval) for: %s", ", ".join(summary.deferred))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": summary.tracked,
            "changed": summary.changed,
            **{f"became_{status}": count for status, count in sorted(summary.changes.items())},
            **{f"status_{status.value}": summary.by_status.get(status.value, 0) for status in InvoiceStatus},
            "status_requests": summary.status_requests,
            "listed_nfse": summary.listed.get("ListarNFSEs", 0),
            "listed_os": summary.listed.get("ListarOS", 0),
            "deferred": len(summary.deferred),
            "stuck": summary.stuck,
            "rechecked": len(rechecks),
            "unreadable_status": len(summary.unreadable),
            "skipped_records": len(summary.skipped_records),
            **(
                {
                    "unreadable_records": dg.MetadataValue.md(
                        markdown_table(("record",), brief((r,) for r in summary.skipped_records))
                    )
                }
                if summary.skipped_records
                else {}
            ),
        }
    )


INVOICE_ASSETS = [nfse_invoices, nfse_status]
