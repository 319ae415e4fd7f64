"""Which linked deals are decided again: a document whose pending links name two clients."""

from __future__ import annotations

from datetime import UTC, datetime

from omie_pipeline.store import Store
from omie_pipeline.store.clients import conflicting_links, deals_to_link, save_links, save_omie_clients
from omie_pipeline.store.deals import save_deals
from omie_pipeline.store.tables import invoices
from omie_pipeline.store.upsert import insert_if_absent

ACCOUNT = "acme"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _deal(deal_id: str, document: str) -> dict:
    return {
        "account": ACCOUNT,
        "deal_id": deal_id,
        "status": "won",
        "updated_at": NOW,
        "document": document,
        "document_kind": "cpf",
        "legal_name": f"Client of {deal_id}",
        "is_valid": True,
        "pulled_at": NOW,
    }


def _client(omie_id: int, document: str) -> dict:
    return {
        "account": ACCOUNT,
        "codigo_cliente_omie": omie_id,
        "codigo_cliente_integracao": None,
        "document": document,
        "legal_name": "x",
        "trade_name": "x",
        "inactive": False,
        "changed_at": NOW,
        "synced_at": NOW,
    }


def _link(deal_id: str, document: str, omie_id: int) -> dict:
    return {
        "account": ACCOUNT,
        "deal_id": deal_id,
        "document": document,
        "codigo_cliente_omie": omie_id,
        "codigo_cliente_integracao": None,
        "how": "matched",
        "linked_at": NOW,
    }


def test_deals_of_a_document_linked_to_two_clients_are_looked_at_again_and_no_others(store: Store) -> None:
    deals = [
        ("A1", "111"),  # A: both deals on client 1, held by it -- settled
        ("A2", "111"),
        ("B1", "222"),  # B: linked to clients 2 and 3, both active holders -- decided again
        ("B2", "222"),
        ("C1", "333"),  # C: the deal on client 5 is invoiced, so only client 4 is pending -- settled
        ("C2", "333"),
        ("D1", "444"),  # D: client 6; and E1's old link still names D's document with client 7
        ("E1", "555"),
    ]
    with store.begin() as connection:
        save_deals(connection, [_deal(deal_id, document) for deal_id, document in deals])
        save_omie_clients(
            connection,
            [
                _client(1, "111"),
                _client(2, "222"),
                _client(3, "222"),
                _client(4, "333"),
                _client(5, "333"),
                _client(6, "444"),
                _client(7, "555"),
            ],
        )
        save_links(
            connection,
            [
                _link("A1", "111", 1),
                _link("A2", "111", 1),
                _link("B1", "222", 2),
                _link("B2", "222", 3),
                _link("C1", "333", 4),
                _link("C2", "333", 5),
                _link("D1", "444", 6),
                _link("E1", "444", 7),  # its deal's document is now 555
            ],
        )
        insert_if_absent(
            connection,
            invoices,
            {
                "account": ACCOUNT,
                "deal_id": "C2",
                "idempotency_key": "OS-C2",
                "status": "submitted",
                "gross_amount": 10,
                "net_amount": 10,
                "created_at": NOW,
                "status_changed_at": NOW,
            },
        )

    with store.connect() as connection:
        picked = {deal.deal_id: deal.previous_client for deal in deals_to_link(connection, ACCOUNT, limit=100)}
        split = conflicting_links(connection, ACCOUNT)

    assert split == {"222": [2, 3], "444": [6, 7]}
    # E1 is linked under another document than its own; D1's document has two pending clients.
    assert picked == {"B1": 2, "B2": 3, "D1": 6, "E1": None}
