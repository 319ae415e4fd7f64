"""An Omie account ready to invoice: the simulator over real HTTP, its catalog and tax rates synced
into the store by the real catalog steps, a product mapped to a service, and closed deals linked to
billable Omie clients. Windows and intervals are short so that the whole life cycle takes seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from omie_pipeline.domain.documents import normalise_document
from omie_pipeline.omie import OmieClient
from omie_pipeline.simulator import Simulator
from omie_pipeline.store import Store
from omie_pipeline.store.catalog import list_services, replace_service_map
from omie_pipeline.store.invoices import Invoice, get_invoice, list_invoices
from omie_pipeline.store.tables import client_links, deals
from omie_pipeline.sync.catalog import sync_catalog
from omie_pipeline.sync.invoice_status import RefreshSettings, refresh_statuses
from omie_pipeline.sync.invoices import InvoiceSteps, IssueSettings, IssueSummary, issue_invoices
from omie_pipeline.sync.tax_rates import sync_tax_rates
from support.simulated_omie import billable_clients, client_for, regime_of

ACCOUNT = "acme"
PRODUCT = "CONSULTING-HOURS"
SERVICE_INTEGRATION_CODE = "SRV-CONSULTORIA"  # IRRF 1.5 % and CSRF withheld: every tax path is exercised
REDUNDANT_SECONDS = 0.5
T = TypeVar("T")

FAST = {
    "window_seconds": 2.0,
    "redundant_seconds": REDUNDANT_SECONDS,
    "per_method_limit": 80,
    "per_ip_limit": 400,
    "misuse_block_seconds": 2.0,
    "nfse_delay": (0.05, 0.15),
    "clients": 12,
}


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return FAST


@dataclass
class Account:
    """One account wired to one simulator and one store, with helpers to add deals and run steps."""

    name: str
    sim: Simulator
    store: Store
    client: OmieClient
    service_code: str
    billable_clients: list[dict[str, Any]]
    deal_ids: list[str] = field(default_factory=list)

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=REDUNDANT_SECONDS)

    def settings(self, **overrides: Any) -> IssueSettings:
        values = {"redundant_interval": self.interval, "workers": 2, **overrides}
        return IssueSettings(**values)

    def steps(self, client: OmieClient | None = None, **overrides: Any) -> InvoiceSteps:
        """What a person's retry or reissue runs with: this account's client (or `client`), store and settings."""
        return InvoiceSteps(client or self.client, self.store, self.name, self.settings(**overrides))

    def add_deals(
        self,
        count: int,
        *,
        prefix: str = "D",
        amount: Decimal = Decimal("2000.00"),
        link: bool = True,
        client: dict[str, Any] | None = None,
        **columns: Any,
    ) -> list[str]:
        """Closed, valid deals for billable clients (linked unless `link` is False)."""
        now = datetime.now(UTC)
        created = []
        with self.store.begin() as connection:
            for _ in range(count):
                deal_id = f"{prefix}{len(self.deal_ids) + 1:04d}"
                chosen = client or self.billable_clients[len(self.deal_ids) % len(self.billable_clients)]
                row = {
                    "account": self.name,
                    "deal_id": deal_id,
                    "status": "won",
                    "closed_at": now,
                    "updated_at": now,
                    "amount": amount,
                    "product_code": PRODUCT,
                    "description": f"Consulting for deal {deal_id}",
                    "legal_name": chosen["razao_social"],
                    "trade_name": chosen["nome_fantasia"],
                    "document": normalise_document(chosen["cnpj_cpf"]),
                    "email": chosen["email"],
                    "street": chosen["endereco"],
                    "number": chosen["endereco_numero"],
                    "district": chosen["bairro"],
                    "city": chosen["cidade"],
                    "state": chosen["estado"],
                    "zip": chosen["cep"].replace("-", ""),
                    "is_valid": True,
                    "pulled_at": now,
                }
                row.update(columns)
                connection.execute(sa.insert(deals), row)
                if link:
                    self.link(connection, deal_id, row["document"], chosen["codigo_cliente_omie"], now)
                self.deal_ids.append(deal_id)
                created.append(deal_id)
        return created

    def link(self, connection: sa.Connection, deal_id: str, document: str, client_id: int, now: datetime) -> None:
        connection.execute(
            sa.insert(client_links),
            {
                "account": self.name,
                "deal_id": deal_id,
                "document": document,
                "codigo_cliente_omie": client_id,
                "how": "matched",
                "linked_at": now,
            },
        )

    def refresh_while(self, deal_id: str, meanwhile: Callable[[], T]) -> T:
        """Refresh the deal's status, running `meanwhile()` once after Omie answers its StatusOS and
        before the answer is stored; returns what `meanwhile` returned."""
        ask = self.client.os_status
        done: list[T] = []

        def answered_then_meanwhile(*args: Any, **kwargs: Any) -> Any:
            answer = ask(*args, **kwargs)
            if not done:
                done.append(meanwhile())
            return answer

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(self.client, "os_status", answered_then_meanwhile)
            refresh_statuses(
                self.client,
                self.store,
                self.name,
                recheck_deal_ids=[deal_id],
                settings=RefreshSettings(redundant_interval=timedelta(0)),
            )
        assert done, f"deal {deal_id}: the refresh never asked StatusOS"
        return done[0]

    def issue(self, client: OmieClient | None = None, **overrides: Any) -> IssueSummary:
        return issue_invoices(client or self.client, self.store, self.name, settings=self.settings(**overrides))

    def invoice(self, deal_id: str) -> Invoice:
        with self.store.connect() as connection:
            invoice = get_invoice(connection, self.name, deal_id)
        assert invoice is not None, f"deal {deal_id} has no invoice"
        return invoice

    def invoices(self) -> list[Invoice]:
        with self.store.connect() as connection:
            return list_invoices(connection, self.name)

    def orders_by_key(self) -> dict[str, list[int]]:
        """Omie's side: the OS ids held under each cCodIntOS."""
        with self.sim.state.lock:
            grouped: dict[str, list[int]] = {}
            for order in self.sim.state.orders.values():
                grouped.setdefault(order.c_cod_int_os, []).append(order.n_cod_os)
            return grouped

    def nfses_by_order(self) -> dict[int, int]:
        """Omie's side: how many NFS-e (any status) each OS has."""
        with self.sim.state.lock:
            counts: dict[int, int] = {}
            for nfse in self.sim.state.nfses.values():
                counts[nfse.n_cod_os] = counts.get(nfse.n_cod_os, 0) + 1
            return counts

    def invoiced_orders(self) -> int:
        with self.sim.state.lock:
            return sum(1 for order in self.sim.state.orders.values() if order.faturada)

    def assert_exactly_once(self, deal_ids: list[str]) -> None:
        """One OS per deal in Omie, invoiced once, with at most one NFS-e, and the store agrees."""
        orders = self.orders_by_key()
        nfses = self.nfses_by_order()
        for deal_id in deal_ids:
            invoice = self.invoice(deal_id)
            held = orders.get(invoice.idempotency_key, [])
            assert held == [invoice.omie_os_id], f"deal {deal_id}: Omie holds OS {held}, store {invoice.omie_os_id}"
            assert nfses.get(invoice.omie_os_id, 0) <= 1, f"deal {deal_id}: more than one NFS-e"


def prepare_account(store: Store, sim: Simulator, name: str = ACCOUNT) -> Account:
    client = client_for(sim)
    sync_catalog(client, store, name)
    sync_tax_rates(client, store, name, confirmed_regime=regime_of(sim))
    with store.begin() as connection:
        services = {service.integration_code: service for service in list_services(connection, name)}
        service_code = services[SERVICE_INTEGRATION_CODE].code
        replace_service_map(connection, name, {PRODUCT: service_code}, datetime.now(UTC))
    return Account(name, sim, store, client, service_code, billable_clients(sim))


@pytest.fixture
def account(store: Store, sim: Simulator) -> Iterator[Account]:
    prepared = prepare_account(store, sim)
    yield prepared
    prepared.client.close()


def settle_prefeitura(sim: Simulator, timeout: float = 5.0) -> None:
    """Wait until the simulated prefeitura has answered every RPS sent so far."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = sim.state  # moves due RPS along
        with state.lock:
            if not state.pending_rps:
                return
        time.sleep(0.05)
    raise AssertionError("the simulated prefeitura did not answer in time")


def calls(sim: Simulator) -> dict[str, int]:
    return dict(sim.stats()["calls"])


def calls_since(sim: Simulator, before: dict[str, int]) -> dict[str, int]:
    """Calls per method made since `before` (methods with none left out)."""
    now = calls(sim)
    return {method: count - before.get(method, 0) for method, count in now.items() if count - before.get(method, 0)}
