"""Invoicing assets: `nfse_invoices` (issued exactly once) and `nfse_status` (kept current), with checks.

Both call the plain functions of sync/; what they return becomes metadata worth plotting (counts
per outcome and per status). The one blocking check is the invariant that matters most: no two
invoices share one OS or one NFS-e. The others are warnings for people: intents whose outcome is
still unknown, deals that cannot be invoiced yet, invoices stuck or in error.
"""

from collections.abc import Iterable, Sequence
from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.metadata import MAX_TABLE_ROWS, markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import OmieResource, StoreResource
from omie_pipeline.defs.retries import READ_RETRY
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.settings import load_settings
from omie_pipeline.store.invoices import (
    duplicated_omie_ids,
    list_invoices,
    open_invoice_issues,
    pending_since,
    status_counts,
    stuck_invoices,
    unresolved_intents,
)
from omie_pipeline.sync.invoice_status import RefreshSettings, parse_deal_ids, refresh_statuses
from omie_pipeline.sync.invoices import IssueSettings, Outcome, issue_invoices

GROUP = "invoicing"
REFRESH_DEALS_TAG = "omie_pipeline/refresh_deals"
"""Run tag naming deals to re-check with StatusOS (comma separated), set by the alert sensors."""
# Issuing is safe to rerun by construction (intent rows, claims, look-ups before any resend).
ISSUE_RETRY = dg.RetryPolicy(max_retries=1, delay=60, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
STATUS_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=2), warn_window=timedelta(hours=1))
UNRESOLVED_AFTER = timedelta(minutes=30)
MAX_CELL_CHARS = 200


def redundant_interval(omie: OmieResource) -> timedelta:
    """Omie's interval between two requests about one id, as the client is configured with it."""
    seconds = omie.redundant_seconds if omie.redundant_seconds >= 0 else load_settings().omie_redundant_seconds
    return timedelta(seconds=seconds)


@dg.asset(
    partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie"}, deps=["client_links", "tax_rates"],
    retry_policy=ISSUE_RETRY,
)  # fmt: skip
def nfse_invoices(context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource) -> dg.MaterializeResult:
    """One NFS-e per closed deal of one account, issued exactly once (intent, OS, invoicing)."""
    account = context.partition_key
    summary = issue_invoices(omie.client(store.store()), store.store(), account,
                             settings=IssueSettings(redundant_interval=redundant_interval(omie)),
                             claimer=f"dagster:{context.run.run_id}")
    for result in summary.results:
        if result.outcome in (Outcome.FAILED, Outcome.UNKNOWN, Outcome.ERROR, Outcome.REFUSED, Outcome.WAITING):
            context.log.warning("deal %s: %s: %s", result.deal_id, result.outcome.value, result.detail)
    with store.store().connect() as connection:
        by_status = status_counts(connection, account)
    # Deals awaiting a fix are listed by the nfse_invoices_deals_ready check, with their fix.
    noteworthy = [(r.deal_id, r.outcome.value, r.detail) for r in summary.results
                  if r.outcome not in (Outcome.SUBMITTED, Outcome.SKIPPED, Outcome.AWAITING_FIX)]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": sum(by_status.values()),
        **{f"outcome_{name}": count for name, count in summary.counts.items()},
        **{f"status_{status.value}": by_status.get(status.value, 0) for status in InvoiceStatus},
        **({"needs_attention": dg.MetadataValue.md(
            markdown_table(("deal", "outcome", "detail"), _brief(noteworthy)))} if noteworthy else {}),
        **({"paused_calls": dg.MetadataValue.md(markdown_table(("call", "why"), _brief(summary.paused.items())))}
           if summary.paused else {}),
        "skipped_records": len(summary.skipped_records),
        **({"unreadable_records": dg.MetadataValue.md(
            markdown_table(("record",), _brief((r,) for r in summary.skipped_records)))}
           if summary.skipped_records else {}),
    })  # fmt: skip


@dg.asset_check(asset=nfse_invoices, name="nfse_invoices_one_os_and_nfse_each", blocking=True,
                partitions_def=accounts,
                description="No two invoices hold the same Omie OS or the same NFS-e number.")  # fmt: skip
def nfse_invoices_one_os_and_nfse_each(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        duplicated = duplicated_omie_ids(connection, context.partition_key)
    return dg.AssetCheckResult(
        passed=not duplicated,
        severity=dg.AssetCheckSeverity.ERROR,
        description="every invoice has its own OS and NFS-e" if not duplicated else
        "shared by several deals: " + "; ".join(f"{what}: {', '.join(deals)}" for what, deals in duplicated.items()),
        metadata={"duplicates": len(duplicated), "details": dg.MetadataValue.json(duplicated)},
    )


@dg.asset_check(asset=nfse_invoices, name="nfse_invoices_outcomes_known", partitions_def=accounts,
                description="No intent has waited more than 30 minutes without its OS in Omie "
                            "(an outcome nobody could settle).")  # fmt: skip
def nfse_invoices_outcomes_known(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        stale = unresolved_intents(connection, context.partition_key, now_utc() - UNRESOLVED_AFTER)
    rows = [(i.deal_id, i.idempotency_key, i.created_at.isoformat(timespec="seconds")) for i in stale]
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description="every intent reached Omie or was settled" if not stale else
        f"{len(stale)} intent(s) still without an OS: look their key up in Omie (ConsultarOS cCodIntOS); "
        "the next emission run does it by itself",
        metadata={"unresolved": len(stale),
                  **({"intents": dg.MetadataValue.md(markdown_table(("deal", "key", "since"), rows))} if rows else {})},
    )


@dg.asset_check(asset=nfse_invoices, name="nfse_invoices_deals_ready", partitions_def=accounts,
                description="Every valid closed deal has what its invoice needs (client, service, rates, fields).")
def nfse_invoices_deals_ready(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        issues = open_invoice_issues(connection, context.partition_key)
    rows = [(issue["deal_id"], issue["field"], issue["reason"], issue["fix"] or "") for issue in issues]
    return dg.AssetCheckResult(
        passed=not issues,
        severity=dg.AssetCheckSeverity.WARN,
        description="no deal is waiting for data" if not issues else
        f"{len({issue['deal_id'] for issue in issues})} deal(s) cannot be invoiced yet",
        metadata={"deal_issues": len(issues),
                  **({"issues": dg.MetadataValue.md(
                      markdown_table(("deal", "field", "reason", "fix"), _brief(rows)))} if rows else {})},
    )


@dg.asset(
    partitions_def=accounts, pool="omie_api", group_name=GROUP, kinds={"omie"}, deps=[nfse_invoices],
    retry_policy=READ_RETRY, freshness_policy=STATUS_FRESHNESS,
)  # fmt: skip  (its cadence is status_refresh_schedule, every 5 minutes)
def nfse_status(context: dg.AssetExecutionContext, omie: OmieResource, store: StoreResource) -> dg.MaterializeResult:
    """Current status of every non-final NFS-e of one account (bulk listings, StatusOS only where needed)."""
    settings = load_settings()
    account = context.partition_key
    rechecks = parse_deal_ids(context.run.tags.get(REFRESH_DEALS_TAG))
    summary = refresh_statuses(omie.client(store.store()), store.store(), account, recheck_deal_ids=rechecks,
                               settings=RefreshSettings(
        redundant_interval=redundant_interval(omie),
        stuck_after=timedelta(minutes=settings.omie_pipeline_stuck_after_minutes),
        status_grace=timedelta(minutes=settings.omie_pipeline_status_grace_minutes),
    ))  # fmt: skip
    if summary.deferred:
        context.log.info("StatusOS deferred (asked within Omie's interval) for: %s", ", ".join(summary.deferred))
    return dg.MaterializeResult(metadata={
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
        **({"unreadable_records": dg.MetadataValue.md(
            markdown_table(("record",), _brief((r,) for r in summary.skipped_records)))}
           if summary.skipped_records else {}),
    })  # fmt: skip


@dg.asset_check(asset=nfse_status, name="nfse_status_issued_complete", partitions_def=accounts,
                description="Every issued or cancelled invoice has its NFS-e number and verification code "
                            "(a warning: one note's missing data never fails the refresh).")
def nfse_status_issued_complete(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        done = list_invoices(connection, context.partition_key, (InvoiceStatus.ISSUED, InvoiceStatus.CANCELLED))
    incomplete = [i.deal_id for i in done if not i.nfse_number or not i.verification_code]
    return dg.AssetCheckResult(
        passed=not incomplete,
        severity=dg.AssetCheckSeverity.WARN,
        description="every issued note has its number and verification code" if not incomplete else
        f"issued without number or verification code: {', '.join(incomplete[:MAX_TABLE_ROWS])}",
        metadata={"incomplete": len(incomplete), "issued_or_cancelled": len(done)},
    )


@dg.asset_check(asset=nfse_status, name="nfse_status_none_stuck", partitions_def=accounts,
                description="No invoice has been submitted or processing for longer than "
                            "OMIE_PIPELINE_STUCK_AFTER_MINUTES.")  # fmt: skip
def nfse_status_none_stuck(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    limit = timedelta(minutes=load_settings().omie_pipeline_stuck_after_minutes)
    oldest_allowed = now_utc() - limit
    with store.store().connect() as connection:
        stuck = stuck_invoices(connection, context.partition_key, oldest_allowed)
    rows = [(i.deal_id, i.status, pending_since(i).isoformat(timespec="minutes")) for i in stuck]
    return dg.AssetCheckResult(
        passed=not stuck,
        severity=dg.AssetCheckSeverity.WARN,
        description="nothing stuck" if not stuck else
        f"{len(stuck)} invoice(s) pending for more than {limit}: check the prefeitura's service in Omie, then "
        "`omie-pipeline invoices wait DEAL_ID`",
        metadata={"stuck": len(stuck), **({"invoices": dg.MetadataValue.md(
            markdown_table(("deal", "status", "since"), rows))} if rows else {})},
    )


@dg.asset_check(asset=nfse_status, name="nfse_status_no_errors", partitions_def=accounts,
                description="No invoice is in error (each one needs a person; its fix is stored with it).")
def nfse_status_no_errors(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    with store.store().connect() as connection:
        failed = list_invoices(connection, context.partition_key, (InvoiceStatus.ERROR,))
    rows = [(i.deal_id, i.last_error or "(message not read yet)", i.fix or "") for i in failed]
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description="no invoice in error" if not failed else f"{len(failed)} invoice(s) in error",
        metadata={"errors": len(failed),
                  **({"invoices": dg.MetadataValue.md(markdown_table(("deal", "error", "fix"), _brief(rows)))}
                     if rows else {})},
    )


def _brief(rows: Iterable[Sequence[object]]) -> list[tuple[str, ...]]:
    """Omie's fault texts can run to paragraphs: a table cell shows their start."""
    return [tuple(str(cell)[:MAX_CELL_CHARS] for cell in row) for row in rows]


INVOICE_ASSETS = [nfse_invoices, nfse_status]
INVOICE_CHECKS = [
    nfse_invoices_one_os_and_nfse_each,
    nfse_invoices_outcomes_known,
    nfse_invoices_deals_ready,
    nfse_status_issued_complete,
    nfse_status_none_stuck,
    nfse_status_no_errors,
]
