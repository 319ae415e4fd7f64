"""`omie-pipeline report`: build the reconciliation report outside Dagster, or print a written one."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import click

from omie_pipeline.cli import main
from omie_pipeline.i18n import _, format_day

EXIT_DISAGREES = 1
EXIT_CONFIG = 2


@main.command("report")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]),
    help="Closing day (aaaa-mm-dd or dd/mm/aaaa; default: the last day with closed deals).",
)
@click.option("--all-days", is_flag=True, help="Every closed deal, whatever its closing day.")
@click.option("--account", help="Account to report on (default: OMIE_PIPELINE_ACCOUNT).")
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Reports folder (default: OMIE_PIPELINE_REPORTS_DIR, else $DAGSTER_HOME/reports).",
)
@click.option(
    "--open",
    "open_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Print a report already written (its .csv or .xlsx) instead of building one.",
)
def report(
    day: datetime | None, all_days: bool, account: str | None, folder: Path | None, open_path: Path | None
) -> None:
    """Build the reconciliation report (HTML, CSV, XLSX) from the state store and print its summary.

    Exit status: 0 written, 1 the report disagrees with the store's own sums (files are still
    written, the differences printed), 2 bad options or configuration.
    """
    from omie_pipeline.reports.text import UnreadableReportError, file_text

    if open_path is not None:
        if day or all_days or account or folder:
            raise click.UsageError(_("--open prints a written report; it takes no other option"))
        try:
            click.echo(file_text(open_path))
        except UnreadableReportError as problem:
            click.echo(str(problem), err=True)
            sys.exit(EXIT_CONFIG)
        return
    if day and all_days:
        raise click.UsageError(_("give --date or --all-days, not both"))
    _build(None if all_days else (day.date() if day else None), all_days, account, folder)


def _last_closing_day(store, account: str) -> date | None:
    """The last day the account's deals closed, said aloud: a report of a day without deals is empty."""
    from omie_pipeline.store.report_queries import closing_days

    with store.connect() as connection:
        days = closing_days(connection, account)
    if not days:
        click.echo(_("no closed deals in the store yet: reporting today"), err=True)
        return None
    click.echo(
        _("no --date given: reporting {day}, the last day with closed deals").format(day=format_day(days[-1])), err=True
    )
    return days[-1]


def _build(day: date | None, all_days: bool, account: str | None, folder: Path | None) -> None:
    from omie_pipeline.domain.timeutil import SAO_PAULO, now_utc
    from omie_pipeline.reports import build_report, write_report
    from omie_pipeline.reports.text import report_text
    from omie_pipeline.reports.verify import verify_report
    from omie_pipeline.settings import SettingsError, load_settings
    from omie_pipeline.store import Store

    try:
        settings = load_settings()
    except SettingsError as problem:
        click.echo(_("cannot build the report: {problem}").format(problem=problem), err=True)
        sys.exit(EXIT_CONFIG)
    now = now_utc()
    account = account or settings.omie_pipeline_account
    store = Store(settings.db_url)
    try:
        if day is None and not all_days:
            day = _last_closing_day(store, account) or now.astimezone(SAO_PAULO).date()
        built = build_report(
            store,
            account,
            day,
            now,
            closed_statuses=settings.closed_statuses,
            stuck_after_minutes=settings.omie_pipeline_stuck_after_minutes,
        )
        try:
            files = write_report(built, folder or settings.reports_dir)
        except ValueError as problem:
            click.echo(_("cannot write the report: {problem}").format(problem=problem), err=True)
            sys.exit(EXIT_CONFIG)
        verification = verify_report(built, store, settings.closed_statuses)
    finally:
        store.dispose()
    click.echo(report_text(built))
    click.echo("")
    for path in files.all():
        click.echo(_("  file: {path}").format(path=path))
    if not (verification.every_deal_once and verification.totals_agree):
        click.echo(_("The report disagrees with the state store:"), err=True)
        if not verification.every_deal_once:
            click.echo(
                _("  deals in the store: {expected}, in the report: {listed}; duplicated: {duplicated}").format(
                    expected=verification.deals_expected,
                    listed=verification.deals_listed,
                    duplicated=", ".join(verification.duplicated_deals) or _("none"),
                ),
                err=True,
            )
        for line in verification.mismatches:
            click.echo(f"  {line}", err=True)
        sys.exit(EXIT_DISAGREES)
