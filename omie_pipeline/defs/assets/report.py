"""The finance reconciliation report as a Dagster asset, with the checks it evaluates itself.

Partitioned by account and closing day (São Paulo), so each day's report is its own
materialisation and the Dagster UI plots counts and totals across days. The day dimension is
dynamic, not a calendar: a day is added only when a report is requested for it (`report_schedule`
adds today and yesterday as it requests them for every account; a sync pass adds the days its
account's deals closed on, and writes every registered account's report of the latest days that
lack one, so a day one account closed deals on is an (empty) report for the others, not a gap).
A calendar from a fixed start date listed every day since then, most of them never reported, so
the UI showed the report as mostly "missing" and its plots began with months of nothing; with days
added as they are reported, every partition the UI lists has a report and the plots start at the
first day with one. Keys keep the form "account|YYYY-MM-DD".

One run may write many days: a sync pass and the daily schedule ask for one account's days as a range
of the day dimension (`report_key_ranges`, as Dagster splits a backfill), since around each run
Dagster spends more than a day's report costs. Each day stays a materialisation of its own, with its
own figures as metadata (`add_asset_metadata` per partition), so the UI shows every written day as
materialised. The account's open items, the same whatever the day, are built and drawn once for
every day of the run (`reports.build_reports`, `reports.write_reports`). The asset has no
`BackfillPolicy.single_run()`: Dagster refuses one beside the job's partitioned config, which gives
every run of one partition its account's run slot; a backfill from the UI stays one run per day.

The two ERROR checks (every deal once, totals equal the store's) are computed in the asset's own
step, after the files are written, over every day of the run: a failure names the days at fault in
its metadata. They block nothing (nothing is downstream of the report); when either fails, the
`failed_checks` sensor tells finance that those days' figures cannot be trusted.
"""

from collections.abc import Iterable
from datetime import date

import dagster as dg

from omie_pipeline.defs.metadata import markdown_table
from omie_pipeline.defs.partitions import accounts
from omie_pipeline.defs.resources import PipelineResource, StoreResource
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import _, format_money
from omie_pipeline.reports import Report, ReportFiles, build_reports, write_reports
from omie_pipeline.reports.labels import OUTCOME_ORDER, reason_label
from omie_pipeline.reports.verify import Verification, stuck_or_failed, verify_report

ASSET_NAME = "reconciliation_report"
CHECK_EVERY_DEAL_ONCE = "reconciliation_report_every_deal_once"
CHECK_TOTALS_MATCH_STORE = "reconciliation_report_totals_match_store"
CHECK_NO_STUCK_OR_FAILED = "reconciliation_report_no_stuck_or_failed_invoices"

REPORT_DAYS_PARTITION_NAME = "report_day"
DAY_DIMENSION = "date"

report_day_partitions = dg.DynamicPartitionsDefinition(name=REPORT_DAYS_PARTITION_NAME)
"""Closing days (São Paulo, ISO dates) that have a report: added by whoever requests one, see above."""

report_partitions = dg.MultiPartitionsDefinition({"account": accounts, DAY_DIMENSION: report_day_partitions})


def report_partition_key(account: str, day: date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"account": account, DAY_DIMENSION: day.isoformat()})


def add_report_days(instance: dg.DagsterInstance, days: Iterable[date]) -> list[date]:
    """Register closing days in the report's day dimension, oldest first, skipping those already there;
    the days that were new. The UI lists the dimension in the order days were added, so a day older
    than those already there (another account's history) comes after them; its A-Z sort orders them."""
    known = set(instance.get_dynamic_partitions(REPORT_DAYS_PARTITION_NAME))
    new = [day for day in sorted(set(days)) if day.isoformat() not in known]
    if new:
        instance.add_dynamic_partitions(REPORT_DAYS_PARTITION_NAME, [day.isoformat() for day in new])
    return new


def report_key_ranges(instance: dg.DagsterInstance, cells: Iterable[tuple[str, date]]) -> list[dg.PartitionKeyRange]:
    """The (account, day) cells as ranges of one account's days next to each other in the day dimension, as
    Dagster splits a backfill: one run writes each range (see `jobs.report_range_tags`)."""
    keys = {report_partition_key(account, day) for account, day in cells}
    if not keys:
        return []
    with dg.partition_loading_context(dynamic_partitions_store=instance):
        subset = report_partitions.subset_with_partition_keys(keys)
        return list(subset.get_partition_key_ranges(report_partitions))


def unreported(instance: dg.DagsterInstance, latest_days: int) -> list[tuple[str, date]]:
    """(account, day) pairs of the registered accounts and the latest `latest_days` registered days that
    have no report yet, oldest day first: the cells the UI would show as missing."""
    days = sorted(date.fromisoformat(key) for key in instance.get_dynamic_partitions(REPORT_DAYS_PARTITION_NAME))
    done = instance.get_materialized_partitions(dg.AssetKey(ASSET_NAME))
    return [
        (account, day)
        for day in days[-latest_days:]
        for account in instance.get_dynamic_partitions(accounts.name)
        if str(report_partition_key(account, day)) not in done
    ]


@dg.asset(
    name=ASSET_NAME,
    partitions_def=report_partitions,
    group_name="reporting",
    kinds={"html", "csv", "excel"},
    owners=["team:finance"],
    # Same account, any day: Dagster maps the account partition onto the report's account dimension.
    deps=["nfse_status"],
    check_specs=[
        dg.AssetCheckSpec(
            CHECK_EVERY_DEAL_ONCE,
            asset=ASSET_NAME,
            blocking=False,
            description="Every deal closed that day is in the report exactly once (SQL count).",
        ),
        dg.AssetCheckSpec(
            CHECK_TOTALS_MATCH_STORE,
            asset=ASSET_NAME,
            blocking=False,
            description="Totals by invoice status and by tax equal the store's SQL sums.",
        ),
        dg.AssetCheckSpec(
            CHECK_NO_STUCK_OR_FAILED,
            asset=ASSET_NAME,
            description="No open invoice is stuck past the threshold or rejected (any closing day).",
        ),
    ],
)
def reconciliation_report(
    context: dg.AssetExecutionContext, store: StoreResource, pipeline: PipelineResource
) -> dg.MaterializeResult:
    """Finance's reconciliation of the account's deals closed on each day the run targets: HTML, CSV and XLSX files,
    each day's figures recorded as that day's materialisation."""
    now = now_utc()
    checked: list[tuple[Report, Verification]] = []
    for account, days in days_by_account(context.partition_keys).items():
        reports = build_reports(
            store.store(),
            account,
            days,
            now,
            closed_statuses=pipeline.statuses(),
            stuck_after_minutes=pipeline.stuck_after_minutes,
        )
        for report, files in zip(reports, write_reports(reports, pipeline.reports_dir), strict=True):
            context.add_asset_metadata(
                report_metadata(report, files), partition_key=report_partition_key(account, report.day)
            )
            checked.append((report, verify_report(report, store.store(), pipeline.statuses())))
            context.log.info(
                "report of %s for %s: %s deals closed, %s issued, %s open items; written to %s",
                account,
                report.day,
                report.summary.closed_count,
                report.summary.issued_count,
                report.summary.open_count,
                files.html.parent,
            )
    return dg.MaterializeResult(check_results=check_results(checked))


def days_by_account(partition_keys: Iterable[str]) -> dict[str, list[date]]:
    """The run's report partitions as each account's days, oldest first."""
    days: dict[str, list[date]] = {}
    for key in partition_keys:
        keys = report_partitions.get_partition_key_from_str(key).keys_by_dimension
        days.setdefault(keys["account"], []).append(date.fromisoformat(keys[DAY_DIMENSION]))
    return {account: sorted(account_days) for account, account_days in days.items()}


def summary_markdown(report: Report) -> str:
    """A short table for the Dagster UI: each situation, then the walk from CRM to issued."""
    summary = report.summary
    by_status = [
        (line.outcome.label, str(line.count), format_money(line.gross if line.outcome.is_invoiced else line.crm_amount))
        for line in summary.by_status
        if line.count
    ]
    walk = [(line.label, str(line.count), format_money(line.amount)) for line in summary.bridge]
    return "\n\n".join(
        [
            "**"
            + _("{account} · closed on {period}").format(account=report.account, period=report.period_label)
            + "**",
            markdown_table((_("Status"), _("Deals"), _("Amount")), by_status),
            markdown_table((_("Reconciliation"), _("Deals"), _("Amount")), walk),
        ]
    )


def report_metadata(report: Report, files: ReportFiles) -> dict[str, object]:
    """Numbers the UI plots across materialisations, the summary table and where the files are."""
    summary = report.summary
    metadata: dict[str, object] = {
        "dagster/row_count": summary.closed_count,
        "summary": dg.MetadataValue.md(summary_markdown(report)),
        "html": dg.MetadataValue.path(str(files.html)),
        "csv": dg.MetadataValue.path(str(files.csv)),
        "xlsx": dg.MetadataValue.path(str(files.xlsx)),
        "open_items_html": dg.MetadataValue.path(str(files.open_items_html)),
        "open_items_csv": dg.MetadataValue.path(str(files.open_items_csv)),
        "deals_closed": summary.closed_count,
        "deals_invoiced": summary.invoiced_count,
        "deals_issued": summary.issued_count,
        "deals_with_exceptions": summary.exceptions_count,
        "open_items": summary.open_count,
        "closed_amount": float(summary.closed_amount),
        "invoiced_amount": float(summary.invoiced_amount),
        "issued_amount": float(summary.issued_amount),
        "withheld_amount": float(summary.withheld_issued),
        "net_receivable": float(summary.net_issued),
        "open_amount": float(summary.open_amount),
    }
    for outcome in OUTCOME_ORDER:
        metadata[f"deals_{outcome.value}"] = summary.status(outcome).count
    for tax in summary.taxes:
        metadata[f"tax_{tax.tax}_issued"] = float(tax.amount_issued)
    if summary.reasons:
        metadata["exceptions_by_reason"] = dg.MetadataValue.md(
            markdown_table(
                (_("Reason"), _("Deals"), _("Amount")),
                [
                    (reason_label(group.reason), str(group.count), format_money(group.amount))
                    for group in summary.reasons
                ],
            )
        )
    return metadata


def check_results(checked: list[tuple[Report, Verification]]) -> list[dg.AssetCheckResult]:
    """The checks over every report of the run: each fails when any day fails, naming the days at fault."""
    once_failed = [report for report, verification in checked if not verification.every_deal_once]
    totals_failed = [(report, verification) for report, verification in checked if not verification.totals_agree]
    stuck = sorted({deal_id for report, _ in checked for deal_id in stuck_or_failed(report)})
    return [
        dg.AssetCheckResult(
            check_name=CHECK_EVERY_DEAL_ONCE,
            passed=not once_failed,
            metadata={
                "days": len(checked),
                "days_failing": _days(once_failed) or "none",
                "deals_in_store": sum(verification.deals_expected for _, verification in checked),
                "deals_in_report": sum(verification.deals_listed for _, verification in checked),
                "duplicated": ", ".join(
                    deal_id for _, verification in checked for deal_id in verification.duplicated_deals
                )
                or "none",
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_TOTALS_MATCH_STORE,
            passed=not totals_failed,
            metadata={
                "days": len(checked),
                "days_failing": _days([report for report, _ in totals_failed]) or "none",
                "differences": dg.MetadataValue.md(
                    "\n".join(
                        f"- {report.account} {report.day}: {line}"
                        for report, verification in totals_failed
                        for line in verification.mismatches
                    )
                    or "none"
                ),
            },
        ),
        dg.AssetCheckResult(
            check_name=CHECK_NO_STUCK_OR_FAILED,
            passed=not stuck,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"count": len(stuck), "deals": ", ".join(stuck[:50]) or "none"},
        ),
    ]


def _days(reports: list[Report]) -> str:
    return ", ".join(f"{report.account} {report.day}" for report in reports)


REPORT_ASSETS = [reconciliation_report]
