"""The client mirror against the simulated Omie over HTTP: paged full listing, incremental refresh, duplicates."""

from __future__ import annotations

import logging
import math
import time

import sqlalchemy as sa

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.store import Store
from omie_pipeline.store.clients import client_index
from omie_pipeline.store.tables import omie_clients
from omie_pipeline.sync.client_index import refresh_client_index
from support.simulated_omie import client_for

from .conftest import ACCOUNT, seeded_clients


def _mirror(store: Store) -> dict[int, object]:
    with store.connect() as connection:
        rows = connection.execute(sa.select(omie_clients).where(omie_clients.c.account == ACCOUNT)).all()
    return {row.codigo_cliente_omie: row for row in rows}


def test_first_listing_reads_every_client_in_pages_of_500(make_sim, store: Store) -> None:
    sim = make_sim(seed=11, clients=1200)
    client = client_for(sim)
    refreshed = refresh_client_index(client, store, ACCOUNT)
    assert refreshed.full and refreshed.listed == 1200 and refreshed.total == 1200
    pages = math.ceil(1200 / 500)
    assert refreshed.calls == {"ListarClientes": pages}
    assert sim.stats()["calls"] == {"ListarClientes": pages}
    mirror = _mirror(store)
    with sim.state.lock:
        for client_id, record in sim.state.clients.items():
            row = mirror[client_id]
            assert row.document == normalise_document(record["cnpj_cpf"])
            assert row.legal_name == record["razao_social"]
            assert (row.codigo_cliente_integracao or "") == record["codigo_cliente_integracao"]
            assert row.changed_at is not None and row.changed_at.tzinfo is not None


def test_later_refreshes_list_only_what_changed(make_sim, store: Store) -> None:
    sim = make_sim(seed=12, clients=700)
    client = client_for(sim)
    refresh_client_index(client, store, ACCOUNT)
    before = sim.stats()["calls"]["ListarClientes"]
    changed, untouched = seeded_clients(sim, 2)
    client.alter_client({"codigo_cliente_omie": changed["codigo_cliente_omie"], "razao_social": "Nome Novo Ltda"})
    created = client.include_client(
        {"codigo_cliente_integracao": "NEW-1", "razao_social": "Cliente Novo Ltda", "cnpj_cpf": "27.836.512/0001-49"}
    )
    refreshed = refresh_client_index(client, store, ACCOUNT)
    assert not refreshed.full and refreshed.since is not None
    # Omie filters by day: the listing holds the two changes and whatever else changed since the day before.
    assert 2 <= refreshed.listed < 700
    assert sim.stats()["calls"]["ListarClientes"] - before == 1
    mirror = _mirror(store)
    assert mirror[changed["codigo_cliente_omie"]].legal_name == "Nome Novo Ltda"
    assert mirror[created.codigo_cliente_omie].document == "27836512000149"
    assert mirror[untouched["codigo_cliente_omie"]].legal_name == untouched["razao_social"]
    assert refreshed.total == 701


def test_clients_registered_twice_under_one_document_are_reported(make_sim, store: Store) -> None:
    sim = make_sim(seed=13, clients=40)
    (original,) = seeded_clients(sim, 1)
    with sim.state.lock:
        twin = dict(
            original,
            codigo_cliente_omie=sim.state.sequences.take("client_id"),
            codigo_cliente_integracao="",
            cnpj_cpf=normalise_document(original["cnpj_cpf"]).lower(),
            info=dict(original["info"]),
        )
        sim.state.put_client(twin)
    refreshed = refresh_client_index(client_for(sim), store, ACCOUNT)
    document = normalise_document(original["cnpj_cpf"])
    assert refreshed.duplicates == {document: sorted([original["codigo_cliente_omie"], twin["codigo_cliente_omie"]])}
    shown = refreshed.duplicates_for_people()
    if len(document) == 11:  # a CPF is never shown in full
        assert document not in str(shown)
    with store.connect() as connection:
        assert len(client_index(connection, ACCOUNT)[document]) == 2


def test_a_full_refresh_drops_clients_omie_no_longer_has(make_sim, store: Store) -> None:
    sim = make_sim(seed=14, clients=30)
    client = client_for(sim)
    refresh_client_index(client, store, ACCOUNT)
    (gone,) = seeded_clients(sim, 1)
    with sim.state.lock:
        del sim.state.clients[gone["codigo_cliente_omie"]]
    incremental = refresh_client_index(client, store, ACCOUNT)
    assert incremental.removed == 0 and gone["codigo_cliente_omie"] in _mirror(store)
    time.sleep(sim.config.redundant_seconds + 0.1)  # an identical listing inside it is answered from memory
    full = refresh_client_index(client, store, ACCOUNT, full_refresh=True)
    assert full.full and full.removed == 1 and full.total == 29
    assert gone["codigo_cliente_omie"] not in _mirror(store)


def test_an_unreadable_client_record_is_skipped_named_and_kept(make_sim, store: Store, caplog) -> None:
    sim = make_sim(seed=15, clients=30)
    client = client_for(sim)
    refresh_client_index(client, store, ACCOUNT)
    broken, other = seeded_clients(sim, 2)
    with sim.state.lock:  # a change date no calendar has, as an old import left in Omie
        sim.state.clients[broken["codigo_cliente_omie"]]["info"]["dAlt"] = "31/02/2026"
    time.sleep(sim.config.redundant_seconds + 0.1)
    with caplog.at_level(logging.WARNING, logger="omie_pipeline.sync.client_index"):
        full = refresh_client_index(client, store, ACCOUNT, full_refresh=True)
    assert full.listed == 29 and full.removed == 0 and full.total == 30  # the rest read; the broken one kept
    (skipped,) = full.skipped
    assert skipped.codigo_cliente_omie == broken["codigo_cliente_omie"] and skipped.fields == ("info.dAlt",)
    (warning,) = [record.getMessage() for record in caplog.records if "skipped" in record.getMessage()]
    assert str(broken["codigo_cliente_omie"]) in warning and "info.dAlt" in warning
    mirror = _mirror(store)
    assert mirror[broken["codigo_cliente_omie"]].legal_name == broken["razao_social"]  # what the mirror knew
    assert mirror[other["codigo_cliente_omie"]].synced_at > mirror[broken["codigo_cliente_omie"]].synced_at
