"""Fixtures for the catalog tests: a fast simulator, a client for it, deals and map files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from omie_pipeline.omie import OmieClient
from omie_pipeline.simulator import Simulator
from omie_pipeline.store import Store
from omie_pipeline.store.tables import deals, invoices
from support.simulated_omie import client_for

ACCOUNT = "acme"
# No redundancy interval on either side: tests list the catalog several times within a second.
FAST = {"window_seconds": 1.0, "redundant_seconds": 0.0, "clients": 5, "nfse_delay": (0.05, 0.1)}


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return FAST


@pytest.fixture
def client(sim: Simulator) -> Iterator[OmieClient]:
    opened = client_for(sim)
    yield opened
    opened.close()


def add_deals(store: Store, *rows: tuple[str, str | None, bool], account: str = ACCOUNT) -> None:
    """Closed deals as (deal_id, product_code, is_valid)."""
    now = datetime.now(UTC)
    with store.begin() as connection:
        connection.execute(
            sa.insert(deals),
            [
                {
                    "account": account,
                    "deal_id": deal_id,
                    "status": "won",
                    "product_code": product,
                    "is_valid": valid,
                    "amount": "1000.00",
                    "pulled_at": now,
                }
                for deal_id, product, valid in rows
            ],
        )


def add_invoice(store: Store, deal_id: str, status: str, account: str = ACCOUNT) -> None:
    now = datetime.now(UTC)
    with store.begin() as connection:
        connection.execute(
            sa.insert(invoices),
            {
                "account": account,
                "deal_id": deal_id,
                "idempotency_key": f"{account}-{deal_id}",
                "status": status,
                "gross_amount": "1000.00",
                "net_amount": "1000.00",
                "created_at": now,
                "status_changed_at": now,
            },
        )


def write_map(folder: Path, text: str, name: str = "service_map.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def service_record(sim: Simulator, code: str) -> dict[str, Any]:
    """The simulator's catalog record whose cCodigo is `code`."""
    with sim.state.lock:
        for record in sim.state.services.values():
            if record["cabecalho"]["cCodigo"] == code:
                return record
    raise AssertionError(f"no service {code} in the simulator")
