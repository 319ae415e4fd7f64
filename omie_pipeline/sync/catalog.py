"""Omie's service catalog into the state store: full on the first load, by change date after it.

The incremental listing asks for services changed since the newest change already seen (Omie's
own clock, inclusive, so a change in that same second is listed again rather than missed). A full
listing is made again every `FULL_RELOAD_EVERY`, or on request, because only a full listing shows
services deleted in Omie; those are removed from the store, so a product mapped to one becomes
"unknown" instead of being invoiced as a service that no longer exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from omie_pipeline.domain.money import round_cents
from omie_pipeline.domain.timeutil import from_omie_local, now_utc
from omie_pipeline.i18n import _
from omie_pipeline.omie.models import ServiceRecord
from omie_pipeline.store import Store, sync_state
from omie_pipeline.store.catalog import (
    list_services,
    remove_services,
    stored_service_ids,
    upsert_services,
)

WATERMARK_KEY = "catalog:changed_since"
LAST_FULL_LOAD_KEY = "catalog:last_full_load"
FULL_RELOAD_EVERY = timedelta(days=7)

# Column widths of `service_codes`; a longer value is reported, never cut.
_WIDTHS = {
    "integration_code": 60,
    "code": 60,
    "municipal_code": 40,
    "lc116_code": 16,
    "nbs_code": 40,
    "taxation_type": 16,
}
_OMIE_NAMES = {
    "integration_code": "cCodIntServ",
    "code": "cCodigo",
    "municipal_code": "cCodServMun",
    "lc116_code": "cCodLC116",
    "nbs_code": "nIdNBS",
    "taxation_type": "cIdTrib",
    "unit_price": "nPrecoUnit",
}


class ServiceFieldError(ValueError):
    """A listed value that does not fit the store; names Omie's field."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field_name = field_name
        self.message = message


@dataclass(frozen=True)
class RecordProblem:
    """A listed service that could not be stored; its old row is removed rather than kept stale."""

    service_id: int
    code: str
    field: str
    message: str

    def __str__(self) -> str:
        return _("service {service} (nCodServ {service_id}), {field}: {message}").format(
            service=self.code or self.service_id, service_id=self.service_id, field=self.field, message=self.message
        )


@dataclass
class CatalogSync:
    """What one catalog sync did."""

    full: bool
    changed_since: datetime | None
    listed: int = 0
    new: int = 0
    refreshed: int = 0  # listed again, already known
    removed: int = 0
    total: int = 0
    inactive: int = 0
    problems: list[RecordProblem] = field(default_factory=list)


def sync_catalog(
    client: Any, store: Store, account: str, *, full: bool = False, now: datetime | None = None
) -> CatalogSync:
    """List Omie's services (all, or those changed since the last sync) and store them."""
    now = now or now_utc()
    with store.connect() as connection:
        watermark = sync_state.get_datetime(connection, account, WATERMARK_KEY)
        last_full = sync_state.get_datetime(connection, account, LAST_FULL_LOAD_KEY)
    full = full or watermark is None or last_full is None or now - last_full >= FULL_RELOAD_EVERY
    summary = CatalogSync(full=full, changed_since=None if full else watermark)

    records = list(client.list_services(changed_since=summary.changed_since))
    summary.listed = len(records)
    rows, listed_ids = [], set()
    newest = watermark
    for record in records:
        listed_ids.add(record.nCodServ)
        changed_at = service_changed_at(record)
        if changed_at is not None and (newest is None or changed_at > newest):
            newest = changed_at
        try:
            rows.append(service_row(record, account, now))
        except ServiceFieldError as problem:
            summary.problems.append(
                RecordProblem(record.nCodServ, record.cabecalho.cCodigo.strip(), problem.field_name, problem.message)
            )

    with store.begin() as connection:
        known = stored_service_ids(connection, account)
        stored = {row["service_id"] for row in rows}
        summary.new = len(stored - known)
        summary.refreshed = len(stored & known)
        upsert_services(connection, rows)
        unusable = {problem.service_id for problem in summary.problems}
        gone = (known - listed_ids) if full else set()
        summary.removed = remove_services(connection, account, (unusable | gone) & known)
        if newest is not None:
            sync_state.set_datetime(connection, account, WATERMARK_KEY, newest)
        if full:
            sync_state.set_datetime(connection, account, LAST_FULL_LOAD_KEY, now)

    with store.connect() as connection:
        catalog = list_services(connection, account)
    summary.total = len(catalog)
    summary.inactive = sum(1 for service in catalog if service.inactive)
    return summary


def service_row(record: ServiceRecord, account: str, synced_at: datetime) -> dict[str, Any]:
    """The `service_codes` row of a listed service; ServiceFieldError for a value that does not fit."""
    header = record.cabecalho
    row: dict[str, Any] = {
        "account": account,
        "service_id": record.nCodServ,
        "integration_code": _text(record.intListar.cCodIntServ),
        "code": _text(header.cCodigo),
        "description": _text(header.cDescricao),
        "municipal_code": _text(header.cCodServMun),
        "lc116_code": _text(header.cCodLC116),
        "nbs_code": _text(header.nIdNBS),
        "taxation_type": _text(header.cIdTrib),
        "unit_price": None,
        "inactive": _inactive(record),
        "taxes": record.impostos.model_dump(mode="json"),
        "changed_at": service_changed_at(record),
        "synced_at": synced_at,
    }
    for column, width in _WIDTHS.items():
        if row[column] is not None and len(row[column]) > width:
            raise ServiceFieldError(
                _OMIE_NAMES[column],
                _("'{value}' is longer than {width} characters").format(value=row[column], width=width),
            )
    price = header.nPrecoUnit
    if price is not None:
        if not price.is_finite() or price < 0:
            raise ServiceFieldError("nPrecoUnit", _("{price} is not a unit price").format(price=price))
        row["unit_price"] = round_cents(price)
    return row


def service_changed_at(record: ServiceRecord) -> datetime | None:
    """When Omie last changed the service (creation if never changed), as an aware UTC instant."""
    info = record.info
    day, clock = (info.dAlt, info.hAlt) if info.dAlt else (info.dInc, info.hInc)
    if day is None:
        return None
    return from_omie_local(day, clock)


def _inactive(record: ServiceRecord) -> bool:
    flag = record.info.inativo.strip().upper()
    if flag not in ("", "S", "N"):
        raise ServiceFieldError("inativo", _("'{value}' is not S or N").format(value=record.info.inativo))
    return flag == "S"


def _text(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None
