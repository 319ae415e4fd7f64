"""A column compared with a list sent as one parameter: the same rows as `IN`, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from omie_pipeline.store.deals import save_deals
from omie_pipeline.store.listed import listed_in
from omie_pipeline.store.tables import deals, omie_clients
from omie_pipeline.store.upsert import upsert

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _deal(deal_id: str) -> dict:
    return {"account": "acme", "deal_id": deal_id, "status": "won", "is_valid": True, "pulled_at": NOW}


def _client(omie_id: int) -> dict:
    return {
        "account": "acme",
        "codigo_cliente_omie": omie_id,
        "document": f"{omie_id:011d}",
        "legal_name": "x",
        "inactive": False,
        "changed_at": NOW,
        "synced_at": NOW,
    }


def test_text_values_pick_the_rows_listed_and_nothing_else(store) -> None:
    with store.begin() as connection:
        save_deals(connection, [_deal(f"D-{number}") for number in range(50)])
    wanted = ["D-3", "D-7", "D-49", "D-404", "d-3", "D-3 "]  # the last three are not stored
    with store.connect() as connection:
        found = connection.execute(sa.select(deals.c.deal_id).where(listed_in(connection, deals.c.deal_id, wanted)))
        assert sorted(found.scalars()) == ["D-3", "D-49", "D-7"]


def test_integer_values_compare_as_integers(store) -> None:
    with store.begin() as connection:
        upsert(
            connection, omie_clients, [_client(omie_id) for omie_id in (10, 20, 30)], ["account", "codigo_cliente_omie"]
        )
    with store.connect() as connection:
        query = sa.select(omie_clients.c.codigo_cliente_omie).where(
            listed_in(connection, omie_clients.c.codigo_cliente_omie, [20, 30, 40])
        )
        assert sorted(connection.execute(query).scalars()) == [20, 30]


def test_an_empty_list_matches_nothing(store) -> None:
    with store.begin() as connection:
        save_deals(connection, [_deal("D-1")])
    with store.connect() as connection:
        found = connection.execute(sa.select(deals.c.deal_id).where(listed_in(connection, deals.c.deal_id, [])))
        assert found.all() == []


def test_a_list_longer_than_the_drivers_parameter_limit_is_one_statement(store) -> None:
    """SQLite takes at most 32,766 parameters a statement; the list is one of them."""
    with store.begin() as connection:
        save_deals(connection, [_deal(f"D-{number}") for number in range(0, 80_000, 1000)])
    statements = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    wanted = [f"D-{number}" for number in range(40_000)]
    with store.connect() as connection:
        found = connection.execute(sa.select(deals.c.deal_id).where(listed_in(connection, deals.c.deal_id, wanted)))
        assert len(found.all()) == 40
    assert len([sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]) == 1
