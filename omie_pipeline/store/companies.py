"""Which Omie company each account is: recorded at its first connection, never silently changed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from omie_pipeline.store.tables import account_companies


@dataclass(frozen=True)
class AccountCompany:
    account: str
    app_key_hash: str
    cnpj: str
    company_name: str


def app_key_hash(app_key: str) -> str:
    """The app key as the store keeps it: its SHA-256, so the store never holds a key."""
    return hashlib.sha256(app_key.encode()).hexdigest()


def recorded_companies(connection: sa.Connection) -> list[AccountCompany]:
    rows = connection.execute(sa.select(account_companies).order_by(account_companies.c.account))
    return [AccountCompany(row.account, row.app_key_hash, row.cnpj, row.company_name) for row in rows]


def record_company(
    connection: sa.Connection, account: str, key_hash: str, cnpj: str, company_name: str, now: datetime
) -> None:
    """Record (or, after a change of keys for the same company, update) the account's company."""
    values = {"app_key_hash": key_hash, "cnpj": cnpj, "company_name": company_name[:200], "recorded_at": now}
    updated = connection.execute(
        sa.update(account_companies).where(account_companies.c.account == account).values(**values)
    )
    if not updated.rowcount:
        connection.execute(sa.insert(account_companies).values(account=account, **values))
