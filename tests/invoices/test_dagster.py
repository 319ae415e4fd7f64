"""The invoicing assets, checks and jobs run through Dagster on a test instance."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from omie_pipeline.defs.assets.invoices import REFRESH_DEALS_TAG, nfse_invoices, nfse_status
from omie_pipeline.defs.checks.invoices import INVOICE_CHECKS
from omie_pipeline.defs.jobs import invoice_cancel_job, invoice_retry_job, invoice_wait_job
from omie_pipeline.defs.partitions import ACCOUNTS_PARTITION_NAME
from omie_pipeline.defs.resources import OmieResource, PipelineResource, StoreResource
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.store.tables import deals, invoices

from .conftest import REDUNDANT_SECONDS, Account, calls, calls_since, prepare_account, settle_prefeitura


@pytest.fixture
def instance(account: Account) -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions(ACCOUNTS_PARTITION_NAME, [account.name])
        yield test_instance


@pytest.fixture
def resources(account: Account, db_url: str) -> dict:
    config = account.sim.config
    return {
        "omie": OmieResource(
            base_url=account.sim.base_url,
            app_key=config.app_key,
            app_secret=config.app_secret,
            window_seconds=config.window_seconds,
            redundant_seconds=REDUNDANT_SECONDS,
        ),
        "store": StoreResource(db_url=db_url),
        "pipeline": PipelineResource(account=account.name),
    }


def checks_of(asset: dg.AssetsDefinition) -> list:
    keys = {key for key in asset.keys}
    return [check for check in INVOICE_CHECKS if {spec.asset_key for spec in check.check_specs} <= keys]


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def materialize(asset, account: Account, instance, resources, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [asset, *checks_of(asset)], partition_key=account.name, instance=instance, resources=resources, **kwargs
    )


def test_issue_then_refresh_through_dagster(account: Account, instance, resources) -> None:
    deal_ids = account.add_deals(3)
    (unlinked,) = account.add_deals(1, link=False)

    issued = materialize(nfse_invoices, account, instance, resources)

    assert issued.success
    metadata = issued.asset_materializations_for_node("nfse_invoices")[0].metadata
    assert metadata["outcome_submitted"].value == 3 and metadata["outcome_not_ready"].value == 1
    assert metadata["status_submitted"].value == 3
    checks = evaluations(issued)
    assert checks["nfse_invoices_one_os_and_nfse_each"].passed
    assert checks["nfse_invoices_outcomes_known"].passed
    assert not checks["nfse_invoices_deals_ready"].passed  # a warning: the run stays green
    assert unlinked in checks["nfse_invoices_deals_ready"].metadata["issues"].value

    settle_prefeitura(account.sim)
    refreshed = materialize(nfse_status, account, instance, resources)

    assert refreshed.success
    metadata = refreshed.asset_materializations_for_node("nfse_status")[0].metadata
    assert metadata["status_issued"].value == 3 and metadata["became_issued"].value == 3
    assert metadata["status_requests"].value == 0  # issued notes are settled by the listings alone
    assert all(evaluation.passed for evaluation in evaluations(refreshed).values())
    account.assert_exactly_once(deal_ids)


def test_the_asset_run_twice_at_once_issues_each_deal_once(store, make_sim, db_url: str, tmp_path) -> None:
    """Two runs of `nfse_invoices` for one account, each in its own process, on one store and one Omie
    (answers slowed down so that the two runs overlap)."""
    account = prepare_account(store, make_sim(latency=(0.03, 0.06)))
    deal_ids = account.add_deals(20)
    config = account.sim.config
    command = [
        sys.executable,
        str(Path(__file__).with_name("run_asset.py")),
        account.sim.base_url,
        config.app_key,
        config.app_secret,
        db_url,
        account.name,
        str(config.window_seconds),
        str(REDUNDANT_SECONDS),
        f"sqlite:///{tmp_path / 'pacing.sqlite'}",  # one pacing ledger for both processes, as on one machine
    ]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]

    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert all(result["success"] for result in results)
    assert sum(result["outcome_submitted"] for result in results) == 20  # each deal sent by one run only
    # Both processes pace through one ledger: together they keep within Omie's 4 in flight per method.
    # (An IncluirOS that Omie refuses as a duplicate key, then adopted, is the protocol at work: what
    # counts is Omie's state, one OS per deal, each invoiced once.)
    assert account.sim.stats()["rejected"]["concurrency"] == 0
    assert len(account.orders_by_key()) == 20 and account.invoiced_orders() == 20
    account.assert_exactly_once(deal_ids)
    account.client.close()


def test_refresh_rechecks_the_deals_named_in_the_run_tag(account: Account, instance, resources) -> None:
    deal_ids = account.add_deals(2)
    account.issue()
    settle_prefeitura(account.sim)
    materialize(nfse_status, account, instance, resources)
    time.sleep(REDUNDANT_SECONDS)
    before = calls(account.sim)

    result = materialize(nfse_status, account, instance, resources, tags={REFRESH_DEALS_TAG: deal_ids[0]})

    assert result.success
    assert calls_since(account.sim, before) == {"StatusOS": 1}


def test_duplicated_os_fails_the_check_and_the_run_still_succeeds(account: Account, instance, resources) -> None:
    first, second = account.add_deals(2)
    account.issue()
    with account.store.begin() as connection:
        os_id = connection.execute(sa.select(invoices.c.omie_os_id).where(invoices.c.deal_id == first)).scalar_one()
        connection.execute(sa.update(invoices).where(invoices.c.deal_id == second).values(omie_os_id=os_id))

    result = materialize(nfse_invoices, account, instance, resources, raise_on_error=False)

    assert result.success  # not blocking: the failed_checks sensor alerts on it
    check = evaluations(result)["nfse_invoices_one_os_and_nfse_each"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert first in check.description and second in check.description


def test_wait_job(account: Account, instance, resources) -> None:
    (deal,) = account.add_deals(1)
    account.issue()
    config = {"ops": {"wait_for_nfse": {"config": {"deal_id": deal, "timeout": 10, "account": account.name}}}}

    result = invoice_wait_job.execute_in_process(run_config=config, instance=instance, resources=resources)

    assert result.success and account.invoice(deal).status == InvoiceStatus.ISSUED


def test_wait_job_fails_with_the_fix_when_the_invoice_is_in_error(account: Account, instance, resources) -> None:
    (deal,) = account.add_deals(1)
    account.sim.set_faults(prefeitura="reject")
    account.issue()
    config = {"ops": {"wait_for_nfse": {"config": {"deal_id": deal, "timeout": 10, "account": account.name}}}}

    result = invoice_wait_job.execute_in_process(
        run_config=config, instance=instance, resources=resources, raise_on_error=False
    )

    assert not result.success
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    message = failure.step_failure_data.user_failure_data.description
    assert "in error" in message and "Fix:" in message


def test_the_emission_run_bills_again_a_refused_invoice_fixed_since_and_the_retry_job_refuses_an_unchanged_one(
    account: Account, instance, resources
) -> None:
    paulista = next(client for client in account.billable_clients if client["estado"] == "SP")
    with account.sim.state.lock:  # a CEP of Rio de Janeiro: the prefeitura refuses the address
        account.sim.state.clients[paulista["codigo_cliente_omie"]]["cep"] = "20040-020"
    (deal,) = account.add_deals(1, client={**paulista, "cep": "20040-020"})
    account.issue()
    wait = {"ops": {"wait_for_nfse": {"config": {"deal_id": deal, "timeout": 10, "account": account.name}}}}
    invoice_wait_job.execute_in_process(run_config=wait, instance=instance, resources=resources, raise_on_error=False)
    assert account.invoice(deal).status == InvoiceStatus.ERROR
    retry = {"ops": {"retry_nfse": {"config": {"deal_id": deal, "account": account.name}}}}

    unchanged = invoice_retry_job.execute_in_process(
        run_config=retry, instance=instance, resources=resources, raise_on_error=False
    )

    assert not unchanged.success
    (failure,) = [event for event in unchanged.all_events if event.is_step_failure]
    assert "nothing changed since the prefeitura refused it" in failure.step_failure_data.user_failure_data.description
    with account.store.begin() as connection:  # the client's CEP corrected in the CRM
        connection.execute(
            sa.update(deals).where(deals.c.deal_id == deal).values(updated_at=datetime.now(UTC), zip="01001000")
        )
    emitted = materialize(nfse_invoices, account, instance, resources)

    assert emitted.success
    assert emitted.asset_materializations_for_node("nfse_invoices")[0].metadata["outcome_resent"].value == 1
    assert invoice_wait_job.execute_in_process(run_config=wait, instance=instance, resources=resources).success
    assert account.invoice(deal).status == InvoiceStatus.ISSUED and account.invoice(deal).billing_attempt == 2
    account.assert_exactly_once([deal])


def test_cancel_job(account: Account, instance, resources) -> None:
    (deal,) = account.add_deals(1)
    account.issue()
    config = {"ops": {"wait_for_nfse": {"config": {"deal_id": deal, "timeout": 10, "account": account.name}}}}
    assert invoice_wait_job.execute_in_process(run_config=config, instance=instance, resources=resources).success
    cancel = {
        "ops": {
            "cancel_nfse": {
                "config": {
                    "deal_id": deal,
                    "reason": "Serviço cancelado pelo cliente",
                    "account": account.name,
                    "confirm_timeout": 5,
                }
            }
        }
    }

    result = invoice_cancel_job.execute_in_process(run_config=cancel, instance=instance, resources=resources)

    assert result.success
    invoice = account.invoice(deal)
    assert invoice.status == InvoiceStatus.CANCELLED
    assert invoice.cancel_requested_by == f"dagster run {result.run_id}"


def test_an_issued_note_without_verification_code_warns_but_never_fails_the_refresh(
    account: Account, instance, resources
) -> None:
    deal, other = account.add_deals(2)
    account.issue()
    settle_prefeitura(account.sim)
    materialize(nfse_status, account, instance, resources)
    with account.store.begin() as connection:
        connection.execute(sa.update(invoices).where(invoices.c.deal_id == deal).values(verification_code=None))
    time.sleep(REDUNDANT_SECONDS)

    result = materialize(nfse_status, account, instance, resources, raise_on_error=False)

    assert result.success  # the 5-minute refresh stays green
    check = evaluations(result)["nfse_status_issued_complete"]
    assert not check.passed and check.severity is dg.AssetCheckSeverity.WARN
    assert deal in check.description and other not in check.description
