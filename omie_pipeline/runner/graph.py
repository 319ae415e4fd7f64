"""One pass of the whole pipeline through Dagster, for one account.

The jobs run in their natural order on a real Dagster instance (so runs, materialisations and
check results are recorded as with the schedules): catalog and tax rates, then deals -> clients
-> invoices, then status refreshes until every invoice is final or the time runs out, then the
alert sensors once, then the report.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO

import dagster as dg

from omie_pipeline.defs.assets.report import add_report_days, report_key_ranges, unreported
from omie_pipeline.defs.jobs import report_range_tags
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.i18n import _, ngettext
from omie_pipeline.runner.orphans import end_orphaned_runs, owner_tags
from omie_pipeline.runner.progress import Progress
from omie_pipeline.runner.summary import PipelineSummary, summarise
from omie_pipeline.store import Store
from omie_pipeline.store.report_queries import closing_days as stored_closing_days


@dataclass
class StageResult:
    stage: str
    job: str
    run_id: str
    success: bool
    seconds: float
    error: str | None = None


@dataclass
class PassResult:
    stages: list[StageResult] = field(default_factory=list)
    sensor_results: dict[str, str] = field(default_factory=dict)
    settled: bool = False
    report_seconds: float = 0.0
    """How long the reports phase took, its runs and what is done between them."""

    @property
    def success(self) -> bool:
        return all(stage.success for stage in self.stages)


def ensure_account(instance: dg.DagsterInstance, account: str) -> None:
    """Register the account partition, as the omie_accounts sensor would."""
    if not instance.has_dynamic_partition(ACCOUNTS_PARTITION_NAME, account):
        instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [account])


def run_job(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    stage: str,
    job_name: str,
    partition_key: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> StageResult:
    """Execute one job in this process on `instance`, for one partition or for the partitions `tags` name (a range);
    a failed run is reported, not raised."""
    started = time.monotonic()
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        instance=instance,
        partition_key=partition_key,
        tags={**owner_tags(), **(tags or {})},
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=False,
    )
    error = None
    if not result.success:
        failures = [event for event in result.all_events if event.is_step_failure]
        error = "; ".join(
            f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
            for event in failures
            if event.step_failure_data and event.step_failure_data.error
        )
        error = error or _("the run failed")
    return StageResult(stage, job_name, result.run_id, result.success, time.monotonic() - started, error)


def settle_invoices(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    store: Store,
    account: str,
    progress: Progress,
    *,
    timeout_seconds: float,
    interval_seconds: float,
) -> tuple[list[StageResult], bool]:
    """Refresh statuses until no invoice is pending or the time runs out."""
    results: list[StageResult] = []
    deadline = time.monotonic() + timeout_seconds
    while summarise(store, account).pending_invoices:
        if time.monotonic() >= deadline:
            return results, False
        progress.stage(_("waiting on the prefeitura"))
        time.sleep(min(interval_seconds, max(0.0, deadline - time.monotonic())))
        progress.stage(_("refreshing invoice statuses"))
        result = run_job(defs, instance, "status refresh", "invoice_status_refresh_job", account)
        results.append(result)
        if not result.success:
            return results, False
    return results, True


def evaluate_alert_sensors(
    defs: dg.Definitions, instance: dg.DagsterInstance, sensor_names: tuple[str, ...]
) -> dict[str, str]:
    """Evaluate the store-reading alert sensors once, as the daemon would on a tick."""
    outcomes: dict[str, str] = {}
    for name in sensor_names:
        sensor = defs.resolve_sensor_def(name)
        # As the daemon does: the definitions' resources, and the instance to resolve partitions.
        with (
            dg.partition_loading_context(dynamic_partitions_store=instance),
            dg.build_sensor_context(
                instance=instance, definitions=defs, sensor_name=name, resources=dict(defs.resources or {})
            ) as context,
        ):
            result = sensor.evaluate_tick(context)
        skipped = result.skip_message
        requested = len(result.run_requests or [])
        outcomes[name] = skipped or ngettext("{count} run request", "{count} run requests", requested).format(
            count=requested
        )
    return outcomes


def run_pipeline_pass(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    store: Store,
    account: str,
    progress: Progress,
    *,
    settle_timeout_seconds: float,
    settle_interval_seconds: float,
    alert_sensors: tuple[str, ...],
    report_days: int = 7,
) -> PassResult:
    """Catalog, emission, status refreshes, alerts, and the reports of the latest `report_days` closing days.

    The account's closing days join the report's day dimension and their reports are written again
    (statuses move on); then every registered account's report of the latest `report_days` registered
    days that has none (another account's day is an empty report here), so the Dagster UI shows no
    report partition missing."""
    outcome = PassResult()
    end_orphaned_runs(instance)
    ensure_account(instance, account)
    progress.stage(_("service catalog and tax rates"))
    outcome.stages.append(run_job(defs, instance, "catalog", "catalog_job", account))
    progress.stage(_("deals, clients and invoices"))
    outcome.stages.append(run_job(defs, instance, "emission", "emission_job", account))
    refreshes, outcome.settled = settle_invoices(
        defs,
        instance,
        store,
        account,
        progress,
        timeout_seconds=settle_timeout_seconds,
        interval_seconds=settle_interval_seconds,
    )
    outcome.stages.extend(refreshes)
    progress.stage(_("alerts"))
    outcome.sensor_results = evaluate_alert_sensors(defs, instance, alert_sensors)
    progress.stage(_("reconciliation reports"))
    reports_started = time.monotonic()
    days = closing_days(store, account)[-report_days:]
    add_report_days(instance, days)
    reports = [(account, day) for day in days]
    reports += [cell for cell in unreported(instance, report_days) if cell not in reports]
    # One run per account (per block of its days next to each other in the day dimension): around each run Dagster
    # spends more than a day's report costs.
    ranges = report_key_ranges(instance, reports)
    for done, key_range in enumerate(ranges, start=1):
        stage = f"reports {key_range.start}..{key_range.end.split('|')[-1]}"
        outcome.stages.append(run_job(defs, instance, stage, "report_job", tags=report_range_tags(key_range)))
        progress.step(done, len(ranges))
    outcome.report_seconds = time.monotonic() - reports_started
    return outcome


def closing_days(store: Store, account: str) -> list[date]:
    """The São Paulo calendar days on which the account's deals closed, oldest first."""
    with store.connect() as connection:
        return stored_closing_days(connection, account)


ALERT_SENSORS_TO_EVALUATE = ("stuck_invoices", "failed_invoices")


def run_configured_pass(
    account: str,
    db_url: str | None,
    *,
    settle_timeout_seconds: float,
    settle_interval_seconds: float,
    report_days: int,
    stream: TextIO | None,
    quiet: bool,
) -> tuple[PassResult, PipelineSummary]:
    """One pass with definitions built from the settings the environment holds now, showing progress,
    on the Dagster instance of DAGSTER_HOME.

    The definitions are built here rather than imported, so that the settings a caller (the demo)
    has just put in the environment are the ones the pass runs with.
    """
    from omie_pipeline.definitions import build_definitions
    from omie_pipeline.defs.resources import omie_client_for
    from omie_pipeline.settings import load_accounts, load_settings

    settings = load_settings()
    defs = build_definitions(settings)
    store = Store(db_url or settings.db_url)
    configured = next((entry for entry in load_accounts(settings) if entry.id == account), None)
    client = omie_client_for(settings, store, configured)
    progress = Progress(
        lambda: summarise(store, account), lambda: pacing_wait_seconds(client.metrics()), stream=stream, quiet=quiet
    )
    try:
        with dg.DagsterInstance.get() as instance, progress:
            outcome = run_pipeline_pass(
                defs,
                instance,
                store,
                account,
                progress,
                settle_timeout_seconds=settle_timeout_seconds,
                settle_interval_seconds=settle_interval_seconds,
                alert_sensors=ALERT_SENSORS_TO_EVALUATE,
                report_days=report_days,
            )
        return outcome, summarise(store, account)
    finally:
        store.dispose()


def pacing_wait_seconds(metrics: dict) -> float:
    """Seconds the client spent waiting on Omie's limits, over every method."""
    return sum(float(method.get("pacing_wait_seconds", 0.0)) for method in metrics.values())
