"""Pulling closed deals: read what changed since the watermark, validate, store deals and issues.

Incremental by `updated_at`. Each source has its own watermark; a pull reads from the watermark
minus an overlap window, so that a deal saved late (a long CRM
transaction, clocks a little apart) or changed twice in a moment is still seen. Rows seen again are
written again, which changes nothing: deals are keyed by id, issues by (deal, field, reason).

The watermark is the newest `updated_at` of the rows read well -- valid closed deals, and deals
that are simply not closed -- and never later than the moment the pull started. A row with
problems does not move it: its date is part of what may be wrong, and reading it again costs
nothing. A date later than the start (beyond `CLOCK_SKEW`) is an `in_future` issue on its deal: a
CRM row dated 2099 would otherwise stop every later pull. Such a row is read again by every pull
until it is corrected, and its date is not stored, so that the corrected version is not taken for
an older one. A watermark already past the start (stored before this rule) is not trusted: the
pull reads everything once and sets it right.

What is stored: the latest version of every closed deal, valid or not, so that finance can count
every closed deal. A row that fails validation is stored with what could be read and its problems
become validation issues; when a later version is valid they are marked resolved. Deals that are
not closed are not stored; one that was stored and has left the closed statuses (reopened) is kept,
marked invalid, with a `not_closed` issue, so that it is neither invoiced nor silently forgotten.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

import sqlalchemy as sa

from omie_pipeline.collector import collect_young, collector_paused
from omie_pipeline.dburl import driver_message
from omie_pipeline.domain.deal import (
    CLIENT_COLUMNS,
    DEFAULT_MAX_AMOUNT,
    MAX_LENGTHS,
    STORABLE_MAX_AMOUNT,
    Deal,
    DealClient,
    FieldProblem,
    mask_raw_value,
    validate_deal_row,
)
from omie_pipeline.domain.deal_columns import DistinctReadings, clean_deal_rows
from omie_pipeline.domain.money import CENT, MoneyFormatError, to_decimal
from omie_pipeline.domain.text import without_control_characters
from omie_pipeline.domain.timeutil import (
    DatetimeFormatError,
    now_utc,
    parse_iso_datetime,
    to_sao_paulo,
)
from omie_pipeline.i18n import _, format_moment
from omie_pipeline.sources.base import DealSource, SourceRow, readable_moment
from omie_pipeline.store import Store, sync_state
from omie_pipeline.store.deals import (
    IssueRecord,
    record_issues,
    refresh_deal_statistics,
    resolve_issues_not_seen,
    save_deals,
    stored_versions,
)

log = logging.getLogger("omie_pipeline.sync.deals")

DEFAULT_OVERLAP = timedelta(minutes=10)
CLOCK_SKEW = timedelta(minutes=5)  # how far the CRM's clock may run ahead of ours before a date is "in the future"
IN_FUTURE = "in_future"
NOT_STORABLE = "not_storable"
CONFLICTING_VERSIONS = "conflicting_versions"
WRITE_BATCH = 5000
"""Rows read, validated and stored together, in one transaction: memory grows with it, not with the source."""
_NOTHING_SEEN: frozenset[tuple[str, str]] = frozenset()
"""What a valid deal shows: no validation issue (shared, not one empty set per deal)."""
VALIDATION_STAGE = "validation"
NOT_CLOSED = "not_closed"


@dataclass
class PullSummary:
    """What one pull read and stored."""

    source: str
    full_refresh: bool
    since: datetime | None
    watermark: datetime | None = None
    read: int = 0
    not_closed: int = 0  # ignored: never closed, not stored
    reopened: int = 0  # stored earlier, now outside the closed statuses
    stale: int = 0  # older than the version already stored
    valid: int = 0
    invalid: int = 0
    issues_by_reason: Counter[str] = field(default_factory=Counter)
    resolved_issues: int = 0

    @property
    def closed(self) -> int:
        return self.valid + self.invalid


@dataclass
class _Version:
    """One row turned into what is stored: the deal row, its problems and its moment."""

    deal_id: str
    row: dict[str, Any]
    problems: list[FieldProblem]
    updated_at: datetime | None
    position: int
    reopened: bool = False
    moves_watermark: bool = False  # read well: its `updated_at` may advance the watermark


def watermark_key(source: DealSource) -> str:
    return f"deals_watermark:{source.source_id}"


def pull_deals(
    source: DealSource,
    store: Store,
    account: str,
    *,
    closed_statuses: Iterable[str] = ("won",),
    full_refresh: bool = False,
    overlap: timedelta = DEFAULT_OVERLAP,
    max_amount: Decimal = DEFAULT_MAX_AMOUNT,
    now: datetime | None = None,
) -> PullSummary:
    """Read the deals changed since the watermark (all with `full_refresh`) into the store.

    A deal above `max_amount` is kept with an `above_maximum` issue and never invoiced.

    The watermark moves only after every row is stored, so a pull that fails part-way is simply
    read again. Raises SourceError when the source as a whole cannot be read.
    """
    closed = frozenset(status.strip().lower() for status in closed_statuses if status.strip())
    if not closed:
        raise ValueError("closed_statuses is empty: no deal could ever be closed")
    if overlap < timedelta(0):
        raise ValueError(f"overlap must not be negative; got {overlap}")
    moment = now or now_utc()
    horizon = moment + CLOCK_SKEW
    key = watermark_key(source)
    with store.connect() as connection:
        previous = sync_state.get_datetime(connection, account, key)
    if previous is not None and previous > horizon:
        log.warning(
            "deals watermark of %s is %s, after this pull's start %s: reading every deal once to set it right",
            source.description,
            previous.isoformat(),
            moment.isoformat(),
        )
        previous = None
    since = None if full_refresh or previous is None else previous - overlap
    summary = PullSummary(source=source.description, full_refresh=full_refresh, since=since)
    newest = previous
    readings = DistinctReadings()
    with collector_paused():
        for chunk in _chunks(source.read(since), WRITE_BATCH):
            summary.read += len(chunk)
            batch = _versions_of(chunk, account, closed, horizon, max_amount, readings)
            for version in batch:
                if (
                    version.moves_watermark
                    and version.updated_at is not None
                    and (newest is None or version.updated_at > newest)
                ):
                    newest = min(version.updated_at, moment)
            _store_batch(store, account, batch, summary, moment, horizon)
            collect_young()
    if summary.read:  # only a row read moves the watermark; a pull that read none takes no write lock
        with store.begin() as connection:
            if newest is not None and newest != previous:
                sync_state.set_datetime(connection, account, key, newest)
            refresh_deal_statistics(connection)
    summary.watermark = newest
    log.info(
        "deals from %s: %d read, %d closed (%d valid, %d invalid), %d reopened, %d not closed",
        source.description,
        summary.read,
        summary.closed,
        summary.valid,
        summary.invalid,
        summary.reopened,
        summary.not_closed,
    )
    return summary


def _status_of(values: dict[str, Any]) -> str | None:
    value = values.get("status")
    if value is None:
        return None
    text = str(value).strip().lower()
    return text or None


def _chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _versions_of(
    chunk: Sequence[SourceRow],
    account: str,
    closed: frozenset[str],
    horizon: datetime,
    max_amount: Decimal,
    readings: DistinctReadings,
) -> list[_Version]:
    """The chunk's rows as versions: those that read cleanly as valid closed deals all at once
    (`clean_deal_rows`, with what the pull's earlier chunks read), every other one through the model,
    which says what is wrong with it."""
    clean = clean_deal_rows(
        [source_row.values for source_row in chunk], account, max_amount=max_amount, readings=readings
    )
    versions = []
    for source_row, row in zip(chunk, clean, strict=True):
        if row is None or row["status"] not in closed or row["updated_at"] > horizon or source_row.problem:
            versions.append(_version_of(source_row, account, closed, horizon, max_amount))
            continue
        row["is_valid"] = True
        versions.append(_Version(row["deal_id"], row, [], row["updated_at"], source_row.position, moves_watermark=True))
    return versions


def _version_of(
    source_row: SourceRow, account: str, closed: frozenset[str], horizon: datetime, max_amount: Decimal
) -> _Version:
    values = source_row.values
    status = _status_of(values)
    deal_id = _deal_id_of(values)
    future = _future_problem(deal_id, values, horizon)
    if status is not None and status not in closed:
        problem = FieldProblem(
            deal_id=deal_id,
            field="status",
            reason_code=NOT_CLOSED,
            message=_(
                "the deal's status is now '{status}', not one of the closed statuses ({closed}); it is not invoiced "
                "while it stays so"
            ).format(status=status, closed=", ".join(sorted(closed))),
            raw_value_masked=mask_raw_value("status", values.get("status")),
            fix=_(
                "nothing, if the deal was reopened on purpose; an invoice already issued for it is not "
                "cancelled automatically: cancel it in Omie if it must go"
            ),
        )
        problems = [problem] + ([future] if future else [])
        row = _salvaged_row(values, deal_id, account, {problem.field for problem in problems}, status)
        return _Version(
            deal_id,
            row,
            problems,
            row["updated_at"],
            source_row.position,
            reopened=True,
            moves_watermark=future is None,
        )
    result = validate_deal_row(values, account, max_amount=max_amount)
    problems = [] if isinstance(result, Deal) else list(result)
    if future is not None:
        problems.append(future)
    if source_row.problem:
        problems.append(
            FieldProblem(
                deal_id=deal_id,
                field="row",
                reason_code="extra_cells",
                message=source_row.problem,
                raw_value_masked=None,
                fix=_("quote values that contain the separator in the CRM export"),
            )
        )
    if isinstance(result, Deal) and not problems:
        row = result.as_row()
        row["is_valid"] = True
        return _Version(result.deal_id, row, [], result.updated_at, source_row.position, moves_watermark=True)
    problem_fields = {problem.field for problem in problems}
    row = _salvaged_row(values, deal_id, account, problem_fields, status)
    return _Version(deal_id, row, problems, row["updated_at"], source_row.position)


def _future_problem(deal_id: str, values: dict[str, Any], horizon: datetime) -> FieldProblem | None:
    """An `updated_at` later than now (beyond the clock skew allowed): wrong in the CRM."""
    moment = readable_moment(values.get("updated_at"))
    if moment is None or moment <= horizon:
        return None
    return FieldProblem(
        deal_id=deal_id,
        field="updated_at",
        reason_code=IN_FUTURE,
        message=_(
            "the deal was last changed at {moment} (São Paulo), which is in the future: a date the CRM cannot have "
            "written; the deal is not invoiced while it stays so"
        ).format(moment=format_moment(to_sao_paulo(moment))),
        raw_value_masked=mask_raw_value("updated_at", values.get("updated_at")),
        fix=_(
            "correct the deal's last-change date in the CRM (or the clock of the machine that wrote it); "
            "the deal is read again on every pull until then"
        ),
    )


def _deal_id_of(values: dict[str, Any]) -> str:
    """The deal's id, or a stable stand-in when it is missing or too long to be a key."""
    raw = values.get("deal_id")
    text = str(raw).strip() if raw is not None else ""
    if text and len(text) <= MAX_LENGTHS["deal_id"]:
        return text
    basis = text or json.dumps(
        {name: str(value) for name, value in sorted(values.items()) if value is not None},
        ensure_ascii=False,
        sort_keys=True,
    )
    return "no-valid-id-" + hashlib.sha256(basis.encode("utf-8")).hexdigest()[:16]


def _clip(value: Any, name: str) -> str | None:
    if value is None:
        return None
    text = " ".join(without_control_characters(str(value)).split())
    if not text:
        return None
    limit = MAX_LENGTHS.get(name)
    return text[:limit] if limit else text


def _moment_or_none(value: Any) -> datetime | None:
    if value is None or not isinstance(value, (str, datetime)):
        return None
    try:
        return parse_iso_datetime(value)
    except DatetimeFormatError:
        return None


def _amount_or_none(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        amount = to_decimal(value, places=2)
    except MoneyFormatError:
        return None
    return amount.quantize(CENT) if 0 < amount <= STORABLE_MAX_AMOUNT else None


def _salvaged_row(
    values: dict[str, Any], deal_id: str, account: str, bad_fields: set[str], status: str | None
) -> dict[str, Any]:
    """What can be kept of a row that is not a valid deal: every field that read well, the rest empty.

    Finance still sees the deal (its name, amount, dates) next to the reason it is not invoiced.
    """
    kept = {name: (None if name in bad_fields else value) for name, value in values.items()}
    row: dict[str, Any] = {
        "account": account,
        "deal_id": deal_id,
        "status": _clip(status, "status") or "",
        "closed_at": _moment_or_none(kept.get("closed_at")),
        "updated_at": _moment_or_none(kept.get("updated_at")),
        "amount": _amount_or_none(kept.get("amount")),
        "product_code": _clip(kept.get("product_code"), "product_code"),
        "description": without_control_characters(str(kept["description"])) or None
        if kept.get("description") not in (None, "")
        else None,
        "is_valid": False,
    }
    client = _readable_client({name: kept.get(name) for name in CLIENT_COLUMNS})
    for name in CLIENT_COLUMNS:
        row[name] = getattr(client, name)
    row["document"] = client.document.number if client.document else None
    row["document_kind"] = client.document.kind if client.document else None
    return row


def _readable_client(values: dict[str, Any]) -> DealClient:
    """The client fields that read well; field by field when some do not."""
    try:
        return DealClient.model_validate(values)
    except ValueError:
        pass
    readable = {}
    for name, value in values.items():
        try:
            DealClient.model_validate({name: value})
        except ValueError:
            continue
        readable[name] = value
    try:
        return DealClient.model_validate(readable)
    except ValueError:  # fields fine alone but not together (an IBGE code of another state)
        return DealClient.model_validate({k: v for k, v in readable.items() if k != "city_ibge_code"})


def _save_each_or_say_why(connection: sa.Connection, versions: list[_Version]) -> None:
    """Save the batch in one statement; when the database refuses it, save row by row so that a row
    it cannot hold (a value out of a column's range, a character its encoding refuses) becomes that
    deal's `not_storable` issue and the rest of the batch is stored."""
    try:
        with connection.begin_nested():
            save_deals(connection, [version.row for version in versions])
        return
    except sa.exc.DBAPIError:
        pass
    for version in versions:
        try:
            with connection.begin_nested():
                save_deals(connection, [version.row])
        except sa.exc.DBAPIError as error:
            reason = driver_message(error)
            log.warning("deal %s: the store refused it: %s", version.deal_id, reason)
            version.problems.append(
                FieldProblem(
                    deal_id=version.deal_id,
                    field="row",
                    reason_code=NOT_STORABLE,
                    message=_(
                        "the state store refused this deal ({reason}); it is not invoiced while it stays so"
                    ).format(reason=reason),
                    raw_value_masked=None,
                    fix=_(
                        "correct the deal's values in the CRM (an amount or text out of range); "
                        "the deal is read again on the next run"
                    ),
                )
            )


def _latest_per_deal(batch: list[_Version]) -> list[_Version]:
    """One version per deal: the newest `updated_at`, the later row on a tie or when unreadable.

    Two different rows of one deal with the same `updated_at` cannot be told apart: which amount
    is the sale's? The later one is kept, marked invalid with a `conflicting_versions` issue, so
    that it is not invoiced until the CRM holds one version (identical repeats are no conflict).
    """
    chosen: dict[str, _Version] = {}
    conflicts: set[tuple[str, datetime]] = set()
    for version in batch:
        current = chosen.get(version.deal_id)
        if current is not None and _conflict(current, version):
            conflicts.add((version.deal_id, version.updated_at))
        if current is None or _order(version) >= _order(current):
            chosen[version.deal_id] = version
    for version in chosen.values():
        if (version.deal_id, version.updated_at) in conflicts:
            version.row["is_valid"] = False
            version.problems.append(
                FieldProblem(
                    deal_id=version.deal_id,
                    field="updated_at",
                    reason_code=CONFLICTING_VERSIONS,
                    message=_(
                        "the source holds different versions of this deal with the same updated_at; which one is "
                        "the sale cannot be told, so it is not invoiced while they disagree"
                    ),
                    raw_value_masked=mask_raw_value("updated_at", version.updated_at.isoformat()),
                    fix=_(
                        "keep one row per deal in the CRM export (or change the deal so that its newest version has "
                        "a later updated_at); the deal is retried on the next run"
                    ),
                )
            )
    return list(chosen.values())


def _conflict(one: _Version, other: _Version) -> bool:
    """Two rows of one deal at the same readable moment that say different things."""
    if one.updated_at is None or one.updated_at != other.updated_at:
        return False
    return {k: v for k, v in one.row.items() if k != "pulled_at"} != {
        k: v for k, v in other.row.items() if k != "pulled_at"
    }


def _order(version: _Version) -> tuple[float, int]:
    return (version.updated_at.timestamp() if version.updated_at else float("-inf"), version.position)


def _store_batch(
    store: Store, account: str, batch: list[_Version], summary: PullSummary, now: datetime, horizon: datetime
) -> None:
    if not batch:
        return
    versions = _latest_per_deal(batch)
    with store.begin() as connection:
        stored = stored_versions(connection, account, [version.deal_id for version in versions])
        to_write: list[_Version] = []
        for version in versions:
            if version.reopened and version.deal_id not in stored:
                summary.not_closed += 1
                continue
            previous = stored.get(version.deal_id)
            # A stored date in the future (kept before such dates were refused) does not hide the fix.
            if (
                previous is not None
                and previous <= horizon
                and version.updated_at is not None
                and version.updated_at < previous
            ):
                summary.stale += 1
                continue
            to_write.append(version)
        for version in to_write:
            version.row["pulled_at"] = now
        _save_each_or_say_why(connection, to_write)
        for version in to_write:
            if version.reopened:
                summary.reopened += 1
            elif version.problems:
                summary.invalid += 1
            else:
                summary.valid += 1
            for problem in version.problems:
                summary.issues_by_reason[problem.reason_code] += 1
        issues = [
            IssueRecord(
                deal_id=version.deal_id,
                stage=VALIDATION_STAGE,
                field=problem.field,
                reason=problem.reason_code,
                message=problem.message,
                fix=problem.fix,
                raw_value=problem.raw_value_masked,
            )
            for version in to_write
            for problem in version.problems
        ]
        record_issues(connection, account, issues, now)
        seen = {
            version.deal_id: {(p.field, p.reason_code) for p in version.problems} if version.problems else _NOTHING_SEEN
            for version in to_write
        }
        summary.resolved_issues += resolve_issues_not_seen(connection, account, VALIDATION_STAGE, seen, now)
