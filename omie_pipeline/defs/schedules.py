"""Cadences, in America/Sao_Paulo, one run per registered account on each tick."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from omie_pipeline.defs.assets.report import add_report_days, report_key_ranges
from omie_pipeline.defs.jobs import (
    catalog_job,
    emission_job,
    freshness_checks_job,
    invoice_status_refresh_job,
    report_job,
    report_range_tags,
)
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.i18n import _

TIMEZONE = "America/Sao_Paulo"


def _one_run_per_account(context: dg.ScheduleEvaluationContext):
    account_keys = context.instance.get_dynamic_partitions(ACCOUNTS_PARTITION_NAME)
    if not account_keys:
        yield dg.SkipReason(_("no Omie account registered yet (the omie_accounts sensor adds them)"))
        return
    tick = context.scheduled_execution_time.isoformat()
    for account in account_keys:
        yield dg.RunRequest(run_key=f"{account}:{tick}", partition_key=account)


def _schedule(name: str, cron: str, job, description: str):
    return dg.ScheduleDefinition(
        name=name,
        cron_schedule=cron,
        job=job,
        execution_timezone=TIMEZONE,
        description=description,
        execution_fn=_one_run_per_account,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


EMISSION_CRON = "*/15 * * * *"


def emission_schedule_on(cron: str) -> dg.ScheduleDefinition:
    """Emission on the deployment's cadence (OMIE_PIPELINE_EMISSION_CRON): how soon after a deal closes
    its note is issued is a choice of the company, not of the code."""
    return _schedule(
        "emission_schedule",
        cron,
        emission_job,
        f"Deals -> clients -> invoices on {cron!r}; never two runs at once for one account.",
    )


emission_schedule = emission_schedule_on(EMISSION_CRON)
status_refresh_schedule = _schedule(
    "status_refresh_schedule",
    "*/5 * * * *",
    invoice_status_refresh_job,
    "Invoice statuses every 5 minutes.",
)
freshness_schedule = _schedule(
    "freshness_schedule",
    "*/5 * * * *",
    freshness_checks_job,
    "Freshness checks every 5 minutes: statuses (while invoices are open), catalog and tax rates.",
)
catalog_schedule = _schedule(
    "catalog_schedule",
    "0 6 * * *",
    catalog_job,
    "Service catalog and tax rates daily at 06:00.",
)


def _report_requests(context: dg.ScheduleEvaluationContext):
    """Today's report and yesterday's final one (deals closed late in the evening), per account: one run
    writing both, or one run each when the two days are not next to each other in the day dimension.

    Both days are added to the report's day dimension here, as they are requested, so the UI lists
    only days that have a report for every account (a day without deals has an empty one)."""
    account_keys = context.instance.get_dynamic_partitions(ACCOUNTS_PARTITION_NAME)
    if not account_keys:
        yield dg.SkipReason(_("no Omie account registered yet (the omie_accounts sensor adds them)"))
        return
    moment = context.scheduled_execution_time.astimezone(SAO_PAULO)
    days = (moment.date() - timedelta(days=1), moment.date())
    add_report_days(context.instance, days)
    cells = [(account, day) for account in account_keys for day in days]
    for key_range in report_key_ranges(context.instance, cells):
        yield dg.RunRequest(
            run_key=f"{key_range.start}..{key_range.end}:{moment.isoformat()}", tags=report_range_tags(key_range)
        )


report_schedule = dg.ScheduleDefinition(
    name="report_schedule",
    cron_schedule="30 18 * * *",
    job=report_job,
    execution_timezone=TIMEZONE,
    execution_fn=_report_requests,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Daily after close of business (18:30): today's report and yesterday's final one.",
)


def build_schedules(emission_cron: str = EMISSION_CRON) -> list[dg.ScheduleDefinition]:
    """Every schedule of the code location, emission on `emission_cron`."""
    return [
        emission_schedule_on(emission_cron),
        status_refresh_schedule,
        freshness_schedule,
        catalog_schedule,
        report_schedule,
    ]
