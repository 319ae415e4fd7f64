"""Tax rates and the company profile, kept as versions with validity periods.

A version is never changed, only closed: when Omie's rates (or the company's regime) differ from
the version in force, that version gets `valid_to = now` and a new one starts at `now`. So an
invoice's `tax_rate_id` always points at the rates it was issued with, and the history of every
service stays readable.

Two runs may compare and write at the same time. Writers of one account are serialised (a
PostgreSQL advisory lock; SQLite's BEGIN IMMEDIATE already does it), the version in force is
read again after the lock is held, and a partial unique index allows only one open version per
service, so the second run finds the first one's version and has nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from omie_pipeline.domain.taxes import Regime, TaxRates
from omie_pipeline.store.tables import company_profiles, tax_rates

RATE_FIELDS = tuple(field.name for field in fields(TaxRates))


@dataclass(frozen=True)
class TaxRateVersion:
    """One service's rates over one period; `id` is what an invoice records as `tax_rate_id`."""

    id: int
    account: str
    service_code: str
    regime: Regime
    rates: TaxRates
    valid_from: datetime
    valid_to: datetime | None


@dataclass(frozen=True)
class FieldChange:
    """One field of a version that differs from the version before it, both sides as text for the change log."""

    field: str
    before: str
    after: str


@dataclass(frozen=True)
class VersionChange:
    """What one write did to a service's rates (or the company profile): opened, replaced or closed."""

    key: str  # the service code, or "company"
    previous_id: int | None
    current_id: int | None
    fields: tuple[FieldChange, ...]

    @property
    def kind(self) -> str:
        """ "first", "changed" or "closed": how the run describes the write in its metadata."""
        if self.previous_id is None:
            return "first"
        return "closed" if self.current_id is None else "changed"


@dataclass(frozen=True)
class CompanyProfile:
    """The company behind the Omie account, as far as taxes are concerned."""

    company_id: int | None
    cnpj: str | None
    legal_name: str | None
    regime: Regime
    city: str | None
    state: str | None
    issues_nfse: bool | None


@dataclass(frozen=True)
class CompanyProfileVersion:
    """The company profile in force from `valid_from` until `valid_to` (open when None), so an old invoice keeps
    the regime it was issued under.
    """

    id: int
    account: str
    profile: CompanyProfile
    valid_from: datetime
    valid_to: datetime | None


def lock_account_versions(connection: sa.Connection, account: str) -> None:
    """Serialise version writers of one account until the transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"omie_pipeline:versions:{account}")))
        )


# --- tax rates ------------------------------------------------------------------------------


def open_rate_versions(connection: sa.Connection, account: str) -> dict[str, TaxRateVersion]:
    """Service code -> the version in force now (valid_to not set)."""
    query = sa.select(tax_rates).where(tax_rates.c.account == account, tax_rates.c.valid_to.is_(None))
    return {version.service_code: version for version in map(_rate_version, connection.execute(query).mappings())}


def rates_in_force(connection: sa.Connection, account: str, service_code: str, at: datetime) -> TaxRateVersion | None:
    """The rates of a service at instant `at` (valid_from <= at < valid_to), or None if it had none."""
    query = (
        sa.select(tax_rates)
        .where(
            tax_rates.c.account == account,
            tax_rates.c.service_code == service_code,
            tax_rates.c.valid_from <= at,
            sa.or_(tax_rates.c.valid_to.is_(None), tax_rates.c.valid_to > at),
        )
        .order_by(tax_rates.c.valid_from.desc())
        .limit(1)
    )
    row = connection.execute(query).mappings().first()
    return _rate_version(row) if row else None


def rate_history(connection: sa.Connection, account: str, service_code: str | None = None) -> list[TaxRateVersion]:
    """Every version, oldest first (of one service, or of all, by service code)."""
    query = sa.select(tax_rates).where(tax_rates.c.account == account)
    if service_code is not None:
        query = query.where(tax_rates.c.service_code == service_code)
    query = query.order_by(tax_rates.c.service_code, tax_rates.c.valid_from)
    return [_rate_version(row) for row in connection.execute(query).mappings()]


def record_rates(
    connection: sa.Connection, account: str, service_code: str, regime: Regime, rates: TaxRates, now: datetime
) -> VersionChange | None:
    """Make `rates` under `regime` the service's version in force; None when they already are.

    Call inside a transaction that holds `lock_account_versions`.
    """
    current = _open_rate_version(connection, account, service_code)
    if current is not None and current.regime == regime and current.rates == rates:
        return None
    if current is not None:
        _close(connection, tax_rates, current.id, now)
    row = {
        "account": account,
        "service_code": service_code,
        "regime": regime.value,
        "valid_from": now,
        "valid_to": None,
        **{name: getattr(rates, name) for name in RATE_FIELDS},
    }
    new_id = connection.execute(sa.insert(tax_rates).returning(tax_rates.c.id), row).scalar_one()
    before = _rate_values(current) if current else {}
    after = {"regime": regime.value, **{name: _shown(getattr(rates, name)) for name in RATE_FIELDS}}
    return VersionChange(service_code, current.id if current else None, new_id, _differences(before, after))


def close_rates(connection: sa.Connection, account: str, service_code: str, now: datetime) -> VersionChange | None:
    """End the service's version in force without a successor (its rates can no longer be trusted)."""
    current = _open_rate_version(connection, account, service_code)
    if current is None:
        return None
    _close(connection, tax_rates, current.id, now)
    return VersionChange(service_code, current.id, None, ())


def _open_rate_version(connection: sa.Connection, account: str, service_code: str) -> TaxRateVersion | None:
    query = sa.select(tax_rates).where(
        tax_rates.c.account == account, tax_rates.c.service_code == service_code, tax_rates.c.valid_to.is_(None)
    )
    row = connection.execute(query).mappings().first()
    return _rate_version(row) if row else None


def _rate_version(row: Mapping[str, Any]) -> TaxRateVersion:
    return TaxRateVersion(
        id=row["id"],
        account=row["account"],
        service_code=row["service_code"],
        regime=Regime(row["regime"]),
        rates=TaxRates(**{name: _plain(row[name]) for name in RATE_FIELDS}),
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
    )


def _plain(value: Any) -> Any:
    """A stored rate without the column's trailing zeros (2.9000 -> 2.9), so messages read naturally."""
    if not isinstance(value, Decimal):
        return value
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized.as_tuple().exponent > 0 else normalized


def _rate_values(version: TaxRateVersion) -> dict[str, str]:
    return {"regime": version.regime.value, **{name: _shown(getattr(version.rates, name)) for name in RATE_FIELDS}}


# --- company profile ------------------------------------------------------------------------


def company_profile_in_force(
    connection: sa.Connection, account: str, at: datetime | None = None
) -> CompanyProfileVersion | None:
    """The company profile at `at` (default: the version in force now)."""
    query = sa.select(company_profiles).where(company_profiles.c.account == account)
    if at is None:
        query = query.where(company_profiles.c.valid_to.is_(None))
    else:
        query = query.where(
            company_profiles.c.valid_from <= at,
            sa.or_(company_profiles.c.valid_to.is_(None), company_profiles.c.valid_to > at),
        )
    row = connection.execute(query.order_by(company_profiles.c.valid_from.desc()).limit(1)).mappings().first()
    return _profile_version(row) if row else None


def record_company_profile(
    connection: sa.Connection, account: str, profile: CompanyProfile, now: datetime
) -> VersionChange | None:
    """Make `profile` the version in force; None when it already is. Same locking as `record_rates`."""
    current = company_profile_in_force(connection, account)
    if current is not None and current.profile == profile:
        return None
    if current is not None:
        _close(connection, company_profiles, current.id, now)
    values = {name: getattr(profile, name) for name in _PROFILE_FIELDS}
    values["regime"] = profile.regime.value
    new_id = connection.execute(
        sa.insert(company_profiles).returning(company_profiles.c.id),
        {"account": account, "valid_from": now, "valid_to": None, **values},
    ).scalar_one()
    before = _profile_values(current.profile) if current else {}
    return VersionChange(
        "company", current.id if current else None, new_id, _differences(before, _profile_values(profile))
    )


_PROFILE_FIELDS = tuple(field.name for field in fields(CompanyProfile))


def _profile_version(row: Mapping[str, Any]) -> CompanyProfileVersion:
    values = {name: row[name] for name in _PROFILE_FIELDS}
    values["regime"] = Regime(values["regime"])
    return CompanyProfileVersion(
        row["id"], row["account"], CompanyProfile(**values), row["valid_from"], row["valid_to"]
    )


def _profile_values(profile: CompanyProfile) -> dict[str, str]:
    return {name: _shown(getattr(profile, name)) for name in _PROFILE_FIELDS}


# --- shared ---------------------------------------------------------------------------------


def _close(connection: sa.Connection, table: sa.Table, version_id: int, now: datetime) -> None:
    closed = connection.execute(
        sa.update(table).where(table.c.id == version_id, table.c.valid_to.is_(None)).values(valid_to=now)
    ).rowcount
    if closed != 1:
        # Only possible without `lock_account_versions`: another writer closed it first.
        raise RuntimeError(f"{table.name} version {version_id} was closed by another writer; run again")


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):  # 2.9000 and 2.9 are the same rate
        return format(value.normalize(), "f")
    return str(getattr(value, "value", value))


def _differences(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[FieldChange, ...]:
    return tuple(
        FieldChange(name, before.get(name, ""), value) for name, value in after.items() if before.get(name, "") != value
    )
