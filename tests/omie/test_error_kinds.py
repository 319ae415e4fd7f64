"""Each kind of failure Omie can answer arrives as its own exception, over real HTTP."""

from __future__ import annotations

import threading
import time

import pytest

from omie_pipeline.omie import OmieClient, OmieLimits, errors
from support.simulated_omie import client_for

from .conftest import APP_SECRET, billable_client, first_service_id, os_param


def test_wrong_secret_is_an_authentication_error(sim):
    client = OmieClient(sim.base_url, sim.config.app_key, "not-the-secret", max_retries=0)

    with pytest.raises(errors.AuthenticationError) as failure:
        client.get_company(1)

    assert "chave de acesso" in failure.value.faultstring
    assert "not-the-secret" not in str(failure.value)


def test_missing_field_is_a_validation_error_naming_it(sim):
    client = client_for(sim)
    param = os_param("deal-v", billable_client(sim)["codigo_cliente_omie"], first_service_id(sim))
    del param["Cabecalho"]["dDtPrevisao"]

    with pytest.raises(errors.ValidationError) as failure:
        client.include_os(param)

    assert failure.value.field == "dDtPrevisao"
    assert sim.stats()["calls"]["IncluirOS"] == 1


def test_unknown_record_is_not_found(sim):
    with pytest.raises(errors.NotFoundError):
        client_for(sim).get_os(cCodIntOS="never-sent")


def test_duplicate_os_is_already_exists_with_the_existing_id(sim):
    client = client_for(sim)
    customer, service = billable_client(sim)["codigo_cliente_omie"], first_service_id(sim)
    first = client.include_os(os_param("deal-dup", customer, service, "100.00"))

    with pytest.raises(errors.AlreadyExistsError) as failure:
        client.include_os(os_param("deal-dup", customer, service, "200.00"))

    assert failure.value.existing_id == first.nCodOS
    assert failure.value.integration_code == "deal-dup"


def test_identical_write_within_the_interval_is_outcome_unknown(sim):
    """Omie refuses the repeat as redundant: the first one reached it, so the caller must look it up."""
    client = client_for(sim)
    param = os_param("deal-twice", billable_client(sim)["codigo_cliente_omie"], first_service_id(sim))
    first = client.include_os(param)

    with pytest.raises(errors.OutcomeUnknownError) as failure:
        client.include_os(param)

    assert isinstance(failure.value.__cause__, errors.RedundantRequestError)
    assert failure.value.integration_code == "deal-twice"
    assert client.get_os(cCodIntOS="deal-twice").nCodOS == first.nCodOS


def test_repeated_read_from_elsewhere_is_redundant_with_the_wait(make_sim):
    sim = make_sim(redundant_seconds=5.0)
    # A client without its own read cache stands for another process repeating the same read.
    client = client_for(sim, redundant_seconds=0.0, max_retries=0)
    client.get_company(sim.state.company["codigo_empresa"])

    with pytest.raises(errors.RedundantRequestError) as failure:
        client.get_company(sim.state.company["codigo_empresa"])

    assert 5 <= failure.value.retry_after <= 6  # Omie's "Aguarde N segundos" plus one


def test_second_call_of_a_serialised_method_is_a_concurrency_error(make_sim):
    sim = make_sim(serialised_methods=frozenset({"ListarClientes"}))
    # The client is told (wrongly) that 4 may run at once, so Omie's own refusal shows.
    limits = OmieLimits(window_seconds=1.0, per_method=10, per_ip=40, in_flight_overrides={"ListarClientes": 4})
    client = client_for(sim, limits=limits, max_retries=0)
    sim.set_faults(slow_next=1, slow_seconds=0.6, methods=["ListarClientes"])
    slow = threading.Thread(target=lambda: list(client.list_clients(page_size=50)))
    slow.start()
    time.sleep(0.2)

    with pytest.raises(errors.ConcurrencyError):
        list(client.list_clients(page_size=49))
    slow.join()


def test_exceeding_the_window_is_rate_limited(make_sim):
    sim = make_sim(per_method_limit=3)
    client = client_for(sim, limits=OmieLimits(window_seconds=1.0, per_method=100), max_retries=0)
    ids = sorted(sim.state.clients)[:4]
    for client_id in ids[:3]:
        client.get_client(codigo_cliente_omie=client_id)

    with pytest.raises(errors.RateLimitedError) as failure:
        client.get_client(codigo_cliente_omie=ids[3])

    assert failure.value.http_status == 429


def test_block_is_reported_and_then_honoured_by_every_thread(make_sim):
    sim = make_sim(misuse_error_threshold=3, misuse_block_seconds=2.0)
    client = client_for(sim, max_retries=0, fault_streak_limit=None)
    for missing in (1, 2, 3):  # three faults in a row on one method start Omie's block
        with pytest.raises(errors.NotFoundError):
            client.get_client(codigo_cliente_omie=missing)

    with pytest.raises(errors.BlockedError) as failure:
        client.get_company(sim.state.company["codigo_empresa"])
    assert 1 <= failure.value.retry_after <= 2
    assert failure.value.blocked_until is not None

    # Every later call, from any thread, waits for the block to end instead of being refused.
    started = time.monotonic()
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda cid=cid: results.append(client.get_client(codigo_cliente_omie=cid)))
        for cid in sorted(sim.state.clients)[:3]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 3
    assert time.monotonic() - started >= 1.0
    assert sim.stats()["rejected"]["425"] == 1


def test_block_longer_than_the_client_will_wait_is_raised_without_calling(make_sim):
    sim = make_sim(misuse_error_threshold=2, misuse_block_seconds=30.0)
    client = client_for(sim, max_retries=0, fault_streak_limit=None, max_wait=1.0)
    for missing in (1, 2):
        with pytest.raises(errors.NotFoundError):
            client.get_client(codigo_cliente_omie=missing)
    with pytest.raises(errors.BlockedError):
        client.list_companies().__next__()
    calls_before = sim.stats()["total_calls"]

    with pytest.raises(errors.BlockedError) as failure:
        client.get_client(codigo_cliente_omie=sorted(sim.state.clients)[0])

    assert failure.value.retry_after > 25
    assert sim.stats()["total_calls"] == calls_before  # nothing was sent while blocked


@pytest.mark.parametrize("fault", ["http_500_next", "html_error_next"])
def test_platform_failures_are_transient(sim, fault):
    client = client_for(sim, max_retries=0)
    sim.set_faults(**{fault: 1})

    with pytest.raises(errors.TransientError) as failure:
        client.get_company(sim.state.company["codigo_empresa"])

    assert failure.value.http_status in (500, 502)


def test_lost_answer_to_a_write_is_outcome_unknown_and_not_resent(sim):
    client = client_for(sim)
    param = os_param("deal-lost", billable_client(sim)["codigo_cliente_omie"], first_service_id(sim))
    sim.set_faults(lose_response_next=1, methods=["IncluirOS"])

    with pytest.raises(errors.OutcomeUnknownError) as failure:
        client.include_os(param)

    assert failure.value.integration_code == "deal-lost"
    assert failure.value.method == "IncluirOS"
    assert sim.stats()["calls"]["IncluirOS"] == 1
    # The write did happen: the caller's look-up finds it, and only one OS exists.
    assert client.get_os(cCodIntOS="deal-lost").cCodIntOS == "deal-lost"
    assert sum(1 for order in sim.state.orders.values() if order.c_cod_int_os == "deal-lost") == 1


def test_secret_never_in_error_text(sim):
    client = client_for(sim, max_retries=0)
    sim.set_faults(http_500_next=1)
    with pytest.raises(errors.OmieError) as failure:
        client.get_company(sim.state.company["codigo_empresa"])
    rendered = f"{failure.value} {failure.value!r} {vars(failure.value)}"
    assert APP_SECRET not in rendered
