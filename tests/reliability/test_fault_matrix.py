"""Every fault the simulator can play, on every write method (and ValidarOS), through the real
pipeline: clients registered, OS included, validated, invoiced, one note cancelled.

For each cell the fault is armed for that method only during the first pass; a second pass runs
as the next scheduled run would. Then Omie's own state (the simulator's) must show exactly once
(one client per document, one OS per deal, at most one NFS-e per OS, the cancellation applied
once), every deal must end issued, in error or as an issue with a reason, Omie must never have
blocked the app for misuse, and the logs must not carry the app secret.
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.domain.invoice_status import InvoiceStatus
from omie_pipeline.omie import errors
from omie_pipeline.runner.summary import summarise
from omie_pipeline.sources.csv_source import CsvDealSource
from omie_pipeline.store import Store
from omie_pipeline.store.invoices import get_invoice
from omie_pipeline.store.tables import invoice_events, invoices
from omie_pipeline.sync.client_index import refresh_client_index
from omie_pipeline.sync.deals import pull_deals
from omie_pipeline.sync.invoice_actions import InvoiceActionError, cancel_invoice
from support.simulated_omie import client_for

from .conftest import FAST
from .corpus import Row, base, cnpj, cpf, write_corpus
from .pipeline import emit, prepare, settle

ACCOUNT = "acme"
SECRET = "s3cr3t-VALUE-xyz"
METHODS = ["IncluirCliente", "IncluirOS", "ValidarOS", "FaturarOS", "CancelarOS"]
DOCUMENTS = [cpf("714602380"), cnpj("51234567"), cnpj("4AB9CD12")]

# Faults armed by count, restricted to one method.
COUNTED = {
    "http_500": {"http_500_next": 2},
    "html_error": {"html_error_next": 2},
    "slow_past_timeout": {"slow_next": 1, "slow_seconds": 3.3},  # the test client's read timeout is 3 s
    "lost_answer": {"lose_response_next": 1},
}
# Throttling answers of omie-api.md §15. Omie's way of delivering them is unconfirmed (a fault, the
# fault inside HTTP 200, a status "1" refusal): each kind meets each delivery across the methods.
THROTTLING = ("burst", "wait_to_request", "try_again_in", "concurrency")
DELIVERIES = ("fault", "in_200", "refusal")


def scheduled_cells() -> list[tuple[str, str]]:
    cells = []
    for m, method in enumerate(METHODS):
        for k, kind in enumerate(THROTTLING):
            cells.append((method, f"{kind}/{DELIVERIES[(m + k) % len(DELIVERIES)]}"))
        cells.append((method, "gateway_403"))
    return cells


CELLS = [(method, fault) for method in METHODS for fault in COUNTED] + scheduled_cells()
# Faults that exist for some methods only.
CELLS += [
    ("FaturarOS", "faturar_refuse"),
    ("IncluirOS", "account_blocked"),
    ("FaturarOS", "account_blocked"),
    ("IncluirCliente", "duplicate_refusal"),
    ("IncluirOS", "duplicate_refusal"),
]
# Each cell runs on one backend, alternately, so that every method and kind meets SQLite and PostgreSQL.
BACKENDS = {cell: ("sqlite", "postgresql")[index % 2] for index, cell in enumerate(sorted(CELLS))}


INJECTED_AS = {
    "http_500": "http_500",
    "html_error": "html_error",
    "slow_past_timeout": "slow",
    "lost_answer": "lose_response",
    "faturar_refuse": "faturar_refuse",
    "duplicate_refusal": "duplicate_refusal",
}


def arm(sim, method: str, fault: str) -> None:
    if fault in COUNTED:
        sim.set_faults(methods=[method], **COUNTED[fault])
    elif fault == "gateway_403":
        sim.set_faults(schedule=[{"kind": "gateway_403", "method": method}])
    elif "/" in fault:
        kind, delivery = fault.split("/")
        sim.set_faults(schedule=[{"kind": kind, "delivery": delivery, "seconds": 1, "method": method}])
    elif fault == "account_blocked":
        sim.set_faults(schedule=[{"kind": "account_blocked", "method": method}])
    elif fault == "faturar_refuse":
        sim.set_faults(faturar_refuse_next=1)
    else:
        sim.set_faults(duplicate_refusal_next=len(DOCUMENTS))


def register_behind_the_index(client) -> None:
    """The clients appear in Omie (typed in its screens) after the index was listed: registering
    them from the deals meets Omie's duplicate refusal."""
    for number, document in enumerate(DOCUMENTS):
        row = base(f"X{number}", document)
        client.include_client(
            {
                "codigo_cliente_integracao": f"TELA-{number}",
                "razao_social": row["legal_name"],
                "nome_fantasia": row["trade_name"],
                "cnpj_cpf": document,
                "email": row["email"],
                "endereco": row["street"],
                "endereco_numero": row["number"],
                "bairro": row["district"],
                "cidade": row["city"],
                "estado": row["state"],
                "cep": row["zip"],
            }
        )


def forget_the_emission(store) -> None:
    """The store loses the invoices (restored from before the emission): the next run meets Omie's
    duplicate key."""
    with store.begin() as connection:
        connection.execute(sa.delete(invoice_events).where(invoice_events.c.account == ACCOUNT))
        connection.execute(sa.delete(invoices).where(invoices.c.account == ACCOUNT))


def try_cancel(client, store, deal_id: str) -> None:
    """Ask for the cancellation; a refusal or no answer is left to the next attempt."""
    with contextlib.suppress(InvoiceActionError, errors.OmieError):
        cancel_invoice(
            client,
            store,
            ACCOUNT,
            deal_id,
            reason="Serviço cancelado pelo cliente",
            requested_by="reliability",
            interval=timedelta(0),
        )


@pytest.mark.parametrize(("method", "fault"), CELLS, ids=[f"{m}-{f}-{BACKENDS[m, f]}" for m, f in CELLS])
def test_fault_on_write_method_keeps_exactly_once(
    method: str, fault: str, make_sim, tmp_path: Path, request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sim = make_sim(**{**FAST, "app_secret": SECRET})
    rows = [Row(f"F-{n}", "valid", base(f"F-{n}", document), "invoice") for n, document in enumerate(DOCUMENTS)]
    path = write_corpus(tmp_path / "deals.csv", rows)
    store = Store(
        f"sqlite:///{tmp_path / 'store.sqlite'}"
        if BACKENDS[method, fault] == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    client = client_for(sim)
    try:
        prepare(client, sim, store, ACCOUNT)
        if method == "CancelarOS" or (method, fault) == ("IncluirOS", "duplicate_refusal"):
            emit(client, sim, store, ACCOUNT, path)
            settle(client, store, ACCOUNT)
        if method == "IncluirOS" and fault == "duplicate_refusal":
            forget_the_emission(store)
            time.sleep(sim.config.redundant_seconds)
        stale_index = method == "IncluirCliente" and fault == "duplicate_refusal"
        if stale_index:  # pulled and listed before Omie had the clients
            pull_deals(CsvDealSource(path), store, ACCOUNT)
            refresh_client_index(client, store, ACCOUNT)
            with client_for(sim) as screens:
                register_behind_the_index(screens)
        arm(sim, method, fault)
        if method == "CancelarOS":
            try_cancel(client, store, "F-0")
        else:
            emit(client, sim, store, ACCOUNT, path, refresh_index=not stale_index)

        injected = sim.stats()["faults_injected"]
        if (method, fault) == ("IncluirOS", "duplicate_refusal"):
            # A store that lost its invoices no longer meets Omie's duplicate: each new key is looked up
            # in bulk first and the OS Omie holds are adopted, so IncluirOS is never sent.
            assert injected["duplicate_refusal"] == 0 and sim.stats()["calls"].get("IncluirOS", 0) == len(DOCUMENTS)
        else:
            assert injected[INJECTED_AS.get(fault.split("/")[0], "scheduled")] >= 1, f"{fault} never reached {method}"
        sim.set_faults(clear=True)
        time.sleep(sim.config.redundant_seconds)
        emit(client, sim, store, ACCOUNT, path)  # the next scheduled run
        assert settle(client, store, ACCOUNT), "invoices still pending after the faults cleared"
        if method == "CancelarOS":
            with store.connect() as connection:
                status = get_invoice(connection, ACCOUNT, "F-0").status
            if status != InvoiceStatus.CANCELLED:
                time.sleep(sim.config.redundant_seconds)
                try_cancel(client, store, "F-0")
            settle(client, store, ACCOUNT)

        assert_exactly_once(sim, store, method)
        outcomes = sorted(outcome.outcome for outcome in summarise(store, ACCOUNT).outcomes)
        print(f"matrix {method} {fault}: {', '.join(outcomes)}")  # shown with -s
        stats = sim.stats()
        assert stats["misuse_blocks_started"] == 0 and stats["rejected"]["425"] == 0
        assert SECRET not in caplog.text
    finally:
        client.close()
        store.dispose()


def assert_exactly_once(sim, store, method: str) -> None:
    summary = summarise(store, ACCOUNT)
    outcomes = {outcome.deal_id: outcome for outcome in summary.outcomes}
    assert set(outcomes) == {f"F-{n}" for n in range(len(DOCUMENTS))}
    for outcome in outcomes.values():
        assert outcome.outcome in {"issued", "error", "issue", "cancelled"}, outcome
        assert outcome.outcome in {"issued", "cancelled"} or outcome.reason, outcome
    with sim.state.lock:
        clients = list(sim.state.clients.values())
        orders = list(sim.state.orders.values())
        nfses = list(sim.state.nfses.values())
    for document in DOCUMENTS:
        holders = [c for c in clients if normalise_document(c.get("cnpj_cpf", "")) == normalise_document(document)]
        assert len(holders) == 1, f"{document}: {len(holders)} clients in Omie"
    keys = [order.c_cod_int_os for order in orders]
    assert len(keys) == len(set(keys)), "two OS under one key"
    with store.connect() as connection:
        stored = {row.idempotency_key: row for row in connection.execute(sa.select(invoices))}
    assert set(keys) == set(stored), "an OS in Omie the store does not know, or the reverse"
    per_order: dict[int, int] = {}
    for note in nfses:
        per_order[note.n_cod_os] = per_order.get(note.n_cod_os, 0) + 1
    assert all(count == 1 for count in per_order.values()), per_order
    if method == "CancelarOS":
        assert outcomes["F-0"].outcome == "cancelled", outcomes["F-0"]
        assert sum(1 for order in orders if order.cancelada) == 1
