"""A simulated Omie over real HTTP, with windows short enough to trip every limit in a second."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from omie_pipeline.simulator import Simulator
from support.simulated_omie import billable_clients

APP_SECRET = "sim-secret-7f3a9c"
FAST = {
    "app_secret": APP_SECRET,
    "window_seconds": 1.0,
    "redundant_seconds": 1.0,
    "per_method_limit": 10,
    "per_ip_limit": 40,
    "misuse_block_seconds": 2.0,
    "nfse_delay": (0.05, 0.1),
}


@pytest.fixture
def simulator_settings() -> dict[str, Any]:
    return FAST


def billable_client(sim: Simulator) -> dict[str, Any]:
    """A seeded client with everything Omie needs to invoice it (document, address, e-mail)."""
    clients = billable_clients(sim)
    if not clients:
        raise AssertionError("the seed holds no billable client")
    return clients[0]


def first_service_id(sim: Simulator) -> int:
    with sim.state.lock:
        for n_cod_serv, record in sorted(sim.state.services.items()):
            if record["info"]["inativo"] != "S":
                return n_cod_serv
    raise AssertionError("the seed holds no active service")


def os_param(code: str, client_id: int, service_id: int, value: str = "1500.00") -> dict[str, Any]:
    """An IncluirOS param for one catalog service."""
    return {
        "Cabecalho": {
            "cCodIntOS": code,
            "nCodCli": client_id,
            "dDtPrevisao": "01/12/2026",
            "cEtapa": "50",
            "nQtdeParc": 1,
            "cCodParc": "000",
        },
        "ServicosPrestados": [{"nCodServico": service_id, "nQtde": 1, "nValUnit": Decimal(value)}],
    }
