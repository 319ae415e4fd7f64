"""The alert sensors evaluated against a real Dagster instance, with invoices placed in the store."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.test_utils import create_run_for_test

from omie_pipeline.defs.resources import AlertsResource, OmieResource, PipelineResource, StoreResource
from omie_pipeline.defs.sensors import (
    REFRESH_DEALS_TAG,
    REFRESH_JOB_NAME,
    alert_redelivery,
    failed_checks,
    failed_invoices,
    refresh_deals_tag,
    stuck_invoices,
    sync_run_failures,
)
from omie_pipeline.store import Store
from omie_pipeline.store.tables import invoices

from .conftest import CPF, CPF_DIGITS, MASKED_CPF, NOW, alert_records, place_invoice

UI_URL = "http://dagster.test:3000"
APP_SECRET = "app-secret-9d8c7b"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions("omie_account", ["acme"])
        yield test_instance


def _resources(store: Store, *receivers, at=NOW, app_secret: str = "", **alert_fields) -> dict[str, object]:
    urls = {("slack_webhook_url" if "/services/" in r.url else "webhook_url"): r.url for r in receivers}
    fields = {
        "evaluate_at": at.isoformat(),
        "dagster_ui_url": UI_URL,
        "retry_pause_seconds": 0,
        "read_timeout_seconds": 1.0,
        **urls,
        **alert_fields,
    }
    alerts = AlertsResource(**fields)
    return {
        "store": StoreResource(db_url=store.url),
        "alerts": alerts,
        "pipeline": PipelineResource(account="acme", stuck_after_minutes=30),
        "omie": OmieResource(app_secret=app_secret),
    }


def _evaluate(sensor, instance: dg.DagsterInstance, resources: dict[str, object]):
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        return sensor(context)


def _stuck(store: Store, deal_id: str, minutes: float, account: str = "acme") -> None:
    moment = NOW - timedelta(minutes=minutes)
    place_invoice(store, deal_id, "processing", account=account, changed_at=moment, submitted_at=moment)


def test_many_stuck_invoices_make_one_refresh_run_request(store: Store, instance, webhook, slack) -> None:
    for n in range(12):
        _stuck(store, f"D-{n:02d}", 31 + n)
    _stuck(store, "B-1", 40, account="beta")  # not a partition: alerted, no run requested

    result = _evaluate(stuck_invoices, instance, _resources(store, webhook, slack))

    [request] = result.run_requests
    assert request.partition_key == "acme"
    assert request.tags[REFRESH_DEALS_TAG] == ",".join(f"D-{n:02d}" for n in reversed(range(12)))
    assert len(webhook.delivered) == 13 and len(slack.delivered) == 13
    assert stuck_invoices.job_name == REFRESH_JOB_NAME


def test_threshold_edges_through_the_sensor(store: Store, instance, webhook) -> None:
    _stuck(store, "at", 30)
    _stuck(store, "under", 29.99)
    result = _evaluate(stuck_invoices, instance, _resources(store, webhook))
    assert [body["deal_id"] for body in webhook.delivered] == ["at"]
    assert result.run_requests[0].tags[REFRESH_DEALS_TAG] == "at"


def test_escalation_levels_and_no_repeat_across_evaluations(store: Store, instance, webhook) -> None:
    _stuck(store, "D-1", 31)
    levels = []
    for later in (0, 1, 28.99, 29, 88.99, 89, 95):  # ages 31, 32, 59.99, 60, 119.99, 120, 126 min
        result = _evaluate(stuck_invoices, instance, _resources(store, webhook, at=NOW + timedelta(minutes=later)))
        levels.append(len(result.run_requests) if isinstance(result, dg.SensorResult) else 0)
    assert [body["level"] for body in webhook.delivered] == [1, 2, 3]
    assert levels == [1, 0, 0, 1, 0, 1, 0]  # a request only when a level is crossed


def test_no_refresh_request_while_one_is_queued_or_running(store: Store, instance, webhook) -> None:
    _stuck(store, "D-1", 31)
    create_run_for_test(
        instance, job_name=REFRESH_JOB_NAME, status=dg.DagsterRunStatus.STARTED, tags={"dagster/partition": "acme"}
    )
    result = _evaluate(stuck_invoices, instance, _resources(store, webhook))
    assert isinstance(result, dg.SkipReason)
    assert "already queued or running" in result.skip_message and "1 new alert" in result.skip_message
    assert len(webhook.delivered) == 1  # the alert still goes out


def test_a_restarted_daemon_sends_nothing_twice(store: Store, webhook, slack, tmp_path) -> None:
    _stuck(store, "D-1", 45)
    place_invoice(store, "E-1", "error", changed_at=NOW - timedelta(minutes=3), last_error="CEP não informado")
    with dg.instance_for_test(temp_dir=str(tmp_path)) as first:
        first.add_dynamic_partitions("omie_account", ["acme"])
        assert _evaluate(stuck_invoices, first, _resources(store, webhook, slack)).run_requests
        _evaluate(failed_invoices, first, _resources(store, webhook, slack))
    sent = (len(webhook.requests), len(slack.requests))
    assert sent == (2, 2)
    restarted_store = Store(store.url)
    try:
        with dg.instance_for_test(temp_dir=str(tmp_path)) as second:
            later = NOW + timedelta(minutes=5)
            for sensor in (stuck_invoices, failed_invoices, alert_redelivery):
                result = _evaluate(sensor, second, _resources(restarted_store, webhook, slack, at=later))
                assert isinstance(result, dg.SkipReason), sensor.name
    finally:
        restarted_store.dispose()
    assert (len(webhook.requests), len(slack.requests)) == sent


def test_idle_sensors_skip_with_a_reason(store: Store, instance) -> None:
    for sensor, reason in (
        (stuck_invoices, "no invoice in submitted/processing past the threshold"),
        (failed_invoices, "no invoice newly in error"),
        (alert_redelivery, "every alert reached every channel"),
    ):
        result = _evaluate(sensor, instance, _resources(store))
        assert isinstance(result, dg.SkipReason) and result.skip_message == reason


def test_sensors_skip_in_the_readers_language(store: Store, instance, webhook, portuguese) -> None:
    result = _evaluate(stuck_invoices, instance, _resources(store))
    assert result.skip_message == "nenhuma nota em submitted/processing além do limite"
    place_invoice(store, "E-1", "error", changed_at=NOW - timedelta(minutes=3), last_error="CEP não informado")
    place_invoice(store, "E-2", "error", changed_at=NOW - timedelta(minutes=2), last_error="CEP não informado")
    result = _evaluate(failed_invoices, instance, _resources(store, webhook))
    assert result.skip_message == "2 alertas de nota recusada enviados, nenhuma execução a pedir"


def test_failed_invoices_alert_with_omies_message_and_the_fix(store: Store, instance, webhook, slack, caplog) -> None:
    caplog.set_level(logging.INFO)
    place_invoice(
        store,
        "E-1",
        "error",
        changed_at=NOW - timedelta(minutes=4),
        last_error=f"E0310 Código de tributação nacional inexistente. Tomador CPF {CPF}",
    )
    place_invoice(
        store,
        "E-2",
        "error",
        changed_at=NOW - timedelta(minutes=2),
        document="11222333000181",
        last_error="Webservice da prefeitura indisponível",
    )
    result = _evaluate(failed_invoices, instance, _resources(store, webhook, slack))
    assert result.skip_message == "2 failed-invoice alerts sent, no run to request"
    first, second = webhook.delivered
    assert first["deal_id"] == "E-1" and first["extra"]["cause"] == "unknown_service_code"
    assert "Código de tributação nacional inexistente" in first["summary"] and MASKED_CPF in first["summary"]
    assert "config/service_map.yaml" in first["next_steps"][0]
    assert second["extra"]["cause"] == "prefeitura_unavailable"
    assert {"label": "Client", "value": "Maria Souza, 11.222.333/0001-81"} in second["facts"]
    assert "omie-pipeline invoices wait E-2" in second["commands"]
    assert [body["text"] for body in slack.delivered] == [first["subject"], second["subject"]]
    assert (
        _evaluate(failed_invoices, instance, _resources(store, webhook, slack)).skip_message
        == "no invoice newly in error"
    )
    _assert_no_secret_or_cpf(store, [webhook, slack], caplog.text)


def test_a_failing_and_a_hanging_receiver_do_not_break_the_sensor_and_are_retried(
    store: Store, instance, webhook, slack, caplog
) -> None:
    caplog.set_level(logging.INFO)
    _stuck(store, "D-1", 35)
    _stuck(store, "D-2", 36)
    webhook.mode = "fail"
    slack.mode, slack.hang_seconds = "hang", 2.0
    result = _evaluate(stuck_invoices, instance, _resources(store, webhook, slack, read_timeout_seconds=0.3))
    assert len(result.run_requests) == 1  # the sensor went on and requested its refresh
    with store.connect() as connection:
        records = alert_records(connection)
    assert len(records) == 2 and all(r.delivered_channels == ["log"] for r in records)
    assert all(sorted(r.pending_channels) == ["slack", "webhook"] for r in records)
    assert len(webhook.requests) == 2 and len(slack.requests) == 1  # retried once, then skipped this round

    webhook.mode = slack.mode = "ok"
    too_soon = _evaluate(alert_redelivery, instance, _resources(store, webhook, slack, at=NOW + timedelta(seconds=60)))
    assert too_soon.skip_message == "every alert reached every channel" and webhook.delivered == []
    retried = _evaluate(alert_redelivery, instance, _resources(store, webhook, slack, at=NOW + timedelta(minutes=3)))
    assert retried.skip_message == "2 delivered, 0 still pending, 0 given up"
    assert sorted(body["deal_id"] for body in webhook.delivered) == ["D-1", "D-2"] and len(slack.delivered) == 2
    with store.connect() as connection:
        assert all(r.pending_channels == [] and r.attempts == 2 for r in alert_records(connection))
    _assert_no_secret_or_cpf(store, [webhook, slack], caplog.text)


def test_refresh_deals_tag_is_cut_at_a_deal_boundary() -> None:
    deal_ids = [f"deal-{n:04d}" for n in range(500)]
    tag = refresh_deals_tag(deal_ids, limit=60)
    assert tag == ",".join(deal_ids[:6]) and len(tag) <= 60


# --- run failures --------------------------------------------------------------------------------


class PushFailed(Exception):
    pass


@dg.op
def load_deals() -> int:
    return 3


@dg.op
def push_invoices(count: int) -> None:
    raise PushFailed(f"Omie refused {count} invoices for {CPF}: app_secret={APP_SECRET}")


@dg.job(executor_def=dg.in_process_executor)
def emission_job() -> None:
    push_invoices(load_deals())


def _alert_run_failure(instance: dg.DagsterInstance, run: dg.DagsterRun, resources: dict[str, object]) -> None:
    failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    with dg.build_run_status_sensor_context(
        sensor_name="sync_run_failures",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure[0].event_log_entry.dagster_event,
        resources=resources,
    ) as context:
        sync_run_failures(context)


def test_a_failed_run_alerts_once_with_job_step_error_and_link(
    store: Store, webhook, slack, monkeypatch, tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        result = emission_job.execute_in_process(
            instance=instance, raise_on_error=False, tags={"dagster/partition": "acme"}
        )
        assert not result.success
        run = result.dagster_run
        resources = _resources(store, webhook, slack, app_secret=APP_SECRET)
        _alert_run_failure(instance, run, resources)

        [body] = webhook.delivered
        assert body["kind"] == "run_failed" and body["key"] == f"run_failed:{run.run_id}"
        assert body["run_url"] == f"{UI_URL}/runs/{run.run_id}"
        assert body["extra"] == {
            "job": "emission_job",
            "step": "push_invoices",
            "run_id": run.run_id,
            "cause": "credentials",
        }
        error = dict((f["label"], f["value"]) for f in body["facts"])["Error"]
        assert error.startswith("PushFailed: Omie refused 3 invoices for ***.982.247-**: app_secret=***")
        assert [b["type"] for b in slack.delivered[0]["blocks"]].count("actions") == 1
        assert slack.delivered[0]["blocks"][-2]["elements"][0]["url"] == body["run_url"]

        # The same root failure, evaluated again (a sensor restart) or retried, does not alert again.
        _alert_run_failure(instance, run, resources)
        retry = dg.execute_job(
            dg.reconstructable(emission_job),
            instance,
            reexecution_options=dg.ReexecutionOptions.from_failure(run.run_id, instance),
        )
        assert not retry.success and retry.dagster_run.root_run_id == run.run_id
        _alert_run_failure(instance, retry.dagster_run, resources)
        assert len(webhook.requests) == 1 and len(slack.requests) == 1
        _assert_no_secret_or_cpf(store, [webhook, slack], caplog.text, extra=(APP_SECRET,))


def _assert_no_secret_or_cpf(store: Store, receivers, log_text: str, extra: tuple[str, ...] = ()) -> None:
    with store.connect() as connection:
        records = alert_records(connection)
    texts = [log_text] + [json.dumps(r.requests) for r in receivers]
    texts += [f"{r.body}{r.subject}{r.last_error or ''}" for r in records]
    for text in texts:
        for receiver in receivers:
            assert receiver.token not in text
        for secret in extra:
            assert secret not in text
        assert CPF not in text and CPF_DIGITS not in text


@dg.op
def wait_for_nfse() -> None:
    raise dg.Failure(description="deal D-9: the invoice is in error: CEP inválido.\nFix: correct the address")


@dg.job(executor_def=dg.in_process_executor)
def invoice_wait_job() -> None:
    wait_for_nfse()


def test_a_failure_raised_on_purpose_is_quoted_whole_without_dagsters_class_path(
    store: Store, webhook, tmp_path
) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run = invoice_wait_job.execute_in_process(instance=instance, raise_on_error=False).dagster_run
        _alert_run_failure(instance, run, _resources(store, webhook))
    [body] = webhook.delivered
    facts = dict((f["label"], f["value"]) for f in body["facts"])
    assert facts["Error"] == "Failure: deal D-9: the invoice is in error: CEP inválido. Fix: correct the address"
    assert facts["Step"] == "wait_for_nfse" and facts["Account"] == "acme"  # no partition: the home account


def test_the_stuck_sensor_in_the_project_definitions_requests_a_valid_refresh_run(
    store: Store, webhook, instance, monkeypatch
) -> None:
    from omie_pipeline.definitions import build_definitions
    from omie_pipeline.domain.timeutil import now_utc
    from omie_pipeline.settings import load_settings

    monkeypatch.setenv("OMIE_PIPELINE_DB_URL", store.url)
    monkeypatch.setenv("OMIE_PIPELINE_ALERT_WEBHOOK_URL", webhook.url)
    monkeypatch.setenv("OMIE_PIPELINE_STUCK_AFTER_MINUTES", "30")
    for n in range(3):  # the sensor runs on the real clock here
        moment = now_utc() - timedelta(minutes=35 + n)
        place_invoice(store, f"D-{n}", "processing", changed_at=moment, submitted_at=moment)
    defs = build_definitions(load_settings())
    sensor = defs.resolve_sensor_def("stuck_invoices")
    # As the daemon does: the definitions' resources, and the instance to resolve the account partition.
    with (
        dg.partition_loading_context(dynamic_partitions_store=instance),
        dg.build_sensor_context(
            instance=instance, definitions=defs, sensor_name="stuck_invoices", resources=dict(defs.resources)
        ) as context,
    ):
        result = sensor.evaluate_tick(context)
    [request] = result.run_requests
    assert sensor.job_name == REFRESH_JOB_NAME and request.partition_key == "acme"
    assert request.tags[REFRESH_DEALS_TAG] == "D-2,D-1,D-0" and request.tags["dagster/partition"] == "acme"
    assert sorted(body["deal_id"] for body in webhook.delivered) == ["D-0", "D-1", "D-2"]


def _run_duplicate_check(instance: dg.DagsterInstance, store: Store) -> None:
    """Evaluates the invoices' duplicate check as the emission run does after issuing (here the
    invoices are placed in the store beforehand, so the asset itself does nothing)."""
    from omie_pipeline.defs.checks.invoices import nfse_invoices_one_os_and_nfse_each
    from omie_pipeline.defs.partitions import accounts

    @dg.asset(name="nfse_invoices", partitions_def=accounts)
    def placed_invoices() -> None:
        return None

    result = dg.materialize(
        [placed_invoices, nfse_invoices_one_os_and_nfse_each],
        instance=instance,
        partition_key="acme",
        resources={"store": StoreResource(db_url=store.url)},
    )
    assert result.success


def test_a_failing_invariant_check_alerts_once_per_streak(store: Store, instance, webhook) -> None:
    place_invoice(store, "D-1", "issued", changed_at=NOW - timedelta(hours=2), os_id=4711)
    place_invoice(store, "D-2", "issued", changed_at=NOW - timedelta(hours=2), os_id=4711)
    _run_duplicate_check(instance, store)
    resources = _resources(store, webhook)

    assert isinstance(_evaluate(failed_checks, instance, resources), dg.SkipReason)
    [alert] = webhook.delivered
    assert alert["kind"] == "check_failed"
    assert alert["subject"] == "[omie-pipeline] Check failed: nfse_invoices_one_os_and_nfse_each (account acme)"
    assert "D-1" in alert["summary"] and "D-2" in alert["summary"]
    assert alert["commands"] == ["omie-pipeline invoices list"]
    assert alert["run_url"].startswith(f"{UI_URL}/runs/")

    _run_duplicate_check(instance, store)  # still failing: the same streak
    _evaluate(failed_checks, instance, resources)
    assert len(webhook.delivered) == 1

    with store.begin() as connection:
        connection.execute(sa.update(invoices).where(invoices.c.deal_id == "D-2").values(omie_os_id=4712))
    _run_duplicate_check(instance, store)  # passes
    _evaluate(failed_checks, instance, resources)
    assert len(webhook.delivered) == 1

    with store.begin() as connection:
        connection.execute(sa.update(invoices).where(invoices.c.deal_id == "D-2").values(omie_os_id=4711))
    _run_duplicate_check(instance, store)  # a new streak
    _evaluate(failed_checks, instance, resources)
    assert len(webhook.delivered) == 2


def test_no_alert_while_the_invariant_checks_pass(store: Store, instance, webhook) -> None:
    place_invoice(store, "D-1", "issued", changed_at=NOW - timedelta(hours=2), os_id=4711)
    _run_duplicate_check(instance, store)

    result = _evaluate(failed_checks, instance, _resources(store, webhook))

    assert result.skip_message == "no watched check newly failing"
    assert webhook.delivered == []


def test_an_accounts_own_webhook_gets_its_alerts_and_no_other_accounts(store: Store, instance, make_receiver) -> None:
    from omie_pipeline.defs.resources import AccountAlertChannels

    shared, acme_own, beta_own = make_receiver("hooks"), make_receiver("hooks"), make_receiver("hooks")
    _stuck(store, "A-1", 45, account="acme")
    _stuck(store, "B-1", 45, account="beta")
    resources = _resources(
        store,
        shared,
        account_channels=[
            AccountAlertChannels(account="acme", webhook_url=acme_own.url),
            AccountAlertChannels(account="beta", webhook_url=beta_own.url),
        ],
    )

    _evaluate(stuck_invoices, instance, resources)

    assert sorted(body["deal_id"] for body in shared.delivered) == ["A-1", "B-1"]
    assert [body["deal_id"] for body in acme_own.delivered] == ["A-1"]
    assert [body["deal_id"] for body in beta_own.delivered] == ["B-1"]


def test_a_failed_run_writing_a_range_of_report_days_alerts_under_its_account(store: Store, webhook, tmp_path) -> None:
    """A report run writes a range of one account's days, without a partition tag: the account and the partitions
    come from its range."""
    first, last = "beta|2026-11-25", "beta|2026-11-26"
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        run = invoice_wait_job.execute_in_process(instance=instance, raise_on_error=False, tags=tags).dagster_run
        _alert_run_failure(instance, run, _resources(store, webhook))
    [body] = webhook.delivered
    facts = dict((f["label"], f["value"]) for f in body["facts"])
    assert facts["Account"] == "beta" and facts["Partition"] == f"{first}..{last}"
