"""Linking deals to Omie clients against the simulated Omie over HTTP, on SQLite and PostgreSQL.

Matched, created and adopted clients; reruns, lost answers and two runs at once never make a
second client; deals that cannot be linked are listed with the fix; and the number of calls grows
with pages and new clients, not with deals.
"""

from __future__ import annotations

import math
import random
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.domain.keys import client_integration_code
from omie_pipeline.domain.timeutil import SAO_PAULO
from omie_pipeline.simulator import Simulator
from omie_pipeline.sources import CsvDealSource
from omie_pipeline.store import Store
from omie_pipeline.store.clients import conflicting_links, duplicate_documents, valid_deals_without_outcome
from omie_pipeline.store.deals import IssueRecord, open_issues, record_issues
from omie_pipeline.store.tables import client_links, deal_issues
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.clients import link_clients
from omie_pipeline.sync.deals import pull_deals
from support.simulated_omie import client_for, paced_limits

from .conftest import ACCOUNT, FAST_SIM, deal_row, seeded_clients, sim_clients_with_document, write_csv

NEW_CNPJ = "27.836.512/0001-49"
NEW_CPF = "390.533.447-05"
NEW_ALPHANUMERIC = "12.ABC.345/01DE-35"


def _pull(store: Store, tmp_path: Path, rows: list[dict], name: str = "deals.csv") -> None:
    pull_deals(CsvDealSource(write_csv(tmp_path / name, rows)), store, ACCOUNT, full_refresh=True)


def _links(store: Store) -> dict[str, object]:
    with store.connect() as connection:
        rows = connection.execute(sa.select(client_links).where(client_links.c.account == ACCOUNT)).all()
    return {row.deal_id: row for row in rows}


def _client_issues(store: Store) -> set[tuple[str, str, str]]:
    with store.connect() as connection:
        return {(row.deal_id, row.field, row.reason) for row in open_issues(connection, ACCOUNT, "client")}


def _everything_accounted_for(store: Store) -> None:
    with store.connect() as connection:
        assert valid_deals_without_outcome(connection, ACCOUNT) == []
        assert conflicting_links(connection, ACCOUNT) == {}


def _reconcile(client, store: Store):
    refresh_client_index(client, store, ACCOUNT)
    return link_clients(client, store, ACCOUNT)


def _ready_to_link(make_sim, store: Store, tmp_path: Path, seed: int, *rows: dict, clients: int = 10):
    """A simulator seeded with `clients` clients, a client for it, the deals pulled and Omie's clients indexed."""
    sim = make_sim(seed=seed, clients=clients)
    client = client_for(sim)
    _pull(store, tmp_path, list(rows))
    refresh_client_index(client, store, ACCOUNT)
    return sim, client


def test_clients_matched_or_created_once_with_every_field(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=21, clients=30)
    existing = seeded_clients(sim, 1)[0]
    existing_document = normalise_document(existing["cnpj_cpf"])
    _pull(
        store,
        tmp_path,
        [
            deal_row("M1", document=existing_document),
            deal_row("M2", document=existing["cnpj_cpf"].lower()),
            deal_row(
                "C1",
                document=NEW_CNPJ,
                legal_name="Indústria Têxtil Vale do Itajaí S.A.",
                trade_name="Têxtil Vale",
                updated_at="2026-11-20T11:00:00-03:00",
            ),  # the newest of its client's deals: its data is sent
            deal_row("C2", document="27836512000149"),
            deal_row("C3", document=" 27.836.512/0001-49 "),
            deal_row(
                "P1",
                document=NEW_CPF,
                legal_name="Mariana Costa Ribeiro",
                trade_name="",
                municipal_registration="",
                state_registration="",
                phone="(31) 98765-4321",
            ),
            deal_row("A1", document=NEW_ALPHANUMERIC.lower()),
        ],
    )
    client = client_for(sim)
    linked = _reconcile(client, store)

    assert (linked.deals, linked.documents) == (7, 4)
    assert dict(linked.linked) == {"matched": 2, "created": 5}
    assert linked.clients_created == 3 and linked.clients_adopted == 0
    assert sim.stats()["calls"] == {"ListarClientes": 1, "IncluirCliente": 3}
    links = _links(store)
    assert {links["M1"].codigo_cliente_omie, links["M2"].codigo_cliente_omie} == {existing["codigo_cliente_omie"]}
    assert links["M1"].how == "matched"

    (company,) = sim_clients_with_document(sim, "27836512000149")
    assert {links[d].codigo_cliente_omie for d in ("C1", "C2", "C3")} == {company["codigo_cliente_omie"]}
    assert company["codigo_cliente_integracao"] == client_integration_code(ACCOUNT, "27836512000149")
    assert links["C1"].codigo_cliente_integracao == company["codigo_cliente_integracao"]
    assert (company["razao_social"], company["nome_fantasia"]) == (
        "Indústria Têxtil Vale do Itajaí S.A.",
        "Têxtil Vale",
    )
    assert company["cnpj_cpf"] == NEW_CNPJ and company["pessoa_fisica"] == "N"
    assert (company["endereco"], company["endereco_numero"], company["complemento"], company["bairro"]) == (
        "Avenida Paulista",
        "1578",
        "Conjunto 42",
        "Bela Vista",
    )
    assert (company["cidade"], company["estado"], company["cep"], company["cidade_ibge"]) == (
        "São Paulo",
        "SP",
        "01310-200",
        "3550308",
    )
    assert (company["email"], company["telefone1_ddd"], company["telefone1_numero"]) == (
        "financeiro@monteverde.com.br",
        "11",
        "34567890",
    )
    assert (company["inscricao_municipal"], company["inscricao_estadual"]) == ("12345678", "110042490114")

    (person,) = sim_clients_with_document(sim, "39053344705")
    assert person["pessoa_fisica"] == "S" and person["cnpj_cpf"] == NEW_CPF
    assert person["razao_social"] == "Mariana Costa Ribeiro" and person["nome_fantasia"] == "Mariana Costa Ribeiro"
    assert (person["telefone1_ddd"], person["telefone1_numero"]) == ("31", "987654321")
    (alphanumeric,) = sim_clients_with_document(sim, "12ABC34501DE35")
    assert alphanumeric["cnpj_cpf"] == NEW_ALPHANUMERIC
    _everything_accounted_for(store)

    again = _reconcile(client, store)  # a rerun: nothing to do, nothing created
    assert again.deals == 0 and again.calls == {}
    assert sim.stats()["calls"] == {"ListarClientes": 2, "IncluirCliente": 3}
    assert len(sim_clients_with_document(sim, "27836512000149")) == 1


def test_a_client_created_by_a_run_that_crashed_is_adopted_not_duplicated(
    make_sim, store: Store, tmp_path: Path
) -> None:
    sim, client = _ready_to_link(make_sim, store, tmp_path, 22, deal_row("D1", document=NEW_CNPJ))
    # The earlier run registered the client, then died before storing anything.
    earlier = client.include_client(
        {
            "codigo_cliente_integracao": client_integration_code(ACCOUNT, NEW_CNPJ),
            "razao_social": "Construtora Monte Verde Ltda",
            "cnpj_cpf": NEW_CNPJ,
        }
    )
    linked = link_clients(client, store, ACCOUNT)
    assert dict(linked.linked) == {"adopted": 1} and linked.clients_adopted == 1
    assert _links(store)["D1"].codigo_cliente_omie == earlier.codigo_cliente_omie
    assert len(sim_clients_with_document(sim, "27836512000149")) == 1
    _everything_accounted_for(store)


def test_a_client_registered_by_hand_meanwhile_is_adopted_under_its_own_code(
    make_sim, store: Store, tmp_path: Path
) -> None:
    sim, client = _ready_to_link(
        make_sim, store, tmp_path, 23, deal_row("D1", document=NEW_CPF), deal_row("D2", document="39053344705")
    )
    by_hand = client.include_client(
        {"codigo_cliente_integracao": "BALCAO-77", "razao_social": "Mariana C. Ribeiro", "cnpj_cpf": "39053344705"}
    )
    linked = link_clients(client, store, ACCOUNT)
    assert dict(linked.linked) == {"adopted": 2}
    links = _links(store)
    assert {link.codigo_cliente_omie for link in links.values()} == {by_hand.codigo_cliente_omie}
    assert links["D1"].codigo_cliente_integracao == "BALCAO-77"
    assert len(sim_clients_with_document(sim, "39053344705")) == 1


def test_a_lost_answer_is_looked_up_before_anything_is_sent_again(make_sim, store: Store, tmp_path: Path) -> None:
    sim, client = _ready_to_link(make_sim, store, tmp_path, 24, deal_row("LOST", document=NEW_CNPJ))
    sim.set_faults(lose_response_next=1, methods=["IncluirCliente"])
    linked = link_clients(client, store, ACCOUNT)
    # The registration was applied but its answer lost: found by integration code and adopted.
    assert dict(linked.linked) == {"adopted": 1}
    assert linked.calls == {"IncluirCliente": 1, "ConsultarCliente": 1}
    (registered,) = sim_clients_with_document(sim, "27836512000149")
    assert _links(store)["LOST"].codigo_cliente_omie == registered["codigo_cliente_omie"]


def test_a_failure_before_omie_acted_is_checked_then_sent_once_more(make_sim, store: Store, tmp_path: Path) -> None:
    sim, client = _ready_to_link(make_sim, store, tmp_path, 25, deal_row("D1", document=NEW_CNPJ))
    sim.set_faults(http_500_next=1, methods=["IncluirCliente"])
    linked = link_clients(client, store, ACCOUNT)
    assert dict(linked.linked) == {"created": 1}
    assert sim.stats()["calls"]["IncluirCliente"] == 2 and sim.stats()["calls"]["ConsultarCliente"] == 1
    assert len(sim_clients_with_document(sim, "27836512000149")) == 1


def test_omie_down_for_one_client_is_listed_and_the_others_go_on(make_sim, store: Store, tmp_path: Path) -> None:
    sim, client = _ready_to_link(
        make_sim, store, tmp_path, 26, deal_row("DOWN", document=NEW_CNPJ), deal_row("OK", document=NEW_CPF)
    )
    sim.set_faults(http_500_next=2, methods=["IncluirCliente"])
    linked = link_clients(client, store, ACCOUNT, rng=random.Random(0))
    assert linked.linked["created"] == 1 and linked.deals_with_issues == 1
    (issue,) = _client_issues(store)
    assert issue[2] == "omie_unavailable"
    _everything_accounted_for(store)
    again = link_clients(client, store, ACCOUNT)  # the next run registers it and closes the issue
    assert dict(again.linked) == {"created": 1} and _client_issues(store) == set()
    assert len(_links(store)) == 2


def test_deals_that_cannot_be_linked_are_listed_with_the_fix(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=27, clients=10)
    client = client_for(sim)
    rows = [
        deal_row("NO-ADDRESS", document=NEW_CNPJ, street="", zip=""),
        deal_row("NO-DOCUMENT", document=""),
        deal_row(
            "LONG-NAME", document=NEW_CPF, legal_name="Associação das Empresas de Tecnologia da Informação do Nordeste"
        ),
    ]
    _pull(store, tmp_path, rows)
    linked = _reconcile(client, store)
    assert linked.linked == {} and linked.deals_with_issues == 3
    assert sim.stats()["calls"] == {"ListarClientes": 1}  # nothing incomplete was sent
    assert _client_issues(store) == {
        ("NO-ADDRESS", "street", "missing"),
        ("NO-ADDRESS", "zip", "missing"),
        ("NO-DOCUMENT", "document", "missing"),
        ("LONG-NAME", "legal_name", "too_long_for_omie"),
    }
    with store.connect() as connection:
        fixes = {row.deal_id: row.fix for row in open_issues(connection, ACCOUNT, "client")}
    assert "CRM" in fixes["NO-ADDRESS"] and "60" in fixes["LONG-NAME"]
    _everything_accounted_for(store)

    rows[0] = deal_row("NO-ADDRESS", document=NEW_CNPJ, updated_at="2026-11-21T09:00:00-03:00")
    _pull(store, tmp_path, rows)
    fixed = _reconcile(client, store)
    assert dict(fixed.linked) == {"created": 1}
    assert ("NO-ADDRESS", "street", "missing") not in _client_issues(store)
    with store.connect() as connection:
        resolved = (
            connection.execute(sa.select(deal_issues.c.resolved_at).where(deal_issues.c.deal_id == "NO-ADDRESS"))
            .scalars()
            .all()
        )
    assert len(resolved) == 2 and all(resolved)


def test_a_deal_without_document_is_told_so_in_portuguese(make_sim, store: Store, tmp_path: Path, portuguese) -> None:
    client = client_for(make_sim(seed=28, clients=3))
    _pull(store, tmp_path, [deal_row("NO-DOCUMENT", document="")])

    _reconcile(client, store)

    with store.connect() as connection:
        [issue] = open_issues(connection, ACCOUNT, "client")
    assert (issue.message, issue.fix) == (
        "o negócio não tem CPF nem CNPJ: o cliente não pode ser encontrado nem cadastrado no Omie",
        "preencha o CPF ou CNPJ do cliente no CRM; o negócio será vinculado na próxima execução",
    )


def test_a_document_registered_twice_in_omie_is_reported_not_picked(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=28, clients=10)
    client = client_for(sim)
    original = seeded_clients(sim, 1)[0]
    document = normalise_document(original["cnpj_cpf"])
    twin_id = _add_twin(sim, original, integration_code="")
    _pull(store, tmp_path, [deal_row("TWICE", document=document)])
    linked = _reconcile(client, store)
    assert linked.linked == {} and sim.stats()["calls"] == {"ListarClientes": 1}
    with store.connect() as connection:
        (issue,) = open_issues(connection, ACCOUNT, "client")
    assert issue.reason == "registered_twice"
    assert str(original["codigo_cliente_omie"]) in issue.message and str(twin_id) in issue.fix
    _everything_accounted_for(store)

    ours = _add_twin(sim, original, integration_code=client_integration_code(ACCOUNT, document))
    linked = _reconcile(client, store)
    assert dict(linked.linked) == {"matched": 1}
    assert _links(store)["TWICE"].codigo_cliente_omie == ours and _client_issues(store) == set()


def _add_twin(sim: Simulator, original: dict, integration_code: str) -> int:
    """A second Omie client with the same document, as Omie allows when its duplicate check is off."""
    now = datetime.now(SAO_PAULO)
    info = dict(
        original["info"], dInc=f"{now:%d/%m/%Y}", hInc=f"{now:%H:%M:%S}", dAlt=f"{now:%d/%m/%Y}", hAlt=f"{now:%H:%M:%S}"
    )
    with sim.state.lock:
        twin_id = sim.state.sequences.take("client_id")
        sim.state.put_client(
            dict(original, codigo_cliente_omie=twin_id, codigo_cliente_integracao=integration_code, info=info)
        )
    return twin_id


def test_a_deal_whose_document_changed_is_linked_again(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=29, clients=10)
    client = client_for(sim)
    _pull(store, tmp_path, [deal_row("D1", document=NEW_CNPJ)])
    _reconcile(client, store)
    first = _links(store)["D1"].codigo_cliente_omie
    _pull(store, tmp_path, [deal_row("D1", document=NEW_CPF, updated_at="2026-11-21T10:00:00-03:00")])
    relinked = _reconcile(client, store)
    assert dict(relinked.linked) == {"created": 1}
    link = _links(store)["D1"]
    assert link.document == "39053344705" and link.codigo_cliente_omie != first
    _everything_accounted_for(store)


def test_two_runs_at_once_create_one_client_per_document(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=30, clients=20, max_concurrent_per_method=8)
    documents = [_cnpj(index) for index in range(12)]
    rows = [deal_row(f"D{index:02d}", document=documents[index % 12]) for index in range(36)]
    _pull(store, tmp_path, rows)
    refresh_client_index(client_for(sim), store, ACCOUNT)
    results: list[object] = []
    start = threading.Barrier(2)

    def run(margin: float) -> None:
        # Each run has its own client (own pacing) and its own connection pool, as two processes would.
        own_store = Store(store.url)
        try:
            start.wait()
            client = client_for(sim, limits=paced_limits(sim, window_margin_seconds=margin))
            results.append(link_clients(client, own_store, ACCOUNT))
        except Exception as error:  # reported below with the test's assertion
            results.append(error)
        finally:
            own_store.dispose()

    threads = [threading.Thread(target=run, args=(margin,)) for margin in (0.01, 0.02)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [result for result in results if isinstance(result, Exception)], results
    for document in documents:
        assert len(sim_clients_with_document(sim, normalise_document(document))) == 1, document
    links = _links(store)
    assert len(links) == 36
    for index, row in enumerate(rows):
        (holder,) = sim_clients_with_document(sim, normalise_document(documents[index % 12]))
        assert links[row["deal_id"]].codigo_cliente_omie == holder["codigo_cliente_omie"]
    assert sum(result.clients_created for result in results) == 12
    _everything_accounted_for(store)


def _cnpj(index: int) -> str:
    from omie_pipeline.domain.documents import cnpj_check_digits

    first = f"{50_000_000 + index * 7919:08d}0001"
    return first + cnpj_check_digits(first)


def test_calls_grow_with_pages_and_new_clients_not_with_deals(make_sim, store: Store, tmp_path: Path) -> None:
    existing_count, new_documents = 1200, 20
    sim = make_sim(seed=31, clients=existing_count)
    existing = [normalise_document(record["cnpj_cpf"]) for record in seeded_clients(sim, 10)]
    fresh = [_cnpj(100 + index) for index in range(new_documents)]
    rows = [deal_row(f"E{index:03d}", document=existing[index % 10]) for index in range(30)]
    rows += [deal_row(f"N{index:03d}", document=fresh[index % new_documents]) for index in range(60)]
    _pull(store, tmp_path, rows)
    client = client_for(sim)

    linked = _reconcile(client, store)

    pages = math.ceil(existing_count / 500)
    expected = {"ListarClientes": pages, "IncluirCliente": new_documents}
    assert sim.stats()["calls"] == expected
    assert {method: counts["calls"] for method, counts in client.metrics().items()} == expected
    assert dict(linked.linked) == {"matched": 30, "created": 60}
    assert len(rows) == 90 and sum(expected.values()) == pages + new_documents == 23

    more = [
        deal_row(f"L{index:03d}", document=existing[index % 10], updated_at="2026-11-21T10:00:00-03:00")
        for index in range(40)
    ]
    _pull(store, tmp_path, rows + more)
    before = dict(sim.stats()["calls"])
    again = _reconcile(client, store)
    after = sim.stats()["calls"]
    # 40 more deals of known clients: one page of recent changes, no registration.
    assert {method: after[method] - before.get(method, 0) for method in after} == {
        "ListarClientes": 1,
        "IncluirCliente": 0,
    }
    assert dict(again.linked) == {"matched": 40}


def test_a_refused_registration_waits_for_the_crm_to_change(make_sim, store: Store, tmp_path: Path) -> None:
    _, client = _ready_to_link(
        make_sim,
        store,
        tmp_path,
        32,
        deal_row("REF", document=NEW_CNPJ, updated_at="2026-11-20T10:00:00-03:00"),
        clients=5,
    )
    with store.begin() as connection:  # what an earlier run recorded when Omie refused the registration
        record_issues(
            connection,
            ACCOUNT,
            [
                IssueRecord(
                    deal_id="REF",
                    stage="client",
                    field="document",
                    reason="omie_refused",
                    message="Omie refused to register the client",
                    fix="correct document of the client in the CRM",
                )
            ],
            datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
        )
    waiting = link_clients(client, store, ACCOUNT)
    assert waiting.awaiting_fix == 1 and waiting.calls == {} and _links(store) == {}
    assert _client_issues(store) == {("REF", "document", "omie_refused")}
    _everything_accounted_for(store)

    _pull(store, tmp_path, [deal_row("REF", document=NEW_CNPJ, updated_at="2026-11-22T09:00:00-03:00")])
    fixed = link_clients(client, store, ACCOUNT)
    assert dict(fixed.linked) == {"created": 1} and fixed.calls == {"IncluirCliente": 1}
    assert _client_issues(store) == set()


def _set_inactive(client, omie_id: int, inactive: bool) -> None:
    """Inactivate (or reactivate) a client in Omie, as finance does after merging it into another."""
    client.alter_client({"codigo_cliente_omie": omie_id, "inativo": "S" if inactive else "N"})


def _relist(client, store: Store, *, full: bool = False):
    """Refresh the mirror once the simulator's redundancy interval has passed, then link."""
    time.sleep(FAST_SIM["redundant_seconds"] + 0.1)
    refresh_client_index(client, store, ACCOUNT, full_refresh=full)
    return link_clients(client, store, ACCOUNT)


def test_an_inactive_client_is_neither_linked_nor_registered_again(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=33, clients=5)
    client = client_for(sim)
    original = seeded_clients(sim, 1)[0]
    _set_inactive(client, original["codigo_cliente_omie"], True)
    _pull(store, tmp_path, [deal_row("IN", document=original["cnpj_cpf"])])
    linked = _reconcile(client, store)
    assert linked.linked == {} and _links(store) == {}
    assert "IncluirCliente" not in sim.stats()["calls"]
    with store.connect() as connection:
        (issue,) = open_issues(connection, ACCOUNT, "client")
    assert issue.reason == "client_inactive" and "inactive in Omie" in issue.message
    assert f"reactivate client {original['codigo_cliente_omie']}" in issue.fix
    _everything_accounted_for(store)

    _set_inactive(client, original["codigo_cliente_omie"], False)
    reactivated = _relist(client, store)
    assert dict(reactivated.linked) == {"matched": 1} and _client_issues(store) == set()
    assert _links(store)["IN"].codigo_cliente_omie == original["codigo_cliente_omie"]


def test_registered_twice_clears_once_the_extra_client_is_inactivated(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=34, clients=5)
    client = client_for(sim)
    original = seeded_clients(sim, 1)[0]
    twin_id = _add_twin(sim, original, integration_code="")
    _pull(store, tmp_path, [deal_row("TWICE", document=original["cnpj_cpf"])])
    _reconcile(client, store)
    assert _client_issues(store) == {("TWICE", "document", "registered_twice")}

    _set_inactive(client, twin_id, True)
    settled = _relist(client, store)
    assert dict(settled.linked) == {"matched": 1} and _client_issues(store) == set()
    assert _links(store)["TWICE"].codigo_cliente_omie == original["codigo_cliente_omie"]
    with store.connect() as connection:
        assert duplicate_documents(connection, ACCOUNT) == {}


def test_a_link_to_a_client_merged_away_follows_the_client_kept(make_sim, store: Store, tmp_path: Path) -> None:
    sim = make_sim(seed=35, clients=5)
    client = client_for(sim)
    _pull(store, tmp_path, [deal_row("OLD", document=NEW_CNPJ)])
    _reconcile(client, store)
    merged_away = _links(store)["OLD"].codigo_cliente_omie
    (record,) = sim_clients_with_document(sim, "27836512000149")
    kept = _add_twin(sim, record, integration_code="FINANCE-7")  # the client finance keeps
    _set_inactive(client, merged_away, True)  # ... and the one merged into it
    _pull(
        store,
        tmp_path,
        [
            deal_row("OLD", document=NEW_CNPJ),
            deal_row("NEW", document=NEW_CNPJ, updated_at="2026-11-21T10:00:00-03:00"),
        ],
    )
    relinked = _relist(client, store)
    assert relinked.relinked == 1 and "IncluirCliente" not in relinked.calls
    links = _links(store)
    assert links["OLD"].codigo_cliente_omie == links["NEW"].codigo_cliente_omie == kept
    _everything_accounted_for(store)


def test_a_link_to_a_client_deleted_in_omie_is_listed_not_registered_again(
    make_sim, store: Store, tmp_path: Path
) -> None:
    sim = make_sim(seed=36, clients=5)
    client = client_for(sim)
    _pull(store, tmp_path, [deal_row("GONE", document=NEW_CNPJ)])
    _reconcile(client, store)
    deleted = _links(store)["GONE"].codigo_cliente_omie
    with sim.state.lock:
        del sim.state.clients[deleted]
    listed = _relist(client, store, full=True)  # a full listing is what sees a deletion
    assert listed.unlinked == 1 and _links(store) == {}  # not invoiced to a client Omie no longer has
    assert "IncluirCliente" not in listed.calls
    with store.connect() as connection:
        (issue,) = open_issues(connection, ACCOUNT, "client")
    assert issue.reason == "client_gone" and str(deleted) in issue.message
    _everything_accounted_for(store)

    waiting = _relist(client, store)  # listed already: nothing is sent, the issue stays open
    assert waiting.awaiting_omie == 1 and waiting.calls == {}
    assert _client_issues(store) == {("GONE", "client", "client_gone")}

    again = client.include_client(
        {"codigo_cliente_integracao": "BALCAO-9", "razao_social": "Construtora Monte Verde Ltda", "cnpj_cpf": NEW_CNPJ}
    )  # registered again by hand
    settled = _relist(client, store)
    assert dict(settled.linked) == {"matched": 1} and _client_issues(store) == set()
    assert _links(store)["GONE"].codigo_cliente_omie == again.codigo_cliente_omie


@pytest.mark.parametrize("integration_code", ["own", "by-hand"], ids=["same-code", "same-document"])
def test_a_duplicate_refused_in_http_200_in_another_wording_is_looked_up_and_adopted(
    make_sim, store: Store, tmp_path: Path, integration_code: str
) -> None:
    sim, client = _ready_to_link(make_sim, store, tmp_path, 25, deal_row("D1", document=NEW_CNPJ))
    code = client_integration_code(ACCOUNT, NEW_CNPJ) if integration_code == "own" else "BALCAO-9"
    earlier = client.include_client(
        {"codigo_cliente_integracao": code, "razao_social": "Construtora Monte Verde Ltda", "cnpj_cpf": NEW_CNPJ}
    )
    sim.set_faults(duplicate_refusal_next=1)  # "... está em uso por outro cliente." inside HTTP 200

    linked = link_clients(client, store, ACCOUNT)

    assert dict(linked.linked) == {"adopted": 1} and linked.clients_adopted == 1
    assert _links(store)["D1"].codigo_cliente_omie == earlier.codigo_cliente_omie
    assert _client_issues(store) == set()
    assert len(sim_clients_with_document(sim, "27836512000149")) == 1


def test_deals_are_linked_a_page_at_a_time_without_splitting_a_document(
    make_sim, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("omie_pipeline.sync.clients.WRITE_BATCH", 4)
    sim = make_sim(seed=33, clients=30)
    existing = [normalise_document(record["cnpj_cpf"]) for record in seeded_clients(sim, 3)]
    fresh = [_cnpj(200 + index) for index in range(3)]
    # Documents of 1 to 6 deals, one longer than a page, and documentless deals over two pages.
    counts = {existing[0]: 6, existing[1]: 1, existing[2]: 3, fresh[0]: 5, fresh[1]: 2, fresh[2]: 1}
    rows = [
        deal_row(f"D{document[-4:]}-{index}", document=document)
        for document, count in counts.items()
        for index in range(count)
    ]
    rows += [deal_row(f"NO-DOC-{index}", document="") for index in range(5)]
    client = client_for(sim)
    _pull(store, tmp_path, rows)

    linked = _reconcile(client, store)

    assert dict(linked.linked) == {"matched": 10, "created": 8}
    assert linked.documents == 6 and linked.deals == 23
    assert sim.stats()["calls"]["IncluirCliente"] == 3  # one registration per new document
    links = _links(store)
    by_document: dict[str, set[int]] = {}
    for link in links.values():
        by_document.setdefault(link.document, set()).add(link.codigo_cliente_omie)
    assert {document: len(clients) for document, clients in by_document.items()} == dict.fromkeys(counts, 1)
    assert len(links) == 18
    assert _client_issues(store) == {(f"NO-DOC-{index}", "document", "missing") for index in range(5)}
    _everything_accounted_for(store)
