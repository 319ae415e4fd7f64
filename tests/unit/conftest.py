"""The fast unit layer: sync functions and assets against `FakeOmie` (in memory) and a SQLite store.

Nothing here starts the HTTP simulator or a PostgreSQL database: a test takes milliseconds, and
a failure points at the function under test. The wire protocol is examined by the integration
layer (the tests marked `integration`, which drive the simulator over HTTP).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.taxes import Regime
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import list_services, replace_service_map
from omie_pipeline.store.invoices import Invoice, get_invoice
from omie_pipeline.store.tables import client_links, deals
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.invoices import IssueSettings, IssueSummary, issue_invoices
from omie_pipeline.sync.tax_rates import sync_tax_rates
from support.fake_omie import FakeOmie

ACCOUNT = "acme"
PRODUCT = "CONSULTING-HOURS"
SERVICE_CODE = "SRV-CONSULTORIA"
CNPJ = "11444777000161"


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    """A migrated, empty SQLite store (the unit layer's; PostgreSQL is the integration layer's)."""
    opened = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield opened
    opened.dispose()


@pytest.fixture
def fake() -> FakeOmie:
    return FakeOmie()


@dataclass
class Books:
    """One account on a fake Omie: catalog and rates synced, a product mapped, deals added on demand."""

    fake: FakeOmie
    store: Store
    client_id: int
    name: str = ACCOUNT
    deal_ids: list[str] = field(default_factory=list)

    def add_deal(
        self, deal_id: str | None = None, *, amount: Decimal = Decimal("1000.00"), link: bool = True, **columns: Any
    ) -> str:
        deal_id = deal_id or f"D{len(self.deal_ids) + 1:04d}"
        now = datetime.now(UTC)
        row = {
            "account": self.name,
            "deal_id": deal_id,
            "status": "won",
            "closed_at": now,
            "updated_at": now,
            "amount": amount,
            "product_code": PRODUCT,
            "description": f"Consulting for deal {deal_id}",
            "legal_name": "Cliente Ltda",
            "trade_name": "Cliente",
            "document": CNPJ,
            "email": "ap@cliente.com",
            "street": "Rua A",
            "number": "1",
            "district": "Centro",
            "city": "SAO PAULO",
            "state": "SP",
            "zip": "01001000",
            "is_valid": True,
            "pulled_at": now,
            **columns,
        }
        with self.store.begin() as connection:
            connection.execute(sa.insert(deals), row)
            if link:
                connection.execute(
                    sa.insert(client_links),
                    {
                        "account": self.name,
                        "deal_id": deal_id,
                        "document": row["document"],
                        "codigo_cliente_omie": self.client_id,
                        "how": "matched",
                        "linked_at": now,
                    },
                )
        self.deal_ids.append(deal_id)
        return deal_id

    def issue(self, **settings: Any) -> IssueSummary:
        values = {"redundant_interval": timedelta(0), "workers": 1, **settings}
        return issue_invoices(self.fake, self.store, self.name, settings=IssueSettings(**values))

    def invoice(self, deal_id: str) -> Invoice:
        with self.store.connect() as connection:
            found = get_invoice(connection, self.name, deal_id)
        assert found is not None, f"deal {deal_id} has no invoice"
        return found


def open_books(fake: FakeOmie, store: Store) -> Books:
    fake.add_service(
        SERVICE_CODE,
        "Consultoria em TI",
        nAliqISS="2",
        nAliqPIS="0.65",
        nAliqCOFINS="3",
        nAliqCSLL="1",
        nAliqIR="1.5",
        cRetIR="S",
    )
    client_id = fake.add_client(CNPJ, razao_social="Cliente Ltda")
    sync_catalog(fake, store, ACCOUNT)
    sync_tax_rates(fake, store, ACCOUNT, confirmed_regime=Regime.LUCRO_PRESUMIDO)
    with store.begin() as connection:
        code = {service.integration_code: service for service in list_services(connection, ACCOUNT)}[SERVICE_CODE].code
        replace_service_map(connection, ACCOUNT, {PRODUCT: code}, datetime.now(UTC))
    return Books(fake, store, client_id)


@pytest.fixture
def books(fake: FakeOmie, store: Store) -> Books:
    return open_books(fake, store)
