"""Sensors: the account registration, and the alerts (stuck invoices, invoices in error, failed runs,
the retry of undelivered alerts).

`omie_accounts` registers the deployment's account as a partition, so schedules and the UI see it.
The alert sensors read the state store and Dagster's own records, never Omie, and finish in seconds: the work
is in `omie_pipeline.alerts.watch`; these functions pick the moment and the channels, and turn
new stuck alerts into at most one status refresh run per account.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from omie_pipeline.alerts.messages import CheckFailureFacts, RunFailureFacts
from omie_pipeline.alerts.watch import (
    StuckAccount,
    alert_check_failure,
    alert_run_failure,
    check_changed_sales,
    check_failed_invoices,
    check_stuck_invoices,
    redeliver_pending,
)
from omie_pipeline.defs.assets.catalog import service_catalog, tax_rates
from omie_pipeline.defs.assets.invoices import REFRESH_DEALS_TAG, nfse_invoices, nfse_status
from omie_pipeline.defs.assets.report import (
    ASSET_NAME as REPORT_ASSET,
)
from omie_pipeline.defs.assets.report import (
    CHECK_EVERY_DEAL_ONCE,
    CHECK_TOTALS_MATCH_STORE,
    report_partitions,
)
from omie_pipeline.defs.checks.freshness import CATALOG_FRESH, STATUSES_FRESH, TAX_RATES_FRESH
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME, accounts
from omie_pipeline.defs.resources import (
    AlertsResource,
    OmieResource,
    PipelineResource,
    StoreResource,
)
from omie_pipeline.i18n import _, ngettext

REFRESH_JOB_NAME = "invoice_status_refresh_job"
REFRESH_DEALS_TAG_LIMIT = 1000  # characters of the comma list of deal ids
PARTITION_TAG = "dagster/partition"
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
ALERTING_CHECKS: dict[dg.AssetCheckKey, str] = {
    dg.AssetCheckKey(nfse_invoices.key, "nfse_invoices_one_os_and_nfse_each"): "omie-pipeline invoices list",
    dg.AssetCheckKey(tax_rates.key, "tax_rates_follow_rules"): "omie-pipeline services list",
    dg.AssetCheckKey(tax_rates.key, "mapped_services_have_rates"): "omie-pipeline services list",
    dg.AssetCheckKey(dg.AssetKey(REPORT_ASSET), CHECK_EVERY_DEAL_ONCE): "omie-pipeline report",
    dg.AssetCheckKey(dg.AssetKey(REPORT_ASSET), CHECK_TOTALS_MATCH_STORE): "omie-pipeline report",
    dg.AssetCheckKey(nfse_status.key, STATUSES_FRESH): "omie-pipeline invoices list",
    dg.AssetCheckKey(service_catalog.key, CATALOG_FRESH): "omie-pipeline services list",
    dg.AssetCheckKey(tax_rates.key, TAX_RATES_FRESH): "omie-pipeline services list",
}
"""The invariants people are alerted on when their check fails (see `defs/checks/__init__.py`), with
the command that shows the records involved."""
CHECK_HISTORY = 200  # evaluations read per check: a streak longer than this alerts again
# Dagster's wrappers around the error raised inside a step: the cause below them is the real one.
_DAGSTER_WRAPPERS = ("DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError")


@dg.sensor(
    name="omie_accounts",
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Keeps the omie_account partitions equal to the accounts served (the accounts file's, else "
    "OMIE_PIPELINE_ACCOUNT): new ones added, removed ones dropped (their data stays in the store).",
)
def omie_accounts(context: dg.SensorEvaluationContext, pipeline: PipelineResource):
    wanted = pipeline.account_ids()
    registered = set(context.instance.get_dynamic_partitions(ACCOUNTS_PARTITION_NAME))
    added = [account for account in wanted if account not in registered]
    removed = sorted(registered - set(wanted))
    if not added and not removed:
        return dg.SkipReason(_("accounts already registered: {accounts}").format(accounts=", ".join(wanted)))
    requests = []
    if added:
        requests.append(accounts.build_add_request(added))
    if removed:
        requests.append(accounts.build_delete_request(removed))
    context.log.info("accounts added: %s; removed: %s", added or "none", removed or "none")
    return dg.SensorResult(dynamic_partitions_requests=requests)


def refresh_deals_tag(deal_ids: list[str], limit: int = REFRESH_DEALS_TAG_LIMIT) -> str:
    """The deals to refresh as a comma list, cut at a deal boundary to at most `limit` characters."""
    shown: list[str] = []
    for deal_id in deal_ids:
        if len(",".join([*shown, deal_id])) > limit:
            break
        shown.append(deal_id)
    return ",".join(shown)


def _refresh_in_flight(instance: dg.DagsterInstance, account: str) -> bool:
    runs = instance.get_runs(
        dg.RunsFilter(job_name=REFRESH_JOB_NAME, statuses=IN_FLIGHT, tags={PARTITION_TAG: account}), limit=1
    )
    return bool(runs)


def _refresh_request(context: dg.SensorEvaluationContext, account: str, stuck: StuckAccount) -> dg.RunRequest | str:
    """One refresh run for the account's stuck invoices, or why none is requested."""
    if not context.instance.has_dynamic_partition(ACCOUNTS_PARTITION_NAME, account):
        return _("account {account} is not an {partitions} partition, no refresh requested").format(
            account=account, partitions=ACCOUNTS_PARTITION_NAME
        )
    if _refresh_in_flight(context.instance, account):
        return _("a status refresh of {account} is already queued or running").format(account=account)
    digest = hashlib.sha256("\n".join(sorted(a.key for a in stuck.new_alerts)).encode()).hexdigest()[:16]
    # Only the invoices that just crossed a level: the others were re-checked when they crossed
    # theirs, and the refresh job's own schedule keeps every pending invoice current.
    deal_ids = list(dict.fromkeys(alert.deal_id for alert in stuck.new_alerts if alert.deal_id))
    return dg.RunRequest(
        run_key=f"stuck_refresh:{account}:{digest}",
        partition_key=account,
        tags={REFRESH_DEALS_TAG: refresh_deals_tag(deal_ids)},
    )


@dg.sensor(
    name="stuck_invoices",
    job_name=REFRESH_JOB_NAME,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts on invoices in submitted/processing past the threshold (again at 2x and 4x) and "
    "requests one status refresh run per account.",
)
def stuck_invoices(
    context: dg.SensorEvaluationContext, store: StoreResource, alerts: AlertsResource, pipeline: PipelineResource
):
    report = check_stuck_invoices(
        store.store(),
        alerts.delivery_round(),
        pipeline.stuck_after(),
        alerts.now(),
        home_account=pipeline.account,
        runbook_url=alerts.runbook_url,
    )
    if not report.accounts:
        return dg.SkipReason(_("no invoice in submitted/processing past the threshold"))
    requests: list[dg.RunRequest] = []
    notes: list[str] = []
    for account, stuck in sorted(report.accounts.items()):
        if not stuck.new_alerts:
            continue
        outcome = _refresh_request(context, account, stuck)
        if isinstance(outcome, dg.RunRequest):
            requests.append(outcome)
        else:
            notes.append(outcome)
    sent = len(report.new_alerts)
    stuck_count = sum(len(s.stuck_deal_ids) for s in report.accounts.values())
    context.log.info(
        "%d stuck invoice(s), %d new alert(s), %d refresh run(s) requested", stuck_count, sent, len(requests)
    )
    for note in notes:
        context.log.info(note)
    if requests:
        return dg.SensorResult(run_requests=requests)
    if report.deferred:
        notes.append(_("{count} more left for the next evaluation").format(count=report.deferred))
    counts = ngettext("{count} stuck invoice", "{count} stuck invoices", stuck_count).format(count=stuck_count)
    counts += ", " + ngettext("{count} new alert", "{count} new alerts", sent).format(count=sent)
    return dg.SkipReason("; ".join([counts, *notes]))


@dg.sensor(
    name="failed_invoices",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts once on every invoice newly in error, with Omie's message and the fix.",
)
def failed_invoices(
    context: dg.SensorEvaluationContext, store: StoreResource, alerts: AlertsResource, pipeline: PipelineResource
):
    sent = check_failed_invoices(
        store.store(),
        alerts.delivery_round(),
        alerts.now(),
        lookback=timedelta(hours=alerts.failed_lookback_hours),
        home_account=pipeline.account,
        runbook_url=alerts.runbook_url,
    )
    if not sent:
        return dg.SkipReason(_("no invoice newly in error"))
    context.log.info("alerted %d invoice(s) in error: %s", len(sent), ", ".join(a.deal_id or "" for a in sent))
    return dg.SkipReason(
        ngettext(
            "{count} failed-invoice alert sent, no run to request",
            "{count} failed-invoice alerts sent, no run to request",
            len(sent),
        ).format(count=len(sent))
    )


@dg.sensor(
    name="changed_sales",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts finance once on every issued NFS-e whose deal was reopened, lost or changed in amount.",
)
def changed_sales(
    context: dg.SensorEvaluationContext, store: StoreResource, alerts: AlertsResource, pipeline: PipelineResource
):
    sent = check_changed_sales(
        store.store(),
        alerts.delivery_round(),
        alerts.now(),
        home_account=pipeline.account,
        runbook_url=alerts.runbook_url,
    )
    if not sent:
        return dg.SkipReason(_("no sale newly changed after its NFS-e was issued"))
    context.log.info("alerted %d changed sale(s): %s", len(sent), ", ".join(a.deal_id or "" for a in sent))
    return dg.SkipReason(
        ngettext(
            "{count} changed-sale alert sent, no run to request",
            "{count} changed-sale alerts sent, no run to request",
            len(sent),
        ).format(count=len(sent))
    )


@dg.sensor(
    name="alert_redelivery",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retries the channels an alert has not reached yet (bounded attempts).",
)
def alert_redelivery(context: dg.SensorEvaluationContext, store: StoreResource, alerts: AlertsResource):
    report = redeliver_pending(
        store.store(), alerts.delivery_round(), alerts.now(), grace=timedelta(seconds=alerts.redelivery_grace_seconds)
    )
    if not (report.delivered or report.still_pending or report.given_up):
        return dg.SkipReason(_("every alert reached every channel"))
    message = _("{delivered} delivered, {pending} still pending, {given_up} given up").format(
        delivered=len(report.delivered), pending=len(report.still_pending), given_up=len(report.given_up)
    )
    context.log.info("alert redelivery: %s", message)
    return dg.SkipReason(message)


def _root_error(error):
    """The error that caused a step failure, below Dagster's wrappers."""
    while error is not None and error.cls_name in _DAGSTER_WRAPPERS and error.cause is not None:
        error = error.cause
    return error


def _one_line(text: str | None) -> str:
    """An error message on one line: validation errors put the useful part on later lines."""
    return " ".join((text or "").split())


def run_failure_facts(context: dg.RunFailureSensorContext, ui_url: str, default_account: str) -> RunFailureFacts:
    """The job, step, error and link of the run that failed, from its events."""
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    step_key, error_class, message = None, "", ""
    if step_failures:
        first = step_failures[0]
        step_key = first.step_key
        error = _root_error(first.event_specific_data.error) if first.event_specific_data else None
        if error is not None:
            error_class, message = error.cls_name or "", _one_line(error.message)
    if not message:
        failure = context.failure_event
        data = failure.event_specific_data
        error = _root_error(getattr(data, "error", None))
        if error is not None:
            error_class, message = error.cls_name or "", _one_line(error.message)
        else:
            message = _one_line(failure.message or "the run failed")
    if error_class:  # Dagster writes "package.module.Class: message"; the class is shown on its own
        message = re.sub(rf"^(?:[\w.]+\.)?{re.escape(error_class)}:\s*", "", message)
    record = context.instance.get_run_record_by_id(run.run_id)
    started_at = datetime.fromtimestamp(record.start_time, UTC) if record is not None and record.start_time else None
    failed_at = (
        datetime.fromtimestamp(record.end_time, UTC) if record is not None and record.end_time else datetime.now(UTC)
    )
    root_run_id = run.root_run_id or run.run_id
    # The account comes from the root run: a re-execution may not carry the partition tag, and the
    # alert of its root is recorded under the root's account.
    root = context.instance.get_run_by_id(root_run_id) if root_run_id != run.run_id else run
    partition = _run_partitions(root.tags if root is not None else run.tags) or _run_partitions(run.tags)
    return RunFailureFacts(
        run_id=run.run_id,
        root_run_id=root_run_id,
        job_name=run.job_name,
        account=_account_of(partition.split(RANGE_SEPARATOR)[0] if partition else None, default_account),
        partition_key=partition,
        step_key=step_key,
        error_class=error_class,
        error_message=message,
        failed_at=failed_at,
        started_at=started_at,
        retry_number=int(run.tags.get("dagster/retry_number", "0") or 0),
        run_url=f"{ui_url}/runs/{run.run_id}",
    )


@dg.run_failure_sensor(
    name="sync_run_failures",
    monitor_all_code_locations=True,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts once per failed run (retries of it do not alert again) with the job, "
    "the step, the error and a link to the run.",
)
def sync_run_failures(
    context: dg.RunFailureSensorContext,
    store: StoreResource,
    alerts: AlertsResource,
    pipeline: PipelineResource,
    omie: OmieResource,
):
    facts = run_failure_facts(context, alerts.ui_url(), pipeline.account)
    secrets = [*alerts.secrets(), *([omie.app_secret] if omie.app_secret else [])]
    alert = alert_run_failure(
        store.store(), alerts.delivery_round(), facts, alerts.now(), secrets, runbook_url=alerts.runbook_url
    )
    if alert is None:
        context.log.info("run %s failed; its root run %s was already alerted", facts.run_id, facts.root_run_id)
    else:
        context.log.info("alerted the failure of run %s (%s)", facts.run_id, alert.key)


RANGE_SEPARATOR = ".."


def _run_partitions(tags: Mapping[str, str]) -> str | None:
    """What a run wrote: its partition, or the first and last of its range (`start..end`, a run writing several
    report days)."""
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    return tags.get(PARTITION_TAG) or (f"{start}{RANGE_SEPARATOR}{end}" if start and end else None)


def _account_of(partition: str | None, default_account: str) -> str:
    if not partition:
        return default_account
    if "|" in partition:
        return report_partitions.get_partition_key_from_str(partition).keys_by_dimension["account"]
    return partition


def failing_checks(
    instance: dg.DagsterInstance, ui_url: str, default_account: str
) -> list[tuple[CheckFailureFacts, str]]:
    """Each watched check and partition whose latest evaluation failed with ERROR severity.

    The facts name the first failed evaluation after the last pass (the streak's start), so one
    streak is one alert; paired with the command that shows the records involved.
    """
    found: list[tuple[CheckFailureFacts, str]] = []
    for check_key, command in ALERTING_CHECKS.items():
        streaks: dict[str | None, list] = {}
        settled: set[str | None] = set()
        history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=CHECK_HISTORY)
        for record in history:  # newest first
            if record.partition in settled or record.status == AssetCheckExecutionRecordStatus.PLANNED:
                continue
            evaluation = record.event.asset_check_evaluation if record.event else None
            if evaluation is None or evaluation.passed or evaluation.severity != dg.AssetCheckSeverity.ERROR:
                settled.add(record.partition)
                continue
            streaks.setdefault(record.partition, []).append((record, evaluation))
        for partition, streak in streaks.items():
            latest, latest_evaluation = streak[0]
            first, _ = streak[-1]
            found.append(
                (
                    CheckFailureFacts(
                        check_name=check_key.name,
                        asset=check_key.asset_key.to_user_string(),
                        account=_account_of(partition, default_account),
                        partition_key=partition,
                        description=latest_evaluation.description or "the check failed",
                        failing_since=datetime.fromtimestamp(first.create_timestamp, tz=UTC),
                        failing_since_id=first.id,
                        failures=len(streak),
                        run_id=latest.run_id,
                        run_url=f"{ui_url}/runs/{latest.run_id}",
                    ),
                    command,
                )
            )
    return found


@dg.sensor(
    name="failed_checks",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alerts once when an invariant's check fails (duplicate OS/NFS-e, tax rates, the report's "
    "totals, stale statuses/catalog/tax rates), again only after it has passed in between.",
)
def failed_checks(
    context: dg.SensorEvaluationContext, store: StoreResource, alerts: AlertsResource, pipeline: PipelineResource
):
    sent = [
        alert
        for facts, command in failing_checks(context.instance, alerts.ui_url(), pipeline.account)
        if (
            alert := alert_check_failure(
                store.store(), alerts.delivery_round(), facts, command, alerts.now(), alerts.runbook_url
            )
        )
    ]
    if not sent:
        return dg.SkipReason(_("no watched check newly failing"))
    context.log.info("alerted %d failing check(s): %s", len(sent), ", ".join(alert.key for alert in sent))
    return dg.SkipReason(
        ngettext(
            "{count} check alert sent, no run to request", "{count} check alerts sent, no run to request", len(sent)
        ).format(count=len(sent))
    )


# `stuck_invoices` targets `invoice_status_refresh_job`: the definitions that hold these sensors hold that job.
ALERT_SENSORS = [stuck_invoices, failed_invoices, changed_sales, failed_checks, alert_redelivery, sync_run_failures]
SENSORS = [omie_accounts, *ALERT_SENSORS]
