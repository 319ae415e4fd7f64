"""`omie-pipeline deals ...`: pull closed deals, link them to Omie clients, list their issues.

The same work as the `closed_deals`, `client_index` and `client_links` assets, without Dagster:
for a first load, a full re-pull after fixing the source, or a look at what is wrong.
"""

from __future__ import annotations

import json

import click

from omie_pipeline.cli import main
from omie_pipeline.domain.timeutil import to_sao_paulo
from omie_pipeline.i18n import _, format_moment, ngettext
from omie_pipeline.settings import Settings, SettingsError, load_settings
from omie_pipeline.sources import SourceError
from omie_pipeline.store import Store

_ACCOUNT_HELP = "Account in the state store (default: OMIE_PIPELINE_ACCOUNT)."


@main.group()
def deals() -> None:
    """Closed deals from the CRM and their Omie clients."""


@deals.command("pull")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option("--full-refresh", is_flag=True, help="Read every deal of the source, ignoring the watermark.")
@click.option(
    "--overlap-minutes",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Re-read this many minutes before the watermark.",
)
def pull_command(account: str | None, full_refresh: bool, overlap_minutes: int) -> None:
    """Read closed deals changed since the last pull (SALESOS_DEALS_URL) into the state store."""
    from datetime import timedelta

    from omie_pipeline.sources import source_from_settings
    from omie_pipeline.sync.deals import pull_deals

    settings = _settings()
    store = Store(settings.db_url)
    try:
        pulled = pull_deals(
            source_from_settings(settings),
            store,
            account or settings.omie_pipeline_account,
            closed_statuses=settings.closed_statuses,
            full_refresh=full_refresh,
            overlap=timedelta(minutes=overlap_minutes),
            max_amount=settings.omie_pipeline_max_deal_amount,
        )
    except SourceError as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.dispose()
    since = format_moment(to_sao_paulo(pulled.since)) if pulled.since else _("the beginning")
    click.echo(_("{source}: read from {since}").format(source=pulled.source, since=since))
    click.echo(
        _(
            "  rows read {read}; closed {closed} (valid {valid}, invalid {invalid}); reopened {reopened}; "
            "not closed {not_closed}"
        ).format(
            read=pulled.read,
            closed=pulled.closed,
            valid=pulled.valid,
            invalid=pulled.invalid,
            reopened=pulled.reopened,
            not_closed=pulled.not_closed,
        )
    )
    if pulled.issues_by_reason:
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(pulled.issues_by_reason.items()))
        click.echo(_("  issues: {counts}").format(counts=counts))
    watermark = pulled.watermark.isoformat() if pulled.watermark else _("none")
    click.echo(_("  watermark: {watermark}").format(watermark=watermark))


@deals.command("link")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option(
    "--full-index", is_flag=True, help="List every Omie client, not only those changed since the last listing."
)
def link_command(account: str | None, full_index: bool) -> None:
    """Refresh the mirror of Omie's clients, then link every valid closed deal to its client."""
    from omie_pipeline.defs.resources import omie_client_for
    from omie_pipeline.omie import errors
    from omie_pipeline.sync.client_index import refresh_client_index
    from omie_pipeline.sync.clients import link_clients

    settings = _settings()
    account = account or settings.omie_pipeline_account
    store = Store(settings.db_url)
    try:
        client = omie_client_for(settings, store)
        index = refresh_client_index(client, store, account, full_refresh=full_index)
        linked = link_clients(client, store, account)
    except (SettingsError, errors.OmieError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        store.dispose()
    listing = _("full listing") if index.full else _("changes since {since}").format(since=index.since)
    click.echo(
        _("Omie clients: {total} ({listing}, {listed} listed); documents registered twice: {twice}").format(
            total=index.total, listing=listing, listed=index.listed, twice=len(index.duplicates)
        )
    )
    click.echo(
        _("deals: {deals} to link over {documents}; {outcomes}; with issues {issues}").format(
            deals=linked.deals,
            documents=ngettext("{count} document", "{count} documents", linked.documents).format(
                count=linked.documents
            ),
            outcomes=", ".join(f"{how} {n}" for how, n in sorted(linked.linked.items())),
            issues=linked.deals_with_issues,
        )
    )
    calls = {**index.calls}
    for method, count in linked.calls.items():
        calls[method] = calls.get(method, 0) + count
    counts = ", ".join(f"{method} {n}" for method, n in sorted(calls.items())) or _("none")
    click.echo(_("Omie calls: {counts}").format(counts=counts))


@deals.command("issues")
@click.option("--account", help=_ACCOUNT_HELP)
@click.option(
    "--stage",
    type=click.Choice(["validation", "client", "service", "tax", "invoice"]),
    help="Only issues of this stage.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def issues_command(account: str | None, stage: str | None, as_json: bool) -> None:
    """Open deal issues: the deal, the field, the reason and what to fix (CPFs masked)."""
    from omie_pipeline.store.deals import open_issues

    settings = _settings()
    store = Store(settings.db_url)
    try:
        with store.connect() as connection:
            rows = open_issues(connection, account or settings.omie_pipeline_account, stage)
    finally:
        store.dispose()
    if as_json:
        click.echo(json.dumps([row._asdict() for row in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(_("no open issues"))
    for row in rows:
        shown = f" [{row.raw_value}]" if row.raw_value else ""
        click.echo(f"{row.deal_id}  {row.stage}/{row.field}  {row.reason}{shown}: {row.message}")
        if row.fix:
            click.echo(_("    fix: {fix}").format(fix=row.fix))


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
