"""Crossed keys stop before any write: each account serves one Omie company, and each company one account.

Integration codes derive from the account id, so the same company's deals run under a second
account id would be issued again under new codes: two NFS-e for one sale. The first successful
connection of an account records the company its keys answer for (CNPJ) and a hash of the key;
afterwards a key already recorded for the account costs no call, and a new key (rotated, or
crossed) is asked once which company it serves and refused when that company belongs to another
account, or is not the account's own company.
"""

from __future__ import annotations

import sqlalchemy as sa

from omie_pipeline.domain.documents import format_document, normalise_document
from omie_pipeline.domain.timeutil import now_utc
from omie_pipeline.i18n import _
from omie_pipeline.store import Store
from omie_pipeline.store.companies import AccountCompany, app_key_hash, record_company, recorded_companies


class CrossedKeysError(RuntimeError):
    """The account's keys answer for a company that is not its own: nothing is written."""


def ensure_own_company(store: Store, client, account: str, app_key: str) -> AccountCompany:
    """The account's company, checked against what its keys answer; `CrossedKeysError` if crossed.

    Two runs of a new account may record at once: the one that loses the insert checks again
    against what the other recorded."""
    try:
        return _ensure(store, client, account, app_key)
    except sa.exc.IntegrityError:
        return _ensure(store, client, account, app_key)


def _ensure(store: Store, client, account: str, app_key: str) -> AccountCompany:
    key_hash = app_key_hash(app_key)
    with store.connect() as connection:
        known = recorded_companies(connection)
    mine = next((row for row in known if row.account == account), None)
    if mine is not None and mine.app_key_hash == key_hash:
        return mine
    holder = next((row for row in known if row.app_key_hash == key_hash), None)
    if holder is not None:
        raise CrossedKeysError(
            _(
                "account '{account}': its Omie app key is already registered to account '{holder}' "
                "(company {company}, CNPJ {cnpj}); one company under two account ids would have its deals "
                "invoiced twice. Run it as account '{holder}'. Nothing was sent to Omie."
            ).format(
                account=account, holder=holder.account, company=holder.company_name, cnpj=format_document(holder.cnpj)
            )
        )
    companies = [company for company in client.list_companies() if (company.inativa or "").strip().upper() != "S"]
    if len(companies) != 1:
        raise CrossedKeysError(
            _(
                "account '{account}': its Omie keys answer for {count} active companies, expected one. "
                "Nothing was sent to Omie."
            ).format(account=account, count=len(companies))
        )
    cnpj = normalise_document(companies[0].cnpj)
    name = companies[0].razao_social or companies[0].nome_fantasia or format_document(cnpj)
    if mine is not None and mine.cnpj != cnpj:
        raise CrossedKeysError(
            _(
                "account '{account}' is company {company} (CNPJ {cnpj}), but its Omie keys now answer for "
                "{other} (CNPJ {other_cnpj}): check the keys set for this account. Nothing was sent to Omie."
            ).format(
                account=account,
                company=mine.company_name,
                cnpj=format_document(mine.cnpj),
                other=name,
                other_cnpj=format_document(cnpj),
            )
        )
    owner = next((row for row in known if row.cnpj == cnpj and row.account != account), None)
    if owner is not None:
        raise CrossedKeysError(
            _(
                "account '{account}': its Omie keys answer for {company} (CNPJ {cnpj}), already served by "
                "account '{owner}'; one company under two account ids would have its deals invoiced twice. "
                "Nothing was sent to Omie."
            ).format(account=account, company=name, cnpj=format_document(cnpj), owner=owner.account)
        )
    with store.begin() as connection:
        record_company(connection, account, key_hash, cnpj, name, now_utc())
    return AccountCompany(account, key_hash, cnpj, name)
