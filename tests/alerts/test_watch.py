"""The alert work on the real store (SQLite and PostgreSQL) with a fixed clock and real receivers."""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

from omie_pipeline.alerts.channels import LogChannel, SlackChannel, WebhookChannel
from omie_pipeline.alerts.delivery import DeliveryPolicy, DeliveryRound
from omie_pipeline.alerts.messages import InvoiceFacts, stuck_alert
from omie_pipeline.alerts.watch import check_failed_invoices, check_stuck_invoices, redeliver_pending
from omie_pipeline.store import Store
from omie_pipeline.store import alerts as alert_store

from .conftest import CPF, CPF_DIGITS, MASKED_CPF, NOW, alert_records, place_invoice, set_status

THRESHOLD = timedelta(minutes=30)
FAST = DeliveryPolicy(retry_pause_seconds=0, max_attempts=3)


def _round(*receivers, policy: DeliveryPolicy = FAST, read_timeout: float = 2.0) -> DeliveryRound:
    channels = [LogChannel()]
    for receiver in receivers:
        kind = SlackChannel if "/services/" in receiver.url else WebhookChannel
        channels.append(kind(receiver.url, connect_timeout=1.0, read_timeout=read_timeout))
    return DeliveryRound(channels, policy)


def _keys(store: Store, account: str = "acme") -> list[str]:
    with store.connect() as connection:
        return [record.alert_key for record in alert_records(connection, account)]


def _records(store: Store) -> list[alert_store.AlertRecord]:
    with store.connect() as connection:
        return alert_records(connection)


def test_threshold_edges_pick_the_level_from_the_right_clock(store: Store, webhook) -> None:
    minutes = {"under": 29.99, "at": 30, "under-2x": 59.99, "at-2x": 60, "at-4x": 120}
    for deal_id, age in minutes.items():
        place_invoice(
            store,
            deal_id,
            "processing",
            changed_at=NOW - timedelta(minutes=age),
            submitted_at=NOW - timedelta(minutes=age),
        )
    # The clock is submitted_at: entering processing later does not restart it.
    place_invoice(
        store, "moved-on", "processing", changed_at=NOW - timedelta(minutes=5), submitted_at=NOW - timedelta(minutes=31)
    )
    # An intent never sent: its clock is status_changed_at.
    place_invoice(store, "unsent", "submitted", changed_at=NOW - timedelta(minutes=30), os_id=None)
    for final in ("issued", "error", "cancelled"):
        place_invoice(store, final, final, changed_at=NOW - timedelta(days=1), submitted_at=NOW - timedelta(days=1))

    report = check_stuck_invoices(store, _round(webhook), THRESHOLD, NOW)

    sent = {alert.deal_id: alert.level for alert in report.new_alerts}
    assert sent == {"at": 1, "under-2x": 1, "at-2x": 2, "at-4x": 3, "moved-on": 1, "unsent": 1}
    assert report.accounts["acme"].stuck_deal_ids == ["at-4x", "at-2x", "under-2x", "moved-on", "at", "unsent"]
    assert sorted(body["deal_id"] for body in webhook.delivered) == sorted(sent)


def test_one_invoice_escalates_at_2x_and_4x_and_never_repeats_a_level(store: Store, webhook) -> None:
    started = NOW - timedelta(hours=5)
    place_invoice(store, "D-1", "processing", changed_at=started, submitted_at=started)
    levels = []
    for minutes in (29, 30, 45, 59, 60, 90, 120, 121, 600):
        report = check_stuck_invoices(store, _round(webhook), THRESHOLD, started + timedelta(minutes=minutes))
        levels.append([alert.level for alert in report.new_alerts])
    assert levels == [[], [1], [], [], [2], [], [3], [], []]
    assert [body["level"] for body in webhook.delivered] == [1, 2, 3]
    assert len(set(_keys(store))) == 3


def test_an_invoice_found_late_gets_only_its_current_level(store: Store, webhook) -> None:
    place_invoice(store, "D-1", "submitted", changed_at=NOW - timedelta(hours=3), submitted_at=NOW - timedelta(hours=3))
    report = check_stuck_invoices(store, _round(webhook), THRESHOLD, NOW)
    assert [alert.level for alert in report.new_alerts] == [3]


def test_nothing_is_sent_twice_across_evaluations_and_a_restart(store: Store, webhook, slack) -> None:
    for n in range(3):
        place_invoice(
            store,
            f"D-{n}",
            "processing",
            changed_at=NOW - timedelta(minutes=40),
            submitted_at=NOW - timedelta(minutes=40),
        )
    place_invoice(store, "E-1", "error", changed_at=NOW - timedelta(minutes=2), last_error="Certificado vencido")
    assert len(check_stuck_invoices(store, _round(webhook, slack), THRESHOLD, NOW).new_alerts) == 3
    assert len(check_failed_invoices(store, _round(webhook, slack), NOW)) == 1
    assert (
        len(check_stuck_invoices(store, _round(webhook, slack), THRESHOLD, NOW + timedelta(minutes=1)).new_alerts) == 0
    )
    assert check_failed_invoices(store, _round(webhook, slack), NOW + timedelta(minutes=1)) == []

    restarted = Store(store.url)  # a new process: nothing but the database is shared
    try:
        later = NOW + timedelta(minutes=5)
        assert check_stuck_invoices(restarted, _round(webhook, slack), THRESHOLD, later).new_alerts == []
        assert check_failed_invoices(restarted, _round(webhook, slack), later) == []
        assert redeliver_pending(restarted, _round(webhook, slack), later).delivered == []
    finally:
        restarted.dispose()
    assert len(webhook.requests) == 4 and len(slack.requests) == 4
    assert all(
        sorted(record.delivered_channels) == ["log", "slack", "webhook"]
        and record.pending_channels == []
        and record.attempts == 1
        for record in _records(store)
    )


def test_an_alert_recorded_before_a_crash_is_delivered_once_by_the_retry(store: Store, webhook) -> None:
    place_invoice(
        store, "D-1", "processing", changed_at=NOW - timedelta(minutes=40), submitted_at=NOW - timedelta(minutes=40)
    )
    crashed = DeliveryRound([LogChannel(), WebhookChannel(webhook.url)], FAST)
    # The process dies after recording the alert and before sending it: the record has every channel pending.
    facts = InvoiceFacts(
        account="acme",
        deal_id="D-1",
        status="processing",
        since=NOW - timedelta(minutes=40),
        status_changed_at=NOW - timedelta(minutes=40),
        submitted_at=NOW - timedelta(minutes=40),
    )
    alert = stuck_alert(facts, 1, THRESHOLD, NOW)
    with store.begin() as connection:
        assert alert_store.record_alert(
            connection,
            account="acme",
            alert_key=alert.key,
            kind="stuck",
            level=1,
            subject=alert.subject,
            body=alert.to_json(),
            channels=crashed.channel_names,
            created_at=NOW,
            claimed=True,
        )
    assert check_stuck_invoices(store, _round(webhook), THRESHOLD, NOW).new_alerts == []
    assert redeliver_pending(store, _round(webhook), NOW + timedelta(seconds=30)).delivered == []  # too young
    assert redeliver_pending(store, _round(webhook), NOW + timedelta(minutes=3)).delivered == [alert.key]
    assert redeliver_pending(store, _round(webhook), NOW + timedelta(minutes=6)).delivered == []
    assert [body["key"] for body in webhook.delivered] == [alert.key]


def test_a_failing_receiver_keeps_the_alert_pending_and_a_later_round_delivers_it(
    store: Store, webhook, caplog
) -> None:
    caplog.set_level(logging.INFO)
    place_invoice(
        store, "D-1", "error", changed_at=NOW - timedelta(minutes=1), last_error=f"CPF do tomador {CPF} inválido"
    )
    webhook.mode = "fail"
    [alert] = check_failed_invoices(store, _round(webhook), NOW)
    [record] = _records(store)
    assert record.delivered_channels == ["log"] and record.pending_channels == ["webhook"]
    assert record.attempts == 1 and "HTTP 500" in record.last_error
    assert len(webhook.requests) == 2  # retried once within the evaluation

    webhook.mode = "ok"
    report = redeliver_pending(store, _round(webhook), NOW + timedelta(minutes=3))
    assert report.delivered == [alert.key]
    [record] = _records(store)
    assert record.delivered_channels == ["log", "webhook"] and record.pending_channels == [] and record.attempts == 2
    assert webhook.delivered[0]["key"] == alert.key and MASKED_CPF in webhook.delivered[0]["summary"]
    _assert_nothing_leaked(store, webhook, caplog.text)


def test_a_receiver_that_never_recovers_is_given_up_after_the_last_attempt(store: Store, webhook, caplog) -> None:
    place_invoice(store, "D-1", "error", changed_at=NOW, last_error="Serviço indisponível")
    webhook.mode = "fail"
    check_failed_invoices(store, _round(webhook), NOW)
    outcomes = [redeliver_pending(store, _round(webhook), NOW + timedelta(minutes=3 * n)) for n in (1, 2, 3)]
    assert [len(o.still_pending) for o in outcomes] == [1, 0, 0]
    assert [len(o.given_up) for o in outcomes] == [0, 1, 0]
    [record] = _records(store)
    assert record.attempts == FAST.max_attempts and record.pending_channels == ["webhook"]
    assert len(webhook.requests) == 2 * FAST.max_attempts
    assert "gave up on webhook after 3 attempts" in caplog.text


def test_a_hanging_receiver_does_not_hold_up_the_evaluation(store: Store, webhook, slack) -> None:
    for n in range(4):
        place_invoice(
            store,
            f"D-{n}",
            "processing",
            changed_at=NOW - timedelta(minutes=31),
            submitted_at=NOW - timedelta(minutes=31),
        )
    webhook.mode, webhook.hang_seconds = "hang", 2.0
    started = time.monotonic()
    report = check_stuck_invoices(store, _round(webhook, slack, read_timeout=0.3), THRESHOLD, NOW)
    elapsed = time.monotonic() - started
    assert len(report.new_alerts) == 4 and elapsed < 1.5  # one timeout, then the webhook is skipped this round
    assert len(webhook.requests) == 1 and len(slack.delivered) == 4
    records = _records(store)
    assert all(record.pending_channels == ["webhook"] for record in records)
    assert "no answer within" in records[0].last_error
    assert all("failed earlier in this round" in record.last_error for record in records[1:])
    webhook.mode = "ok"
    report = redeliver_pending(store, _round(webhook, slack), NOW + timedelta(minutes=3))
    assert len(report.delivered) == 4 and len(slack.delivered) == 4  # Slack not sent again


def test_a_re_failure_after_a_fix_alerts_again(store: Store, webhook) -> None:
    place_invoice(store, "D-1", "error", changed_at=NOW - timedelta(hours=2), last_error="CEP inválido")
    assert len(check_failed_invoices(store, _round(webhook), NOW - timedelta(hours=1))) == 1
    set_status(store, "D-1", "processing", NOW - timedelta(minutes=50))
    assert check_failed_invoices(store, _round(webhook), NOW - timedelta(minutes=40)) == []
    set_status(store, "D-1", "error", NOW - timedelta(minutes=10), last_error="Certificado digital vencido")
    [again] = check_failed_invoices(store, _round(webhook), NOW)
    assert again.extra["cause"] == "certificate"
    assert [body["extra"]["cause"] for body in webhook.delivered] == ["missing_address", "certificate"]


def test_old_errors_beyond_the_lookback_do_not_alert(store: Store, webhook) -> None:
    place_invoice(store, "old", "error", changed_at=NOW - timedelta(days=8), last_error="CEP inválido")
    place_invoice(store, "new", "error", changed_at=NOW - timedelta(days=6), last_error="CEP inválido")
    assert [a.deal_id for a in check_failed_invoices(store, _round(webhook), NOW, lookback=timedelta(days=7))] == [
        "new"
    ]


def test_accounts_are_alerted_separately(store: Store, webhook) -> None:
    for account in ("acme", "beta"):
        place_invoice(
            store,
            "D-1",
            "processing",
            account=account,
            changed_at=NOW - timedelta(minutes=45),
            submitted_at=NOW - timedelta(minutes=45),
        )
    report = check_stuck_invoices(store, _round(webhook), THRESHOLD, NOW)
    assert sorted(report.accounts) == ["acme", "beta"]
    assert _keys(store, "acme") == _keys(store, "beta") and len(_keys(store, "acme")) == 1


def test_only_one_evaluator_wins_a_delivery_attempt(store: Store) -> None:
    with store.begin() as connection:
        alert_id = alert_store.record_alert(
            connection,
            account="acme",
            alert_key="k",
            kind="stuck",
            level=1,
            subject="s",
            body="{}",
            channels=["log"],
            created_at=NOW,
        )
    with store.begin() as connection:
        assert alert_store.claim_delivery(connection, alert_id, 0)
    with store.begin() as connection:
        assert not alert_store.claim_delivery(connection, alert_id, 0)
        assert not alert_store.record_alert(
            connection,
            account="acme",
            alert_key="k",
            kind="stuck",
            level=1,
            subject="again",
            body="{}",
            channels=["log"],
            created_at=NOW,
        )


def test_a_channel_removed_from_the_configuration_is_dropped_from_pending(store: Store, webhook) -> None:
    place_invoice(store, "D-1", "error", changed_at=NOW, last_error="x")
    webhook.mode = "fail"
    check_failed_invoices(store, _round(webhook), NOW)
    redeliver_pending(store, _round(), NOW + timedelta(minutes=3))  # the webhook is no longer configured
    [record] = _records(store)
    assert record.pending_channels == [] and "webhook: channel no longer configured" in record.last_error


def _assert_nothing_leaked(store: Store, receiver, log_text: str) -> None:
    texts = [log_text, json.dumps(receiver.requests)]
    for record in _records(store):
        texts += [record.body, record.subject, record.last_error or ""]
    for text in texts:
        assert receiver.token not in text and receiver.url not in text
        assert CPF not in text and CPF_DIGITS not in text


def test_once_the_time_budget_is_spent_new_alerts_wait_for_the_next_evaluation(store: Store, webhook) -> None:
    for n in range(3):
        place_invoice(
            store,
            f"D-{n}",
            "processing",
            changed_at=NOW - timedelta(minutes=40),
            submitted_at=NOW - timedelta(minutes=40),
        )
    spent = DeliveryRound([LogChannel(), WebhookChannel(webhook.url)], DeliveryPolicy(round_budget_seconds=0))
    report = check_stuck_invoices(store, spent, THRESHOLD, NOW)
    assert report.new_alerts == [] and report.deferred == 3 and _keys(store) == []
    assert len(check_stuck_invoices(store, _round(webhook), THRESHOLD, NOW).new_alerts) == 3
