"""Throttling answers while registering clients: the client is registered, never parked as refused."""

from __future__ import annotations

from pathlib import Path

from omie_pipeline.sources import CsvDealSource
from omie_pipeline.store import Store
from omie_pipeline.store.deals import open_issues
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.clients import link_clients
from omie_pipeline.sync.deals import pull_deals
from support.simulated_omie import client_for

from .conftest import ACCOUNT, deal_row, sim_clients_with_document, write_csv

DOCUMENTS = {"T1": "27.836.512/0001-49", "T2": "390.533.447-05", "T3": "12.ABC.345/01DE-35"}


def test_throttling_answers_to_incluircliente_register_every_client_once(make_sim, store: Store, tmp_path: Path):
    sim = make_sim(seed=41, clients=10)
    client = client_for(sim, concurrency_waits=(0.2, 0.4))
    rows = [deal_row(deal_id, document=document) for deal_id, document in DOCUMENTS.items()]
    pull_deals(CsvDealSource(write_csv(tmp_path / "deals.csv", rows)), store, ACCOUNT, full_refresh=True)
    refresh_client_index(client, store, ACCOUNT)
    sim.set_faults(
        schedule=[
            {"kind": "burst", "method": "IncluirCliente"},
            {"kind": "wait_to_request", "method": "IncluirCliente", "seconds": 1, "delivery": "refusal"},
            {"kind": "gateway_403", "method": "IncluirCliente"},
            {"kind": "concurrency", "method": "IncluirCliente"},
        ]
    )

    linked = link_clients(client, store, ACCOUNT)

    assert linked.clients_created + linked.clients_adopted == 3 and linked.deals_with_issues == 0
    with store.connect() as connection:
        assert open_issues(connection, ACCOUNT, "client") == []
    for document in DOCUMENTS.values():
        digits = "".join(ch for ch in document if ch.isalnum())
        assert len(sim_clients_with_document(sim, digits)) == 1
