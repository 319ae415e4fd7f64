"""The simulated company's data: clients, service catalog, service orders, RPS and NFS-e.

Clients, services and the company are kept as dicts in Omie's own field names (what ConsultarX
returns); orders, RPS and NFS-e are dataclasses because the simulator computes their answers.
All access goes through `lock`, held by the request dispatcher for the whole of one call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from omie_pipeline.simulator import documents
from omie_pipeline.simulator.pdf_links import PdfLinks


@dataclass
class Rps:
    """One RPS sent to the prefeitura for an invoiced order, with its pre-drawn fate.

    The random parts (delays, outcome, verification code, rejection reason) are drawn when the
    order is invoiced, from a generator seeded by the simulator seed and the order id, so that a
    run is reproducible whatever the timing of the polls.
    """

    n_lote: int
    n_rps: int
    created_at: datetime
    created_mono: float
    send_after: float
    settle_after: float
    outcome_roll: float
    cod_verif: str
    protocolo: str
    rejection: tuple[tuple[str, str, str], ...]  # the ERRO lines (code, description, fix) of a rejection
    data_refusals: tuple[tuple[str, str, str], ...] = ()  # what the prefeitura refuses in the client's data
    status: str = "001"
    n_nfse: int = 0
    n_cod_nf: int = 0
    settled_at: datetime | None = None
    mensagens: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ItemTaxes:
    """Computed money of one order item (Decimal, rounded to cents)."""

    value: Decimal
    deduction: Decimal
    iss_base: Decimal
    rates: dict[str, Decimal]
    amounts: dict[str, Decimal]
    retained: dict[str, bool]

    @property
    def retained_total(self) -> Decimal:
        return sum((self.amounts[tax] for tax, kept in self.retained.items() if kept), Decimal("0.00"))


@dataclass
class OrderItem:
    fields: dict[str, Any]
    taxes: ItemTaxes


@dataclass
class ServiceOrder:
    n_cod_os: int
    c_num_os: str
    c_cod_int_os: str
    n_cod_cli: int
    cabecalho: dict[str, Any]
    informacoes_adicionais: dict[str, Any]
    email: dict[str, Any]
    observacoes: dict[str, Any]
    departamentos: list[dict[str, Any]]
    parcelas: list[dict[str, Any]]
    items: list[OrderItem]
    etapa: str
    included_at: datetime
    changed_at: datetime
    faturada: bool = False
    cancelada: bool = False
    invoiced_at: datetime | None = None
    cancelled_at: datetime | None = None
    rps: Rps | None = None  # the latest billing attempt
    earlier_rps: list[Rps] = field(default_factory=list)  # attempts the prefeitura refused, oldest first

    @property
    def rps_attempts(self) -> list[Rps]:
        """Every RPS of the order, oldest first."""
        return [*self.earlier_rps, *([self.rps] if self.rps is not None else [])]

    @property
    def refused_by_prefeitura(self) -> bool:
        """Billed, and the prefeitura refused its latest RPS: the order may be corrected and billed again."""
        return self.faturada and not self.cancelada and self.rps is not None and self.rps.status == "003"

    @property
    def total(self) -> Decimal:
        return sum((item.taxes.value for item in self.items), Decimal("0.00"))

    @property
    def retained_total(self) -> Decimal:
        return sum((item.taxes.retained_total for item in self.items), Decimal("0.00"))


@dataclass
class Nfse:
    """An NFS-e as ListarNFSEs shows it: issued "F" or cancelled "C" (a rejected RPS has none)."""

    n_cod_nf: int
    n_cod_os: int
    status: str
    number: int
    cod_verif: str
    emitted_at: datetime
    changed_at: datetime
    cancelled_at: datetime | None = None


@dataclass
class Sequences:
    """Next numbers Omie would hand out; the starting points come from the seed."""

    client_id: int
    service_id: int
    os_id: int
    os_number: int
    rps_number: int
    lote_number: int
    nfse_number: int
    nf_id: int

    def take(self, name: str) -> int:
        value = getattr(self, name)
        setattr(self, name, value + 1)
        return value


class SimState:
    """In-memory data of one simulated Omie company, with lookups by every key Omie accepts."""

    def __init__(self, company: dict[str, Any], sequences: Sequences) -> None:
        self.lock = threading.RLock()
        self.company = company
        self.sequences = sequences
        self.clients: dict[int, dict[str, Any]] = {}
        self.services: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, ServiceOrder] = {}
        self.nfses: dict[int, Nfse] = {}
        self.pending_rps: set[int] = set()
        self.pdf_links = PdfLinks()
        self._client_by_code: dict[str, int] = {}
        self._client_by_document: dict[str, int] = {}
        self._order_by_code: dict[str, int] = {}
        self._order_by_number: dict[str, int] = {}

    # clients
    def put_client(self, record: dict[str, Any]) -> None:
        """Insert or replace a client record, keeping the key indexes in step."""
        client_id = record["codigo_cliente_omie"]
        old = self.clients.get(client_id)
        if old is not None:
            self._client_by_code.pop(old.get("codigo_cliente_integracao", ""), None)
            self._client_by_document.pop(documents.normalise(old.get("cnpj_cpf", "")), None)
        self.clients[client_id] = record
        if record.get("codigo_cliente_integracao"):
            self._client_by_code[record["codigo_cliente_integracao"]] = client_id
        if record.get("cnpj_cpf"):
            self._client_by_document[documents.normalise(record["cnpj_cpf"])] = client_id

    def client_by_code(self, code: str) -> dict[str, Any] | None:
        client_id = self._client_by_code.get(code)
        return self.clients.get(client_id) if client_id is not None else None

    def client_by_document(self, document: str) -> dict[str, Any] | None:
        client_id = self._client_by_document.get(documents.normalise(document))
        return self.clients.get(client_id) if client_id is not None else None

    # services
    def service_by_code(self, code: str) -> dict[str, Any] | None:
        for record in self.services.values():
            if record["intListar"]["cCodIntServ"] == code:
                return record
        return None

    # orders
    def put_order(self, order: ServiceOrder) -> None:
        self.orders[order.n_cod_os] = order
        if order.c_cod_int_os:
            self._order_by_code[order.c_cod_int_os] = order.n_cod_os
        self._order_by_number[order.c_num_os] = order.n_cod_os

    def order_by_code(self, code: str) -> ServiceOrder | None:
        order_id = self._order_by_code.get(code)
        return self.orders.get(order_id) if order_id is not None else None

    def order_by_number(self, number: str) -> ServiceOrder | None:
        order_id = self._order_by_number.get(str(number).strip())
        return self.orders.get(order_id) if order_id is not None else None

    def nfse_of_order(self, n_cod_os: int) -> Nfse | None:
        order = self.orders.get(n_cod_os)
        if order is None or order.rps is None or not order.rps.n_cod_nf:
            return None
        return self.nfses.get(order.rps.n_cod_nf)
