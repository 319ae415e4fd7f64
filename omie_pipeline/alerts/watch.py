"""The work of the alert sensors: find what needs a person, record each alert once, deliver it.

This is the one part of `alerts/` that reads the state store; the sensors only call it and turn
its reports into run requests. Every function takes `now`, so tests (and drills) choose the
moment. The order is always: record (unique key, attempt taken) -> send -> write the outcome
(a retry claims its attempt first). A restart therefore never re-creates or re-sends a delivered
alert, and a crash before the outcome is written leaves the alert pending, never lost: the one
window where a channel may get it twice is a crash between its send and that write.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from omie_pipeline.alerts.delivery import DeliveryResult, DeliveryRound
from omie_pipeline.alerts.messages import (
    DEFAULT_RUNBOOK_URL,
    CheckFailureFacts,
    InvoiceFacts,
    RunFailureFacts,
    SaleChange,
    SaleChangeFacts,
    check_failure_alert,
    failed_alert,
    run_failure_alert,
    sale_changed_alert,
    stuck_alert,
    stuck_level,
)
from omie_pipeline.alerts.model import Alert
from omie_pipeline.store import Store
from omie_pipeline.store import alerts as alert_store
from omie_pipeline.store.sale_changes import open_sale_changes

log = logging.getLogger("omie_pipeline.alerts.delivery")

DEFAULT_FAILED_LOOKBACK = timedelta(days=7)
DEFAULT_REDELIVERY_GRACE = timedelta(minutes=2)


@dataclass
class StuckAccount:
    """The stuck invoices of one account as of one evaluation."""

    stuck_deal_ids: list[str] = field(default_factory=list)  # oldest first
    new_alerts: list[Alert] = field(default_factory=list)


@dataclass
class StuckReport:
    accounts: dict[str, StuckAccount] = field(default_factory=dict)
    deferred: int = 0  # new alerts left for the next evaluation: this one's time budget was spent

    @property
    def new_alerts(self) -> list[Alert]:
        return [alert for account in self.accounts.values() for alert in account.new_alerts]


@dataclass
class RedeliveryReport:
    delivered: list[str] = field(default_factory=list)  # alert keys now delivered everywhere
    still_pending: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)


def _facts(row: Mapping[str, Any]) -> InvoiceFacts:
    return InvoiceFacts(**row)


def send_new_alert(store: Store, alert: Alert, delivery: DeliveryRound, now: datetime) -> bool:
    """Record `alert` (unique per account and key) with its first attempt taken, then deliver it.

    False when it was already recorded: then nothing is sent.
    """
    with store.begin() as connection:
        alert_id = alert_store.record_alert(
            connection,
            account=alert.account,
            alert_key=alert.key,
            kind=alert.kind.value,
            level=alert.level,
            subject=alert.subject,
            body=alert.to_json(),
            channels=delivery.names_for(alert.account),
            created_at=now,
            claimed=True,
        )
    if alert_id is None:
        return False
    result = delivery.deliver(alert, delivery.names_for(alert.account), attempt=1)
    _finish(store, alert_id, alert.key, result, attempt=1, max_attempts=delivery.policy.max_attempts)
    return True


def _finish(
    store: Store,
    alert_id: int,
    alert_key: str,
    result: DeliveryResult,
    *,
    attempt: int,
    max_attempts: int,
    notes: Iterable[str] = (),
) -> None:
    error = "; ".join(filter(None, [result.error_text(), *notes])) or None
    with store.begin() as connection:
        alert_store.finish_delivery(
            connection, alert_id, delivered=result.delivered, pending=result.pending, last_error=error
        )
    if result.pending and attempt >= max_attempts:
        log.error(
            "alert %s: gave up on %s after %d attempts (%s)", alert_key, ", ".join(result.pending), attempt, error
        )


def _retry(
    store: Store, record: alert_store.AlertRecord, alert: Alert, delivery: DeliveryRound
) -> DeliveryResult | None:
    """One more delivery attempt of a recorded alert; None when nothing could be tried in this round."""
    configured = [name for name in record.pending_channels if name in delivery.channels]
    notes = [
        f"{name}: channel no longer configured" for name in record.pending_channels if name not in delivery.channels
    ]
    if not delivery.would_try(configured):
        if notes:
            with store.begin() as connection:
                alert_store.finish_delivery(
                    connection, record.id, delivered=(), pending=configured, last_error="; ".join(notes)
                )
        return None
    with store.begin() as connection:
        if not alert_store.claim_delivery(connection, record.id, record.attempts):
            return None  # another evaluator took this attempt
    attempt = record.attempts + 1
    result = delivery.deliver(alert, configured, attempt=attempt)
    _finish(
        store,
        record.id,
        record.alert_key,
        result,
        attempt=attempt,
        max_attempts=delivery.policy.max_attempts,
        notes=notes,
    )
    return result


def check_stuck_invoices(
    store: Store,
    delivery: DeliveryRound,
    threshold: timedelta,
    now: datetime,
    home_account: str | None = None,
    runbook_url: str = DEFAULT_RUNBOOK_URL,
) -> StuckReport:
    """Alert once per invoice and level for every invoice in submitted/processing past the threshold.

    `home_account` (the deployment's default account) is the one whose commands need no `--account`;
    `runbook_url` is where the alerts' runbook links point.
    """
    with store.connect() as connection:
        rows = alert_store.stuck_invoices(connection, since_before=now - threshold)
    report = StuckReport()
    candidates: dict[str, list[Alert]] = defaultdict(list)
    for row in rows:
        facts = _facts(row)
        level = stuck_level(now - facts.since, threshold)
        if level == 0:  # cannot happen given the query, kept as the rule's single home
            continue
        report.accounts.setdefault(facts.account, StuckAccount()).stuck_deal_ids.append(facts.deal_id)
        candidates[facts.account].append(stuck_alert(facts, level, threshold, now, home_account, runbook_url))
    for account, alerts in candidates.items():
        for alert in _unsent(store, account, alerts):
            if delivery.out_of_time():
                report.deferred += 1
            elif send_new_alert(store, alert, delivery, now):
                report.accounts[account].new_alerts.append(alert)
    _log_deferred(report.deferred)
    return report


def check_failed_invoices(
    store: Store,
    delivery: DeliveryRound,
    now: datetime,
    lookback: timedelta = DEFAULT_FAILED_LOOKBACK,
    home_account: str | None = None,
    runbook_url: str = DEFAULT_RUNBOOK_URL,
) -> list[Alert]:
    """Alert once for every invoice that went to `error` within `lookback` (again after a re-failure)."""
    with store.connect() as connection:
        rows = alert_store.failed_invoices(connection, changed_since=now - lookback)
    by_account: dict[str, list[Alert]] = defaultdict(list)
    for row in rows:
        by_account[row["account"]].append(failed_alert(_facts(row), now, home_account, runbook_url))
    sent: list[Alert] = []
    deferred = 0
    for account, alerts in by_account.items():
        for alert in _unsent(store, account, alerts):
            if delivery.out_of_time():
                deferred += 1
            elif send_new_alert(store, alert, delivery, now):
                sent.append(alert)
    _log_deferred(deferred)
    return sent


def check_changed_sales(
    store: Store,
    delivery: DeliveryRound,
    now: datetime,
    home_account: str | None = None,
    runbook_url: str = DEFAULT_RUNBOOK_URL,
) -> list[Alert]:
    """Alert finance once for every issued note whose deal changed in the CRM (open `sale_changed` issues)."""
    with store.connect() as connection:
        rows = open_sale_changes(connection)
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in rows:
        grouped[(row.account, row.deal_id)].append(row)
    by_account: dict[str, list[Alert]] = defaultdict(list)
    for (account, deal_id), issues in grouped.items():
        facts = SaleChangeFacts(
            account,
            deal_id,
            issues[0].nfse_number,
            issues[0].invoiced_amount,
            min(issue.first_seen_at for issue in issues),
            tuple(SaleChange(issue.reason, issue.message) for issue in issues),
        )
        by_account[account].append(sale_changed_alert(facts, home_account, runbook_url))
    sent: list[Alert] = []
    deferred = 0
    for account, alerts in by_account.items():
        for alert in _unsent(store, account, alerts):
            if delivery.out_of_time():
                deferred += 1
            elif send_new_alert(store, alert, delivery, now):
                sent.append(alert)
    _log_deferred(deferred)
    return sent


def alert_run_failure(
    store: Store,
    delivery: DeliveryRound,
    facts: RunFailureFacts,
    now: datetime,
    secrets: Iterable[str] = (),
    runbook_url: str = DEFAULT_RUNBOOK_URL,
) -> Alert | None:
    """Alert for a failed run, once per root run (its retries do not alert again); None if already sent."""
    alert = run_failure_alert(facts, secrets, runbook_url)
    return alert if send_new_alert(store, alert, delivery, now) else None


def alert_check_failure(
    store: Store,
    delivery: DeliveryRound,
    facts: CheckFailureFacts,
    command: str,
    now: datetime,
    runbook_url: str = DEFAULT_RUNBOOK_URL,
) -> Alert | None:
    """Alert for a failing check, once per streak of failed evaluations; None if already sent."""
    alert = check_failure_alert(facts, command, runbook_url)
    return alert if send_new_alert(store, alert, delivery, now) else None


def redeliver_pending(
    store: Store, delivery: DeliveryRound, now: datetime, grace: timedelta = DEFAULT_REDELIVERY_GRACE, limit: int = 50
) -> RedeliveryReport:
    """Retry the channels that have not received an alert yet, oldest alert first.

    Only records older than `grace` are retried: a younger one may still be in its first delivery
    by the sensor that created it.
    """
    with store.connect() as connection:
        records = alert_store.undelivered_alerts(
            connection, max_attempts=delivery.policy.max_attempts, created_before=now - grace, limit=limit
        )
    report = RedeliveryReport()
    for record in records:
        result = _retry(store, record, Alert.from_json(record.body), delivery)
        if result is None:
            report.still_pending.append(record.alert_key)
        elif not result.pending:
            report.delivered.append(record.alert_key)
        elif record.attempts + 1 >= delivery.policy.max_attempts:
            report.given_up.append(record.alert_key)
        else:
            report.still_pending.append(record.alert_key)
    return report


def _log_deferred(count: int) -> None:
    if count:
        log.warning("%d new alert(s) left for the next evaluation: this one's time budget was spent", count)


def _unsent(store: Store, account: str, alerts: list[Alert]) -> list[Alert]:
    with store.connect() as connection:
        known = alert_store.existing_alert_keys(connection, account, [alert.key for alert in alerts])
    return [alert for alert in alerts if alert.key not in known]
