"""Pacing from several threads: Omie's limits are reached and never exceeded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from omie_pipeline.omie import OmieLimits
from support.simulated_omie import client_for


def _consult_all(client, ids, threads):
    answered: list[float] = []
    lock = threading.Lock()

    def consult(client_id):
        client.get_client(codigo_cliente_omie=client_id)
        with lock:
            answered.append(time.monotonic())

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(consult, ids))
    return started, sorted(answered)


def test_threads_share_the_method_window_and_fill_it(make_sim):
    sim = make_sim(per_method_limit=10, per_ip_limit=100, window_seconds=1.0)
    client = client_for(sim)
    ids = sorted(sim.state.clients)[:40]

    started, answered = _consult_all(client, ids, threads=8)

    stats = sim.stats()
    assert stats["calls"]["ConsultarCliente"] == 40
    assert sum(stats["rejected"].values()) == 0
    # 40 calls at 10 per window need 3 more windows after the first burst; no faster, little slower.
    elapsed = answered[-1] - started
    assert 3.0 <= elapsed <= 4.5
    # The first window is used in full: the limit is really reached.
    assert sum(1 for stamp in answered if stamp - started < 1.0) == 10
    assert client.metrics()["ConsultarCliente"]["pacing_wait_seconds"] > 0


def test_app_key_window_is_shared_by_every_method(make_sim):
    sim = make_sim(per_method_limit=10, per_ip_limit=12, window_seconds=1.0)
    client = client_for(sim)
    ids = sorted(sim.state.clients)[:10]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        consults = [pool.submit(client.get_client, codigo_cliente_omie=cid) for cid in ids]
        pages = [pool.submit(lambda size=size: list(client.list_clients(page_size=size))) for size in range(50, 60)]
        for future in consults + pages:
            future.result()
    elapsed = time.monotonic() - started

    stats = sim.stats()
    assert sum(stats["rejected"].values()) == 0
    assert stats["total_calls"] == 20  # 10 look-ups and 10 one-page listings
    assert elapsed >= 1.0  # 20 calls, 12 per window for the key: a second window was needed


def test_calls_in_flight_are_capped_per_method(make_sim):
    sim = make_sim(per_method_limit=100, per_ip_limit=100, latency=(0.05, 0.05))
    client = client_for(sim)

    _consult_all(client, sorted(sim.state.clients)[:16], threads=10)

    stats = sim.stats()
    assert stats["rejected"]["concurrency"] == 0
    assert stats["peak_concurrency"]["ConsultarCliente"] == 4  # the cap, reached and not passed


def test_serialised_method_runs_one_at_a_time(make_sim):
    sim = make_sim(
        per_method_limit=100, per_ip_limit=100, latency=(0.02, 0.02), serialised_methods=frozenset({"ConsultarCliente"})
    )
    limits = OmieLimits(window_seconds=1.0, per_method=100, per_ip=100, in_flight_overrides={"ConsultarCliente": 1})
    client = client_for(sim, limits=limits)

    _consult_all(client, sorted(sim.state.clients)[:8], threads=4)

    stats = sim.stats()
    assert stats["rejected"]["concurrency"] == 0
    assert stats["peak_concurrency"]["ConsultarCliente"] == 1


def _include_clients(client, count, threads=4):
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(
            pool.map(
                lambda n: client.include_client({"codigo_cliente_integracao": f"w-{n}", "razao_social": f"W {n}"}),
                range(count),
            )
        )


def test_alterations_stay_one_at_a_time(make_sim):
    sim = make_sim(per_method_limit=100, per_ip_limit=100, latency=(0.02, 0.02))
    client = client_for(sim)
    ids = sorted(sim.state.clients)[:6]

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda n: client.alter_client({"codigo_cliente_omie": n, "razao_social": f"A {n}"}), ids))

    assert sim.stats()["peak_concurrency"]["AlterarCliente"] == 1


def test_inclusions_go_up_to_the_in_flight_cap(make_sim):
    sim = make_sim(per_method_limit=100, per_ip_limit=100, latency=(0.05, 0.05))
    client = client_for(sim)

    _include_clients(client, 8)

    stats = sim.stats()
    assert stats["rejected"]["concurrency"] == 0
    assert stats["peak_concurrency"]["IncluirCliente"] == 4


def test_a_method_omie_serialises_goes_one_at_a_time_after_its_first_refusal(make_sim):
    """Whichever way Omie's rule for a write turns out: refused while several are out, the method
    drops to one at a time; every refused call was not applied, so each record exists once."""
    sim = make_sim(
        per_method_limit=100, per_ip_limit=100, latency=(0.05, 0.05), serialised_methods=frozenset({"IncluirCliente"})
    )
    client = client_for(sim)

    answers = _include_clients(client, 12)

    stats = sim.stats()
    assert 1 <= stats["rejected"]["concurrency"] <= 3  # the three sent beside the first, at most
    assert stats["peak_concurrency"]["IncluirCliente"] == 1
    assert len({answer.codigo_cliente_omie for answer in answers}) == 12
    with sim.state.lock:
        codes = [record.get("codigo_cliente_integracao") for record in sim.state.clients.values()]
    assert all(codes.count(f"w-{n}") == 1 for n in range(12))


def test_two_clients_of_one_key_share_the_pacing(make_sim):
    sim = make_sim(per_method_limit=5, per_ip_limit=100, window_seconds=1.0)
    first, second = client_for(sim), client_for(sim)
    ids = sorted(sim.state.clients)[:10]

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(
            pool.map(
                lambda pair: pair[0].get_client(codigo_cliente_omie=pair[1]),
                [(first if n % 2 else second, cid) for n, cid in enumerate(ids)],
            )
        )

    assert sum(sim.stats()["rejected"].values()) == 0
    assert time.monotonic() - started >= 1.0
