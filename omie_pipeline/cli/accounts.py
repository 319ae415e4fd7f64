"""`omie-pipeline accounts list|check`: the Omie companies this deployment serves, and whether each answers."""

from __future__ import annotations

import click

from omie_pipeline.cli import main
from omie_pipeline.domain.documents import format_document
from omie_pipeline.i18n import _, ngettext
from omie_pipeline.omie import OmieClient, errors
from omie_pipeline.settings import accounts_file, load_accounts, load_settings
from omie_pipeline.store import Store
from omie_pipeline.store.companies import recorded_companies
from omie_pipeline.sync.company_guard import CrossedKeysError, ensure_own_company


@main.group("accounts")
def accounts_group() -> None:
    """The accounts (Omie companies) of this deployment: OMIE_PIPELINE_ACCOUNTS, else the environment's one."""


def _source_of(account) -> str:
    if account.deals_url_env:
        table = _(" table {table}").format(table=account.deals_table) if account.deals_table else ""
        return f"${account.deals_url_env}{table}"
    return account.deals_url or _("(not set)")


@accounts_group.command("list")
def list_accounts() -> None:
    """Each account: id, name, where its keys and deals come from, and the company its keys answered for."""
    settings = load_settings()
    accounts = load_accounts(settings)
    path = accounts_file(settings)
    with Store(settings.db_url).connect() as connection:
        companies = {row.account: row for row in recorded_companies(connection)}
    where = path or _("the environment (no accounts file)")
    click.echo(
        ngettext("{count} account from {where}", "{count} accounts from {where}", len(accounts)).format(
            count=len(accounts), where=where
        )
    )
    for account in accounts:
        keys = _("set") if account.app_key and account.app_secret.get_secret_value() else _("NOT SET")
        company = companies.get(account.id)
        click.echo(f"\n{account.id}  ({account.name})")
        rows = [
            (_("keys"), f"${account.app_key_env} / ${account.app_secret_env} ({keys})"),
            (
                _("deals"),
                _("{source}, closed when status is {statuses}").format(
                    source=_source_of(account), statuses=account.closed_statuses
                ),
            ),
            (_("service map"), str(account.service_map)),
            (
                _("Omie company"),
                f"{company.company_name} (CNPJ {format_document(company.cnpj)})"
                if company
                else _("not connected yet (`omie-pipeline accounts check`)"),
            ),
        ]
        for label, value in rows:
            click.echo(f"  {label + ':':<15}{value}")


@accounts_group.command("check")
def check_accounts() -> None:
    """Connect with each account's keys: the company they answer for must be the account's own.

    The first successful check records the company of each account; exit status 1 if any account
    fails (wrong keys, Omie unreachable, crossed keys), 0 otherwise.
    """
    settings = load_settings()
    store = Store(settings.db_url)
    failed = 0
    for account in load_accounts(settings):
        secret = account.app_secret.get_secret_value()
        if not account.app_key or not secret:
            click.echo(
                _("{account}: FAILED: ${key} and ${secret} must be set").format(
                    account=account.id, key=account.app_key_env, secret=account.app_secret_env
                )
            )
            failed += 1
            continue
        client = OmieClient(
            settings.omie_base_url, account.app_key, secret, timeout=(5.0, 20.0), max_retries=2, max_wait=0.0
        )
        try:
            company = ensure_own_company(store, client, account.id, account.app_key)
        except (errors.OmieError, CrossedKeysError) as problem:
            click.echo(_("{account}: FAILED: {problem}").format(account=account.id, problem=problem))
            failed += 1
        else:
            click.echo(
                _("{account}: ok, {company} (CNPJ {cnpj})").format(
                    account=account.id, company=company.company_name, cnpj=format_document(company.cnpj)
                )
            )
        finally:
            client.close()
    raise SystemExit(1 if failed else 0)
