"""Channels over real HTTP: what Slack and the webhook receive, and how failures look (no URL in them)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest

from omie_pipeline.alerts.channels import ChannelError, LogChannel, SlackChannel, WebhookChannel
from omie_pipeline.alerts.delivery import DeliveryPolicy, DeliveryRound
from omie_pipeline.alerts.messages import InvoiceFacts, stuck_alert

from .conftest import CPF, CPF_DIGITS, MASKED_CPF, NOW


def _alert(deal_id: str = "D-1"):
    facts = InvoiceFacts(
        account="acme",
        deal_id=deal_id,
        status="processing",
        since=NOW - timedelta(minutes=40),
        status_changed_at=NOW - timedelta(minutes=40),
        submitted_at=NOW - timedelta(minutes=40),
        omie_os_id=1,
        client_name="Maria <Souza> & Filhos",
        client_document=CPF,
    )
    return stuck_alert(facts, 1, timedelta(minutes=30), NOW)


def test_slack_receives_block_kit_with_the_whole_alert(slack) -> None:
    alert = _alert()
    SlackChannel(slack.url).send(alert)
    [body] = slack.delivered
    assert body["text"] == alert.subject
    types = [block["type"] for block in body["blocks"]]
    assert types[0] == "header" and types[-1] == "context" and "section" in types
    sections = [block for block in body["blocks"] if block["type"] == "section" and "text" in block]
    markdown = "\n".join(block["text"]["text"] for block in sections)
    assert "Maria &lt;Souza&gt; &amp; Filhos" in markdown  # Slack's markup characters escaped
    assert MASKED_CPF in markdown
    assert "*What to check first*" in markdown
    assert "omie-pipeline invoices wait D-1" in markdown
    assert alert.key in body["blocks"][-1]["elements"][0]["text"]
    assert CPF not in str(body) and CPF_DIGITS not in str(body)


def test_the_webhook_receives_one_json_object(webhook) -> None:
    alert = _alert()
    WebhookChannel(webhook.url).send(alert)
    [body] = webhook.delivered
    assert body["kind"] == "stuck" and body["level"] == 1 and body["account"] == "acme"
    assert body["deal_id"] == "D-1" and body["key"] == alert.key
    assert body["subject"] == alert.subject and body["text"] == alert.text
    assert body["next_steps"] == list(alert.next_steps) and body["commands"] == list(alert.commands)
    assert body["run_url"] is None
    assert {"label": "Client", "value": f"Maria <Souza> & Filhos, {MASKED_CPF}"} in body["facts"]


def test_an_http_error_is_a_retryable_channel_error_without_the_url(webhook) -> None:
    webhook.mode = "fail"
    with pytest.raises(ChannelError) as raised:
        WebhookChannel(webhook.url).send(_alert())
    assert raised.value.retryable and "HTTP 500" in str(raised.value)
    assert webhook.token not in str(raised.value) and raised.value.__context__ is None


def test_a_hanging_receiver_times_out_quickly_without_the_url(webhook) -> None:
    webhook.mode, webhook.hang_seconds = "hang", 2.0
    started = time.monotonic()
    with pytest.raises(ChannelError) as raised:
        WebhookChannel(webhook.url, connect_timeout=0.5, read_timeout=0.3).send(_alert())
    assert time.monotonic() - started < 1.5
    assert not raised.value.retryable and "no answer within" in raised.value.reason
    assert webhook.token not in str(raised.value) and raised.value.__context__ is None


def test_a_closed_port_is_a_connection_error_without_the_url(make_receiver) -> None:
    receiver = make_receiver()
    url = receiver.url.replace(receiver.url.split("/")[2], "127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(ChannelError) as raised:
        SlackChannel(url, connect_timeout=0.5).send(_alert())
    assert raised.value.reason == "connection failed" and receiver.token not in repr(raised.value)
    assert "url=***" in repr(SlackChannel(url))


def test_the_log_channel_writes_the_alert_text(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="omie_pipeline.alerts")
    alert = _alert()
    LogChannel().send(alert)
    assert alert.key in caplog.text and alert.subject in caplog.text and MASKED_CPF in caplog.text


def test_a_round_retries_a_5xx_once_then_stops_trying_that_channel(webhook, caplog) -> None:
    caplog.set_level(logging.INFO, logger="omie_pipeline.alerts")
    webhook.fail_next = 1
    delivery = DeliveryRound([LogChannel(), WebhookChannel(webhook.url)], DeliveryPolicy(retry_pause_seconds=0))
    first = delivery.deliver(_alert("D-1"), ["log", "webhook"], attempt=1)
    assert first.delivered == ["log", "webhook"] and len(webhook.requests) == 2  # 500, then 200
    webhook.mode = "fail"
    second = delivery.deliver(_alert("D-2"), ["log", "webhook"], attempt=1)
    assert second.delivered == ["log"] and "HTTP 500" in second.failed["webhook"]
    third = delivery.deliver(_alert("D-3"), ["log", "webhook"], attempt=1)
    assert third.delivered == ["log"] and "failed earlier in this round" in third.skipped["webhook"]
    assert len(webhook.requests) == 4  # D-2 tried twice, D-3 not at all
    assert "webhook delivery failed (HTTP 500" in caplog.text and webhook.token not in caplog.text


def test_after_the_time_budget_only_the_log_is_tried(webhook) -> None:
    delivery = DeliveryRound([LogChannel(), WebhookChannel(webhook.url)], DeliveryPolicy(round_budget_seconds=0))
    result = delivery.deliver(_alert(), ["log", "webhook"], attempt=1)
    assert result.delivered == ["log"] and "time budget" in result.skipped["webhook"]
    assert webhook.requests == []


def test_a_channel_that_breaks_unexpectedly_costs_neither_the_alert_nor_the_round() -> None:
    class Broken:
        name = "broken"

        def send(self, alert) -> None:
            raise RuntimeError("http://secret.example/hook exploded")

    delivery = DeliveryRound([LogChannel(), Broken()], DeliveryPolicy())
    result = delivery.deliver(_alert(), ["log", "broken"], attempt=1)
    assert result.delivered == ["log"] and result.failed == {"broken": "unexpected RuntimeError"}
